"""Random Stiefel encoders (used by C7, C13)."""

import numpy as np
import pytest

from rarescale.linear.interference import signal_captured
from rarescale.linear.stiefel import random_baseline_check, random_stiefel
from rarescale.validation import ConfigError


def test_columns_are_orthonormal():
    U = random_stiefel(20, 7, np.random.default_rng(0), size=5)
    np.testing.assert_allclose(np.einsum("sdi,sdj->sij", U, U), np.broadcast_to(np.eye(7), (5, 7, 7)),
                               atol=1e-12)


def test_c13_random_baseline_is_n_over_d():
    """E[S(U)] = N/d for uniform U, within 4 standard errors at every width."""
    check = random_baseline_check(d=24, widths=[1, 3, 12, 20], rank=5, samples=4000, seed=1)
    err = np.abs(check["mean"] - check["closed_form"])
    assert np.all(err <= 4 * check["sem"])
    # the Monte Carlo is precise enough that a wrong baseline (say N/(d+1)) would fail
    assert np.all(np.abs(check["mean"] - check["widths"] / 25) > 4 * check["sem"])


def test_signal_captured_of_the_task_subspace_is_one():
    rng = np.random.default_rng(2)
    F = random_stiefel(10, 3, rng)
    C = F @ np.diag([3.0, 2.0, 1.0]) @ F.T
    assert signal_captured(F, C, normalized=False) == pytest.approx(1.0)
    assert signal_captured(F[:, :1], C, normalized=False) == pytest.approx(0.5)


def test_width_above_dimension_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"^random_stiefel.n must be an int in the range \[1, 5\]. Got 6 instead.$"):
        random_stiefel(5, 6, np.random.default_rng(0))
