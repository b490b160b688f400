"""The prose's comparisons (rarescale.book.comparisons), each with the opposite case planted."""

import numpy as np

from rarescale.book import comparisons


def test_order_by_sees_a_monotone_order_and_its_reverse_and_a_broken_one():
    b = [0.4, 1.3, 1.7, 3.5]  # complexity decay: small b = complex
    assert comparisons.order_by(b, [32, 24, 16, 8])["falling"]  # complex learned last
    assert comparisons.order_by(b, [8, 16, 24, 32])["rising"]   # the opposite, planted
    mixed = comparisons.order_by(b, [20, 32, 32, 28])           # the chapter-2 case
    assert not mixed["rising"] and not mixed["falling"] and mixed["in_order"][0] == (0.4, 20)
    assert comparisons.order_by(b, [None, 24, 16, 8])["falling"]  # never learned: beyond the widest


def test_last_learned_names_the_task_and_whether_it_is_the_smallest_value():
    assert comparisons.last_learned([0.4, 1.3, 3.5], [32, 20, 8]) == {"last": 0, "smallest_value_is_last": True}
    assert comparisons.last_learned([0.4, 1.3, 3.5], [20, 32, 8]) == {"last": 1, "smallest_value_is_last": False}


def test_pull_by_width_compares_narrow_and_wide_gradients():
    widths = np.repeat([1, 2, 16, 24], 3)  # three seeds of each width
    steps = 5
    pulled = np.repeat([1.0, 0.8, 0.1, 0.1], 3)[:, None] * np.ones(steps)  # narrow kept pulled
    out = comparisons.pull_by_width(pulled, widths, narrow_below=8)
    assert out["ratio"] == 9.0 and out["by_width"][1] == 1.0
    together = np.repeat([0.029, 0.034, 0.027, 0.03], 3)[:, None] * np.ones(steps)  # all collapse
    assert 0.9 < comparisons.pull_by_width(together, widths, narrow_below=8)["ratio"] < 1.2
