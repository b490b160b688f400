"""Chapter 2 (C6-C8): the task mixture, the reduction C7 and the utility ranking C8."""

import itertools

import numpy as np
import pytest

from rarescale.linear import theory
from rarescale.linear.mixture import TaskMixture
from rarescale.linear.stiefel import random_stiefel
from rarescale.validation import ConfigError


def random_mixture(seed, K=5, d_extra=3):
    """Frequencies and spectra with no ties (continuous random draws)."""
    rng = np.random.default_rng(seed)
    m = rng.integers(1, 5, size=K)
    pi = rng.dirichlet(np.ones(K))
    spectra = [np.sort(rng.uniform(0.05, 1.0, size=mk))[::-1] for mk in m]
    return TaskMixture.from_arrays(pi, spectra, d=int(m.sum()) + d_extra, seed=seed)


def test_c6_geometry():
    mix = TaskMixture.power_law(K=4, m=[2, 3, 1, 2], a=1.0, b=1.5, d=12, seed=3)
    F = mix.features
    np.testing.assert_allclose(F.T @ F, np.eye(8), atol=1e-12)  # orthonormal, blocks orthogonal
    for k in range(mix.K):
        T = mix.teacher(k)
        np.testing.assert_allclose(T.T @ T, mix.covariance(k), atol=1e-12)  # T_kᵀ T_k = C_k
        assert np.trace(mix.covariance(k)) == pytest.approx(mix.traces[k])
    # the eigenvalues of M are the utilities, padded with zeros to d
    eig = np.sort(np.linalg.eigvalsh(mix.mixture_matrix))[::-1]
    nu = np.sort(np.concatenate(theory.utilities(mix)))[::-1]
    np.testing.assert_allclose(eig[: len(nu)], nu, atol=1e-12)
    np.testing.assert_allclose(eig[len(nu):], 0, atol=1e-12)


def test_c7_monte_carlo_loss_with_optimal_decoder_matches_closed_form():
    """E_k E_x ‖T_k x − T_k U Uᵀ x‖² (tasks from π) = tr(M) − tr(Uᵀ M U), within 1%."""
    mix = TaskMixture.power_law(K=5, m=4, a=1.0, b=0.7, d=24, seed=1)
    U = random_stiefel(mix.d, 7, np.random.default_rng(2))
    total, per_task = theory.monte_carlo_loss(mix, U, samples=400000, seed=3)
    assert total == pytest.approx(theory.mixture_loss(mix, U), rel=0.01)
    np.testing.assert_allclose(per_task, theory.task_losses(mix, U), rtol=0.02)


def test_c7_optimal_encoder_spans_top_eigenspace():
    mix = random_mixture(0)
    evals, evecs = np.linalg.eigh(mix.mixture_matrix)
    top = evecs[:, np.argsort(-evals)]
    rng = np.random.default_rng(0)
    for N in range(0, sum(mix.m) + 1):
        U = theory.optimal_encoder(mix, N)
        np.testing.assert_allclose(U.T @ U, np.eye(N), atol=1e-10)
        assert theory.subspace_overlap(U, top[:, :N]) == pytest.approx(1.0, abs=1e-10)
        best = theory.mixture_loss(mix, U)
        assert best == pytest.approx(theory.predicted_total_loss(mix, N), abs=1e-12)
        if 0 < N < mix.d:  # no random encoder does better
            assert all(theory.mixture_loss(mix, random_stiefel(mix.d, N, rng)) >= best - 1e-12
                       for _ in range(20))
        np.testing.assert_allclose(theory.task_losses(mix, U),
                                   theory.predicted_task_loss(mix, N), atol=1e-10)


def brute_ranking(mix):
    items = [(mix.pi[k] * lam, k) for k in range(mix.K) for lam in mix.spectra[k]]
    return sorted(items, key=lambda t: -t[0])


@pytest.mark.parametrize("seed", range(6))
def test_c8_rules_agree_with_brute_force(seed):
    mix = random_mixture(seed, K=4 + seed % 3)
    ranking = brute_ranking(mix)
    total = len(ranking)
    learned = {}
    for N in range(total + 1):
        counts = np.bincount([k for _, k in ranking[:N]], minlength=mix.K)
        np.testing.assert_array_equal(theory.features_learned(mix, N), counts)
        learned[N] = counts
    for k in range(mix.K):
        first = min(N for N in range(total + 1) if learned[N][k] == mix.m[k])
        assert theory.learn_width(mix, k) == first
    for n in itertools.product(*[range(mk + 1) for mk in mix.m]):
        first = min(N for N in range(total + 1) if np.all(learned[N] >= n))
        assert theory.min_width(mix, np.array(n)) == first


def test_c8_rarer_tasks_need_wider_models():
    mix = TaskMixture.power_law(K=6, m=4, a=1.5, b=0.5, d=30)
    widths = [theory.learn_width(mix, k) for k in range(mix.K)]
    assert widths == sorted(widths) and widths[0] < widths[-1]


@pytest.mark.parametrize("kwargs, message", [
    (dict(d=4, pi=(0.5, 0.5), spectra=((1.0, 0.5), (1.0, 0.5, 0.2))),
     r"^TaskMixture\.d must be an int in the range \[5, inf\)\. Got 4 instead\.$"),
    (dict(d=8, pi=(0.6, 0.5), spectra=((1.0,), (1.0,))),
     r"^TaskMixture\.pi must sum to 1\. Got 1\.1 instead\.$"),
    (dict(d=8, pi=(1.2, -0.2), spectra=((1.0,), (1.0,))),
     r"^TaskMixture\.pi\[0\] must be a float in the range \[0, 1\]\. Got 1\.2 instead\.$"),
    (dict(d=8, pi=(0.5, 0.5), spectra=((1.0,), (-1.0,))),
     r"^TaskMixture\.spectra\[1\]\[0\] must be a float in the range \(0, inf\)\. Got -1\.0"),
    (dict(d=8, pi=(0.5, 0.5), spectra=((1.0,),)),
     r"^TaskMixture\.spectra must hold one spectrum per task \(K = 2\)"),
])
def test_bad_mixture_is_one_line_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TaskMixture(**kwargs)


def test_forced_counts_and_sampling():
    mix = TaskMixture.power_law(K=3, m=2, d=8)
    tasks = mix.tasks_from_counts([2, 0, 3])
    np.testing.assert_array_equal(tasks, [0, 0, 2, 2, 2])
    x, y, t = mix.sample(tasks, np.random.default_rng(0))
    for b in range(len(t)):
        np.testing.assert_allclose(y[b], mix.teachers[t[b]] @ x[b])
    with pytest.raises(ConfigError, match="counts must be 3 non-negative integers"):
        mix.tasks_from_counts([1, -1, 0])
    freq = np.bincount(mix.sample_tasks(200000, np.random.default_rng(1)), minlength=3) / 200000
    np.testing.assert_allclose(freq, mix.pi, atol=0.005)


def test_width_out_of_range():
    mix = TaskMixture.power_law(K=2, m=2, d=5)
    with pytest.raises(ConfigError, match=r"width\.N must be an int in the range \[0, 5\]"):
        theory.features_learned(mix, 6)


def test_weighted_loss_is_the_mixture_loss():
    mix = random_mixture(3)
    U = random_stiefel(mix.d, 4, np.random.default_rng(4))
    assert theory.weighted_loss(mix, theory.task_losses(mix, U)) == pytest.approx(
        theory.mixture_loss(mix, U), rel=1e-12)
    assert theory.weighted_loss(mix, np.ones(mix.K)) == pytest.approx(np.trace(mix.mixture_matrix))
    some = [0, 2]
    assert theory.weighted_loss(mix, np.ones(mix.K), some) == pytest.approx(
        sum(mix.pi[k] * mix.traces[k] for k in some))
