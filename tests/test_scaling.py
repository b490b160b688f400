"""Chapter 1 (C1-C5): the loss law, compute-optimal and asymptotic losses, Definitions 1-2."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from rarescale import scaling
from conftest import REPO
from rarescale.scaling import BESIROGLU, CHINCHILLA, LossLaw
from rarescale.validation import ConfigError

LAWS = [CHINCHILLA, BESIROGLU]


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name)
@pytest.mark.parametrize("N", [1e7, 4e8, 7e10])
def test_c2_compute_optimal_loss_equals_numeric_minimum_along_budget(law, N):
    """L*(N) is the minimum of L along 6ND = C, with C = 6 N D*(N)."""
    C = 6 * N * scaling.compute_optimal_tokens(N, law)
    along = lambda logn: scaling.loss(np.exp(logn), C / (6 * np.exp(logn)), law)  # noqa: E731
    res = minimize_scalar(along, bracket=(np.log(N) - 2, np.log(N) + 2),
                          options={"xtol": 1e-12})
    assert res.fun == pytest.approx(float(scaling.compute_optimal_loss(N, law)), rel=1e-6)
    assert np.exp(res.x) == pytest.approx(N, rel=1e-3)
    # and the frontier in C gives back the same N and D
    assert float(scaling.optimal_params(C, law)) == pytest.approx(N, rel=1e-10)
    assert float(scaling.optimal_tokens(C, law)) == pytest.approx(
        float(scaling.compute_optimal_tokens(N, law)), rel=1e-10)


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name)
def test_c5_largest_small_model_closed_form(law):
    n = np.array([1e8, 4e9, 1e12])
    expected = n * (1 + law.alpha / law.beta) ** (-1 / law.alpha)
    np.testing.assert_allclose(scaling.largest_small_model(n, 0.0, law), expected, rtol=1e-12)
    # at that size the asymptotic loss equals the large model's compute-optimal loss
    np.testing.assert_allclose(scaling.asymptotic_loss(expected, law),
                               scaling.compute_optimal_loss(n, law), rtol=1e-12)


def test_c5_chinchilla_ratio_is_0_0966():
    assert round(float(scaling.largest_small_model(1e9) / 1e9), 4) == pytest.approx(0.0965, abs=1e-4)
    assert float(scaling.largest_small_model(1e9) / 1e9) == pytest.approx(0.0966, abs=5e-4)


def test_c5_tolerance_moves_boundary_down_and_matches_definition():
    n_l, eps = 4e9, 0.05
    n_s = float(scaling.largest_small_model(n_l, eps))
    assert n_s < float(scaling.largest_small_model(n_l, 0.0))
    assert float(scaling.asymptotic_loss(n_s)) == pytest.approx(
        float(scaling.compute_optimal_loss(n_l)) + eps, rel=1e-12)


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name)
def test_c4_data_scaling_suffices_exactly_above_the_boundary(law):
    n_l = 4e9
    n_s = float(scaling.largest_small_model(n_l, 0.0, law))
    assert scaling.data_scaling_suffices(n_s * 1.001, n_l, law)
    assert not scaling.data_scaling_suffices(n_s * 0.999, n_l, law)
    assert scaling.data_scaling_suffices(n_l * 0.999, n_l, law)
    assert not scaling.data_scaling_suffices(n_l, n_l, law)  # not smaller
    np.testing.assert_array_equal(
        scaling.data_scaling_suffices(np.array([0.5, 1.5, 6.0]) * n_s, n_l, law),
        [False, True, True])


def test_c3_asymptotic_loss_strictly_decreasing_and_below_finite_data():
    N = np.logspace(6, 12, 50)
    L_inf = scaling.asymptotic_loss(N)
    assert np.all(np.diff(L_inf) < 0)
    assert np.all(scaling.loss(N, 1e12) > L_inf)
    np.testing.assert_allclose(scaling.loss(N, np.inf), L_inf)


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_published_exponents_from_60_noisy_points(law, seed):
    """60 runs with 0.5% multiplicative noise on the loss: alpha, beta within 5%."""
    N, D, L = scaling.synthetic_runs(law, 60, noise=0.005, seed=seed)
    fitted = scaling.fit_loss_law(N, D, L)
    assert fitted.alpha == pytest.approx(law.alpha, rel=0.05)
    assert fitted.beta == pytest.approx(law.beta, rel=0.05)
    assert fitted.E == pytest.approx(law.E, rel=0.05)


def test_fit_is_exact_without_noise():
    N, D, L = scaling.synthetic_runs(CHINCHILLA, 40, noise=0.0, seed=5)
    fitted = scaling.fit_loss_law(N, D, L)
    for k in ("E", "A", "B", "alpha", "beta"):
        assert getattr(fitted, k) == pytest.approx(getattr(CHINCHILLA, k), rel=2e-3), k


@pytest.mark.parametrize("field, value", [("E", -1.0), ("A", 0.0), ("alpha", float("nan")),
                                          ("beta", float("inf")), ("B", "410")])
def test_bad_fit_is_a_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"^LossLaw\.{field} must be a float in the range \(0, inf\)"):
        CHINCHILLA.replace(**{field: value})


@pytest.mark.parametrize("bad", [0, -1e9, np.nan, [1e9, 0.0]])
def test_non_positive_n_is_a_value_error(bad):
    with pytest.raises(ValueError, match="N must be positive"):
        scaling.compute_optimal_loss(bad)
    with pytest.raises(ValueError, match="N must be positive"):
        scaling.asymptotic_loss(bad)
    with pytest.raises(ValueError, match="n_large must be positive|N must be positive"):
        scaling.largest_small_model(bad)


def test_unknown_fit_name():
    with pytest.raises(ConfigError, match="fit must be one of 'chinchilla', 'besiroglu'"):
        scaling.get_fit("kaplan")
    assert scaling.get_fit("Besiroglu") is BESIROGLU


def test_integer_constants_accepted():
    assert LossLaw(E=2, A=400, B=400, alpha=1, beta=1).E == 2


def test_figure_draws_both_regimes():
    import matplotlib.pyplot as plt
    from rarescale.book.plots import fig_scaling_regimes

    fig, ax = plt.subplots()
    fig_scaling_regimes(ax, CHINCHILLA, 4e9)
    spans = [p for p in ax.patches]
    assert len(spans) == 2 and ax.get_xscale() == "log"
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)


def test_chapter1_reexecutes_with_another_fit(tmp_path):
    """The chapter's glued C5 ratio follows its `fit` parameter (papermill re-execution)."""
    from runners.execute import execute
    from test_execute import glued

    out = execute(REPO / "book" / "01_phenomenology.py", {"fit": "besiroglu", "n_large": 1e9},
                  tmp_path, progress_bar=False)
    expected = (1 + BESIROGLU.alpha / BESIROGLU.beta) ** (-1 / BESIROGLU.alpha)
    assert float(glued(out, "c5_ratio")) == pytest.approx(expected, rel=1e-12)
    assert glued(out, "c5_law_name") == "'Besiroglu'"


RUNS = REPO / "book" / "data" / "chinchilla_svg_extracted_data.csv"


def test_c1_refit_on_the_replications_240_runs_matches_its_published_constants():
    N, D, L = scaling.chinchilla_runs(RUNS)
    assert len(N) == 240 and len(scaling.chinchilla_runs(RUNS, 0)[0]) == 245
    fitted = scaling.fit_loss_law(N, D, L)
    for k in ("E", "A", "B", "alpha", "beta"):
        assert getattr(fitted, k) == pytest.approx(getattr(scaling.BESIROGLU, k), rel=0.03), k


def test_c1_a_bootstrap_refit_from_the_full_fit_finds_the_full_searchs_optimum():
    """The bootstrap's shortcut (one L-BFGS run from the full fit, tight tolerances) lands where
    the search from 30 grid points lands, so its intervals are the search's."""
    N, D, L = scaling.chinchilla_runs(RUNS)
    full = scaling.fit_loss_law(N, D, L)
    rng = np.random.default_rng(7)
    for _ in range(3):
        idx = rng.integers(0, len(N), len(N))
        logs = (np.log(N[idx]), np.log(D[idx]), np.log(L[idx]), 1e-3)
        warm = scaling.fit_loss_law(N[idx], D[idx], L[idx], n_starts=0, start=full)
        cold = scaling.fit_loss_law(N[idx], D[idx], L[idx], n_starts=30)
        f_warm = scaling._huber_objective(scaling._as_theta(warm), *logs)[0]
        f_cold = scaling._huber_objective(scaling._as_theta(cold), *logs)[0]
        assert f_warm <= f_cold * (1 + 1e-5)  # as good an optimum, to the ridge's flatness
        # along the flat ridge where A trades off with alpha, the scales move by about 1%
        for k, rel in (("E", 2e-3), ("alpha", 5e-3), ("beta", 5e-3), ("A", 0.03), ("B", 0.03)):
            assert getattr(warm, k) == pytest.approx(getattr(cold, k), rel=rel), k


def test_c5_ratio_and_tokens_per_parameter_of_a_fit():
    d = scaling.derived(scaling.CHINCHILLA)
    assert d["small_ratio"] == pytest.approx((1 + 0.34 / 0.28) ** (-1 / 0.34), rel=1e-9)
    n = scaling.optimal_params(scaling.CHINCHILLA_70B_FLOP, scaling.CHINCHILLA)
    assert 6 * n * n * d["tokens_per_param"] == pytest.approx(scaling.CHINCHILLA_70B_FLOP, rel=1e-9)
    assert scaling.interval(np.arange(101)) == pytest.approx((2.5, 97.5))
