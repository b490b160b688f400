"""C12: the width from which a rare direction is learned, against brute force."""

import numpy as np
import pytest

from rarescale.linear import stability
from rarescale.linear.mixture import TaskMixture
from rarescale.linear.theory import optimal_encoder


def _random_mixture(rng, n_rare):
    """Three common tasks of four features and ``n_rare`` rare rank-one tasks, random spectra
    and frequencies, utilities spread so that no two are within 1% (the top-N eigenspace of M
    is then unique at every width)."""
    while True:
        common_pi = rng.dirichlet(np.ones(3)) * 0.9
        rare_pi = rng.dirichlet(np.ones(n_rare)) * 0.1
        spectra = [np.sort(rng.uniform(0.05, 1.0, 4))[::-1] for _ in range(3)]
        spectra += [[rng.uniform(0.2, 3.0)] for _ in range(n_rare)]
        pi = np.concatenate([common_pi, rare_pi])
        nu = np.sort(np.concatenate([p * np.asarray(s) for p, s in zip(pi, spectra)]))
        if np.all(np.diff(nu) / nu[1:] > 0.01):
            return TaskMixture.from_arrays(pi, spectra, seed=int(rng.integers(1 << 30)))


def _brute_force_width(mixture, task):
    """The smallest width whose optimal encoder (top-N eigenvectors of the full M) holds the
    rare direction: ‖Uᵀv‖² > 1/2."""
    for N in range(1, mixture.d + 1):
        if stability.direction_signal(optimal_encoder(mixture, N), mixture, task) > 0.5:
            return N
    raise AssertionError("never learned")


@pytest.mark.parametrize("seed", range(100))
def test_c12_full_m_rule_equals_brute_force_with_several_rare_tasks(seed):
    rng = np.random.default_rng(seed)
    mixture = _random_mixture(rng, n_rare=int(rng.integers(2, 5)))
    for task in range(3, mixture.K):
        assert stability.direction_width(mixture, task) == _brute_force_width(mixture, task)


def test_c12_with_one_rare_task_the_papers_rule_is_the_full_rule():
    rng = np.random.default_rng(7)
    for _ in range(20):
        mixture = _random_mixture(rng, n_rare=1)
        assert stability.common_only_width(mixture, [0, 1, 2], 3) == \
            stability.direction_width(mixture, 3) == _brute_force_width(mixture, 3)


def test_c12_the_common_only_rule_undercounts_the_rare_directions_that_outrank():
    # two rare tasks, the second's utility above the first's: the common-only rule ignores it
    mixture = TaskMixture.from_arrays([0.5, 0.4, 0.06, 0.04], [[1.0, 0.2], [1.0, 0.1], [1.0], [2.0]])
    # utilities: 0.5, 0.1 (task 0); 0.4, 0.04 (task 1); 0.06 (task 2); 0.08 (task 3)
    assert stability.direction_width(mixture, 2) == 5 == _brute_force_width(mixture, 2)
    assert stability.common_only_width(mixture, [0, 1], 2) == 4  # one short: task 3 outranks it


@pytest.mark.parametrize("seed", range(10))
def test_c8_c13_a_rank_one_tasks_whole_task_width_is_its_direction_width(seed):
    """A rank-one task is one direction: the optimal encoder's Ŝ jumps from below 0 to 1 at C12's
    width, so the whole-task prediction (C8 + C13) and the direction's rule agree at any level."""
    rng = np.random.default_rng(seed)
    mixture = _random_mixture(rng, n_rare=int(rng.integers(2, 5)))
    for task in range(3, mixture.K):
        n = stability.direction_width(mixture, task)
        if n == mixture.d:  # Ŝ is not defined at N = d (a random encoder holds everything)
            continue
        for level in (0.1, 0.5, 0.9):
            assert stability.whole_task_width(mixture, task, range(1, mixture.d), level) == n


def test_c8_c13_a_task_of_several_directions_crosses_later_than_its_first_and_by_brute_force():
    mixture = TaskMixture.power_law(K=6, m=4, a=2.2, b=0.8, d=64, seed=0)
    widths = range(1, 40)
    for task in (3, 4, 5):
        n = stability.whole_task_width(mixture, task, widths)
        assert n > stability.direction_width(mixture, task)
        signal = []
        for N in (n - 1, n):
            U = optimal_encoder(mixture, N)
            S = sum(mixture.spectra[task][j] * stability.direction_signal(U, mixture, task, j)
                    for j in range(4)) / sum(mixture.spectra[task])
            signal.append((S - N / mixture.d) / (1 - N / mixture.d))
        assert signal[0] < 0.5 <= signal[1]
    # on a coarser grid it is the first grid width at or past the integer one
    assert stability.whole_task_width(mixture, 3, [8, 12, 16, 20]) == 16
