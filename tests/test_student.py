"""The vectorised student (C6): its loss, its geometry, and equivalence with training alone."""

import numpy as np
import pytest
import torch

from rarescale.linear import theory
from rarescale.linear.mixture import TaskMixture
from rarescale.linear.student import StudentConfig, Stream, _WidthGroup, train_students, width_groups
from rarescale.validation import ConfigError

MIX = TaskMixture.power_law(K=4, m=[3, 2, 3, 2], a=1.2, b=0.8, d=14, seed=0)


def test_moment_loss_equals_per_sample_loss():
    """Σ_k tr(R_k Σ̂_k R_kᵀ) is the plain sum over samples of ‖T_k x − D_k Uᵀ x‖² / B."""
    dtype = torch.float64
    streams = [Stream(MIX, 64, 0), Stream(MIX, 64, 1)]
    group = _WidthGroup(np.array([2, 5]), streams, MIX, dtype)
    with torch.no_grad():
        group.dec.normal_()
        group.dec[..., 2:] *= group.col_mask[:, 0, 2:, None].transpose(1, 2)[:, None]  # keep masks
    rng = np.random.default_rng(3)
    moments = np.zeros((2, MIX.K, MIX.d, MIX.d))
    direct = 0.0
    U = group.encoders().detach().numpy()
    D = (group.dec.detach() * group.col_mask[:, None]).numpy()
    for s in range(2):
        x, y, tasks = MIX.sample_batch(64, rng)
        for k in range(MIX.K):
            xk = x[tasks == k]
            moments[s, k] = xk.T @ xk / 64
        for c in (s, 2 + s):  # the slices of stream s (width-major)
            pred = np.einsum("bmn,bn->bm", D[c][tasks], x @ U[c])
            direct += np.square(y - pred).sum() / 64
    teachers = torch.as_tensor(MIX.teachers)
    got = group.loss(torch.as_tensor(moments), teachers).item()
    assert got == pytest.approx(direct, rel=1e-10)


def test_encoders_stay_orthonormal_and_masked():
    out = train_students(MIX, StudentConfig(widths=(1, 4, 9), seeds=(0,), steps=50, evals=2,
                                            dtype="float64"), progress=False,
                         metrics=[lambda mix, U, widths: {"gram": np.einsum("cdi,cdj->cij", U, U)}])
    gram = out["gram"][:, -1]  # (C, N_max, N_max)
    for c, w in enumerate(out["width"]):
        expected = np.zeros((9, 9))
        expected[:w, :w] = np.eye(w)
        np.testing.assert_allclose(gram[c], expected, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-9), ("float32", 2e-4)])
def test_vectorised_equals_training_each_width_alone(dtype, tol):
    """Same seed, same steps: every slice of the sweep matches its own run (tolerance ``tol``)."""
    cfg = StudentConfig(widths=(1, 3, 5, 11), seeds=(0, 1), steps=150, lr=0.02, evals=5,
                        dtype=dtype)
    sweep = train_students(MIX, cfg, progress=False)
    for i, w in enumerate(cfg.widths):
        for j, s in enumerate(cfg.seeds):
            alone = train_students(MIX, cfg.replace(widths=(w,), seeds=(s,)), progress=False)
            c = i * len(cfg.seeds) + j
            assert sweep["width"][c] == w and sweep["stream"][c] == j
            np.testing.assert_allclose(sweep["task_loss"][c], alone["task_loss"][0], atol=tol)
            np.testing.assert_allclose(sweep["overlap"][c], alone["overlap"][0], atol=tol)


def test_training_reaches_the_predicted_losses():
    """A real learning check: after training, per-task losses match C8's optimum."""
    cfg = StudentConfig(widths=(2, 5, 10), seeds=(0,), steps=1500, lr=0.02, evals=3)
    out = train_students(MIX, cfg, progress=False)
    for c, w in enumerate(out["width"]):
        np.testing.assert_allclose(out["task_loss"][c, -1], theory.predicted_task_loss(MIX, int(w)),
                                   atol=0.03)
        assert out["overlap"][c, -1] > 0.98
    np.testing.assert_allclose(out["task_loss"][:, 0], 1.0, atol=1e-6)  # decoders start at zero


def test_task_counts_follow_pi():
    out = train_students(MIX, StudentConfig(widths=(1,), seeds=(0,), steps=400, evals=2),
                         progress=False)
    freq = out["task_counts"][0] / out["task_counts"][0].sum()
    np.testing.assert_allclose(freq, MIX.pi, atol=0.01)


def test_width_groups_bound_padding():
    widths = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 28, 32, 40, 48)
    groups = width_groups(widths)
    assert sorted(i for g in groups for i in g) == list(range(len(widths)))
    for g in groups:
        ws = [widths[i] for i in g]
        assert max(ws) <= 2 * min(ws)


def test_bad_configs():
    with pytest.raises(ConfigError, match=r"^StudentConfig\.lr must be a float in the range \(0, inf\)"):
        StudentConfig(lr=0)
    with pytest.raises(ConfigError, match=r"^StudentConfig\.schedule must be one of 'constant', 'cosine'"):
        StudentConfig(schedule="linear")
    with pytest.raises(ConfigError, match="widths must be at most d = 14"):
        train_students(MIX, StudentConfig(widths=(15,)), progress=False)


def test_measured_learn_widths():
    from rarescale.book.experiments import measured_learn_widths

    widths = [1, 2, 4, 8]
    learned = np.zeros((4, 2, 3), dtype=bool)
    learned[1:, :, 0] = True  # task 0 from width 2
    learned[3, :, 1] = True  # task 1 only at 8
    learned[2, :, 2] = True  # task 2 learned at 4 but lost at 8: not learned at the widest
    learned[3, 0, 1] = True
    learned[3, 1, 1] = True
    assert measured_learn_widths(widths, learned) == [2, 8, None]
    learned[1, 1, 0] = False  # one seed misses width 2: counts from 4
    assert measured_learn_widths(widths, learned)[0] == 4


def test_chapter2_parameters_match_the_default_sweep():
    """The benchmark and the chapter train the same sweep (defaults written once each)."""
    import ast

    from conftest import REPO
    from rarescale.book import experiments
    from runners.execute import read_notebook

    nb = read_notebook(REPO / "book" / "02_utility_ranking.py")
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(cell.source).body}
    mix, cfg = experiments.figure2_default()
    assert mix == TaskMixture.power_law(K=params["K"], m=params["m"], a=params["a"], b=params["b"],
                                        d=params["d"], seed=params["mixture_seed"])
    assert cfg == StudentConfig(widths=tuple(params["widths"]), seeds=tuple(params["seeds"]),
                                steps=params["steps"], batch=params["batch"], lr=params["lr"])


def test_sweep_steps_apart_and_relative_decay():
    from rarescale.book.experiments import relative_decay, sweep_steps_apart

    widths = [1, 2, 4, 8, 16]
    # predicted 3 -> first grid width 4 (index 2); measured 8 (index 3): one step
    assert sweep_steps_apart(widths, [3, 4, 20, 2], [8, 4, 16, None]) == [1, 0, None, None]
    final = np.array([[[1.0, 1.0], [0.5, 0.5]], [[-0.2, -0.2], [-0.1, -0.1]]])
    np.testing.assert_allclose(relative_decay(final), [0.5, -0.5])
