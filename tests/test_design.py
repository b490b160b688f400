"""The pilot's choice rule (rarescale.olmo.design), on planted pilots."""

import numpy as np
import pytest

from rarescale.olmo.design import choose_frequencies

F = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4]


def test_separating_frequencies_are_chosen_and_widened_rarer_side_first():
    small = [1, 1, 0, 0, 0]  # the small size learns down to 3e-3
    large = [1, 1, 1, 1, 0]  # the large one down to 3e-4
    out = choose_frequencies(F, small, large, np.subtract(large, small), n=3)
    assert out["how"] == "separating" and out["separating"] == [1e-3, 3e-4]
    assert out["chosen"] == [1e-3, 3e-4, 1e-4]  # widened below, where the large one fails
    out = choose_frequencies(F, small, large, np.subtract(large, small), n=4)
    assert out["chosen"] == [3e-3, 1e-3, 3e-4, 1e-4]  # nothing rarer left: then above
    assert out["learnable"]


def test_without_a_separating_frequency_the_largest_gaps_are_taken_and_said():
    small = [1, 1, 1, 0, 0]
    large = [1, 1, 1, 0, 0]
    gap = [0.0, 0.01, 0.2, 0.15, 0.02]
    out = choose_frequencies(F, small, large, gap, n=3)
    assert out["how"] == "largest gap" and out["separating"] == []
    assert out["chosen"] == [1e-3, 3e-4, 1e-4]


def test_frequencies_not_run_are_never_chosen_and_an_unlearned_task_is_flagged():
    nan = np.nan
    small = [nan, 0, 0, 0, nan]
    large = [nan, 0, 0, 0, nan]
    out = choose_frequencies(F, small, large, [nan, 0.1, 0.05, 0.0, nan], n=3)
    assert out["chosen"] == [3e-3, 1e-3, 3e-4] and not out["learnable"]


@pytest.mark.parametrize("seed", range(20))
def test_the_choice_is_a_set_of_run_frequencies_of_the_asked_size(seed):
    rng = np.random.default_rng(seed)
    small, large = rng.integers(0, 2, 5).astype(float), rng.integers(0, 2, 5).astype(float)
    out = choose_frequencies(F, small, large, rng.normal(size=5), n=3)
    assert len(out["chosen"]) == 3 and set(out["chosen"]) <= set(F)
    assert set(out["separating"]) <= set(out["chosen"]) or len(out["separating"]) > 3
