"""Chapter 3 (C9-C14): gradients, the common-task bound, critical width, stability, injection."""

import numpy as np
import pytest
import torch

from rarescale.linear import interference as itf
from rarescale.linear.mixture import TaskMixture
from rarescale.linear.stiefel import random_stiefel
from rarescale.linear.student import InjectionStream
from rarescale.validation import ConfigError


def random_mixture(seed, K=5, d=20):
    rng = np.random.default_rng(seed)
    m = rng.integers(1, 4, size=K)
    spectra = [np.sort(rng.uniform(0.1, 1, mk))[::-1] for mk in m]
    return TaskMixture.from_arrays(rng.dirichlet(np.ones(K)), spectra, d=d, seed=seed)


@pytest.mark.parametrize("seed", range(3))
def test_c9_riemannian_gradient_is_projected_autograd(seed):
    """g_k = −2 π_k (I − P) C_k U is autograd's Euclidean gradient of
    −π_k tr(Uᵀ C_k U), projected on the Stiefel tangent space: G − U sym(Uᵀ G)."""
    mix = random_mixture(seed)
    U = random_stiefel(mix.d, 4, np.random.default_rng(seed))
    for task in [None, *range(mix.K)]:
        C = mix.mixture_matrix if task is None else mix.pi[task] * mix.covariances[task]
        Ut = torch.tensor(U, requires_grad=True)
        (-torch.trace(Ut.T @ torch.tensor(C) @ Ut)).backward()
        G = Ut.grad.numpy()
        sym = (U.T @ G + G.T @ U) / 2
        np.testing.assert_allclose(itf.riemannian_gradient(mix, U, task), G - U @ sym, atol=1e-12)
    per_task = sum(itf.riemannian_gradient(mix, U, k) for k in range(mix.K))
    np.testing.assert_allclose(per_task, itf.riemannian_gradient(mix, U), atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_c10_bound_holds_on_random_encoders_and_mixtures(seed):
    mix = random_mixture(seed)
    rng = np.random.default_rng(100 + seed)
    common = itf.common_tasks(mix, mass=rng.uniform(0.3, 0.95))
    for n in (1, 3, 7, 12):
        U = random_stiefel(mix.d, n, rng)
        norm = np.linalg.norm(itf.common_gradient(mix, U, common))
        assert norm <= itf.common_gradient_bound(mix, U, common) * (1 + 1e-12)
        M_S = itf.common_matrix(mix, common)  # the residual, two ways
        assert itf.common_residual(mix, U, common) == pytest.approx(
            np.trace(M_S) - np.trace(U.T @ M_S @ U), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("theta", [0.05, 0.1, 0.3])
def test_c10_bound_is_tight_for_one_direction(theta):
    """One common direction f, one column u at angle θ from it: ‖g‖ / bound = cos θ."""
    mix = TaskMixture.from_arrays([0.9, 0.1], [[1.0], [0.5]], d=6, seed=1)
    f = mix.feature_block(0)[:, 0]
    e = np.linalg.qr(np.column_stack([f, np.random.default_rng(0).standard_normal(6)]))[0][:, 1]
    u = (np.cos(theta) * f + np.sin(theta) * e)[:, None]
    ratio = np.linalg.norm(itf.common_gradient(mix, u, [0])) / itf.common_gradient_bound(mix, u, [0])
    assert ratio == pytest.approx(np.cos(theta), rel=1e-9)
    assert ratio >= 0.95  # within a factor 1.05 for θ <= 0.3


@pytest.mark.parametrize("seed", range(8))
def test_c11_critical_width_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    mu = np.sort(rng.uniform(0, 1, rng.integers(1, 15)))[::-1]
    for eps in [0.0, *rng.uniform(0, mu.sum(), 5), mu.sum() + 1]:
        brute = min(n for n in range(len(mu) + 1) if mu[n:].sum() <= eps + 1e-15)
        assert itf.critical_width(mu, eps) == brute
        assert itf.best_common_residual(mu, brute) <= eps + 1e-15


def test_common_tasks_are_the_fewest_most_frequent():
    mix = TaskMixture.from_arrays([0.05, 0.6, 0.3, 0.05], [[1.0]] * 4, d=4)
    np.testing.assert_array_equal(itf.common_tasks(mix, 0.9), [1, 2])
    np.testing.assert_array_equal(itf.common_tasks(mix, 0.95), [0, 1, 2])
    with pytest.raises(ConfigError, match=r"common_tasks\.mass must be a float in the range \[0, 1\)"):
        itf.common_tasks(mix, 1.0)


@pytest.mark.parametrize("nu_r", [0.02, 0.05, 0.3])
@pytest.mark.parametrize("theta", [0.2, 0.7, 1.3])
def test_c12_rotating_weakest_column_changes_loss_by_sin2_margin(nu_r, theta):
    """U spans the top-N eigenspace of M_S; turning its weakest column toward the rare
    direction v by θ changes the mixture loss by sin²θ (μ_N − ν_r)."""
    common = TaskMixture.from_arrays([0.5, 0.3, 0.2], [[1.0, 0.4], [0.8, 0.3], [0.5]], d=9, seed=2)
    N = 3
    mu = itf.common_eigenvalues(common, [0, 1, 2])
    F = common.features
    v = np.linalg.qr(np.column_stack([F, np.random.default_rng(3).standard_normal(9)]))[0][:, -1]
    M = common.mixture_matrix + nu_r * np.outer(v, v)  # the rare rank-one task, orthogonal
    evals, evecs = np.linalg.eigh(common.mixture_matrix)
    U = evecs[:, np.argsort(-evals)[:N]]  # top-N of M_S; its last column is the weakest
    loss = lambda U: np.trace(M) - np.trace(U.T @ M @ U)  # noqa: E731
    V = U.copy()
    V[:, -1] = np.cos(theta) * U[:, -1] + np.sin(theta) * v
    expected = np.sin(theta) ** 2 * itf.stability_margin(mu, N, nu_r)
    assert loss(V) - loss(U) == pytest.approx(expected, abs=1e-12)
    assert (expected > 0) == (itf.rare_learn_width(mu, nu_r) > N)


def test_c12_rare_learn_width():
    mu = np.array([0.5, 0.3, 0.2, 0.1])
    assert itf.rare_learn_width(mu, 0.25) == 3
    assert itf.rare_learn_width(mu, 0.6) == 1
    assert itf.rare_learn_width(mu, 0.05) == 5
    assert itf.stability_margin(mu, 5, 0.05) == pytest.approx(-0.05)


def test_c13_random_baseline_of_signal_captured():
    """E[S] = N/d for uniform U: the normalised signal averages 0 within Monte Carlo error."""
    mix = TaskMixture.power_law(K=3, m=4, d=40, seed=4)
    rng = np.random.default_rng(5)
    for n in (2, 10, 30):
        U = random_stiefel(40, n, rng, size=3000)
        for k in range(3):
            raw = itf.signal_captured(U, mix.covariance(k), normalized=False)
            assert abs(raw.mean() - n / 40) <= 4 * raw.std() / np.sqrt(len(raw))
            normalised = itf.signal_captured(U, mix.covariance(k))
            assert abs(normalised.mean()) <= 4 * normalised.std() / np.sqrt(len(normalised))
    assert itf.signal_captured(mix.feature_block(0), mix.covariance(0)) == pytest.approx(1.0)


@pytest.mark.parametrize("delta", [1, 3, 16])
def test_c14_injection_realises_pi_r_exactly_over_whole_periods(delta):
    mix = TaskMixture.from_arrays([0.75, 0.1875, 0.0625], [[1.0], [1.0], [1.0]], d=3)
    stream = InjectionStream(mix, batch=256, seed=0, rare=2, delta=delta)
    counts = np.zeros(3, dtype=int)
    for step in range(5 * delta):
        tasks = stream.tasks(step)
        assert (2 in tasks) == stream.is_injection(step)  # rare samples only at injections
        counts += np.bincount(tasks, minlength=3)
    assert counts[2] / counts.sum() == 0.0625  # exactly pi_r
    assert counts[2] == 5 * delta * 16


def test_c14_injection_frequency_with_fractional_counts():
    mix = TaskMixture.power_law(K=5, m=1, a=1.3, d=5)
    stream = InjectionStream(mix, batch=100, seed=1, rare=4, delta=7)
    counts = np.zeros(5)
    for step in range(700):
        counts += np.bincount(stream.tasks(step), minlength=5)
    assert abs(counts[4] - 700 * 100 * mix.pi[4]) <= 1  # within one sample of pi_r
    assert abs(counts.sum() - 700 * 100) <= 2


def test_c14_forgetting_curve_and_fit():
    mu, gain, s0 = 0.02, 3.0, 0.8
    x = np.linspace(0, 20, 50)
    s = itf.forgetting_curve(s0, mu, x, gain)
    assert s[0] == pytest.approx(s0) and np.all(np.diff(s) < 0)
    # log-odds fall linearly at 4 gain mu
    np.testing.assert_allclose(np.diff(itf.logit(s)) / np.diff(x), -4 * gain * mu, rtol=1e-9)
    segments = [(x, s), (x[:20], itf.forgetting_curve(0.5, mu, x[:20], gain))]
    assert itf.fit_forgetting_gain(segments, mu) == pytest.approx(gain, rel=1e-9)


def test_c14_competing_utility_vanishes_when_everything_fits():
    mix = TaskMixture.power_law(K=3, m=2, a=1.0, b=1.0, d=10)
    others = sorted([mix.pi[k] * l for k in (0, 2) for l in mix.spectra[k]], reverse=True)
    assert [itf.competing_utility(mix, 1, n) for n in range(1, 6)] == pytest.approx(others + [0.0])


def test_c13_rare_crossings_and_their_order():
    from rarescale.book import experiments

    widths = [2, 4, 6, 8]
    signal = np.zeros((4, 2, 3))  # (widths, seeds, K); tasks 1 and 2 are rare
    signal[2:, :, 1] = 0.9   # task 1 from width 6
    signal[1:, :, 2] = 0.9   # task 2 from width 4
    signal[1, 0, 1] = 0.9    # one seed early at width 4: not every seed, so not from 4
    out = experiments.rare_crossings(widths, signal, [1, 2], predicted=[7, 3])
    assert out["measured"] == [6, 4] and out["in_order"]
    assert not experiments.rare_crossings(widths, signal, [1, 2], predicted=[3, 7])["in_order"]
    signal[:, :, 2] = 0.1  # never crosses
    assert experiments.rare_crossings(widths, signal, [1, 2], [7, 3]) == {
        "measured": [6, None], "predicted": [7, 3], "in_order": False}


def test_c14_falls_at_every_gap():
    from rarescale.book import experiments

    final = np.array([[[0.9, 0.8], [0.5, 0.6], [0.2, 0.2]],    # falls: 0.85, 0.55, 0.2
                      [[0.9, 0.9], [0.95, 0.95], [0.5, 0.5]]])  # rises at the second gap
    assert experiments.falls_at_every_gap(final).tolist() == [True, False]


def test_c14_the_first_injection_leaves_the_encoder_exactly_where_it_was():
    """Figure 4b's first injection: the rare task's decoder is still zero, and a task reaches the
    encoder only through its decoder, so the first injection moves no encoder entry at all; the
    second, with the decoder it taught, does."""
    from rarescale.linear.injection import injection_moves
    from rarescale.linear.mixture import TaskMixture
    from rarescale.linear.student import StudentConfig

    mixture = TaskMixture.power_law(K=4, m=3, a=1.5, b=0.8, d=16, seed=1)
    config = StudentConfig(widths=(4,), seeds=(0,), steps=100, batch=64, lr=0.01, schedule="constant")
    moves = injection_moves(mixture, config, rare=3, delta=16, widths=(3, 6), injections=(0, 1, 2))
    change = moves["encoder_change"]
    assert change.shape == (2, 3)
    assert np.all(change[:, 0] == 0.0)
    assert np.all(change[:, 1:] > 1e-4)
