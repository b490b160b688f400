"""The comparisons the book's prose makes, computed: each sentence that says one thing comes
"last", "keeps being pulled" or "falls faster" glues the result of one of these, and says the
opposite when the data do (chapters 2 and 3)."""

from __future__ import annotations

import numpy as np


def order_by(values, widths) -> dict:
    """Are the widths at which tasks are learned (one per task; None: not learned at any width)
    ordered by ``values`` (a task property: complexity, frequency)? Returns ``rising`` (the
    widths never fall as the value rises), ``falling`` (never rise), Kendall's τ between value
    and width (tasks never learned count as beyond the widest), and the tasks in order of value
    with their widths."""
    from scipy import stats

    values = np.asarray(values, float)
    big = max([w for w in widths if w is not None], default=0) + 1
    w = np.array([big if x is None else x for x in widths], float)
    order = np.argsort(values, kind="stable")
    steps = np.diff(w[order])
    tau = float(stats.kendalltau(values, w).statistic) if len(values) > 1 else float("nan")
    return {"rising": bool(np.all(steps >= 0)), "falling": bool(np.all(steps <= 0)), "tau": tau,
            "in_order": [(float(values[i]), widths[i]) for i in order]}


def last_learned(values, widths) -> dict:
    """Which task is learned last (the largest width; never learned counts as last) and whether
    it is the one of smallest ``value`` (e.g. the most complex: the smallest decay ``b``)."""
    big = max([w for w in widths if w is not None], default=0) + 1
    w = np.array([big if x is None else x for x in widths], float)
    last = int(np.argmax(w))
    return {"last": last, "smallest_value_is_last": bool(np.argmin(values) == last
                                                          or w[np.argmin(values)] == w[last])}


def pull_by_width(gradient, slice_widths, narrow_below: int, at: int = -1) -> dict:
    """Do narrow students keep a larger common-task gradient than wide ones (C9, C10)? From
    ``gradient`` (students, evaluations) and each student's width, at evaluation ``at``: the mean
    gradient norm of the students narrower than ``narrow_below`` and of the others, their
    ratio, and the mean by width."""
    g = np.asarray(gradient, float)[:, at]
    widths = np.asarray(slice_widths)
    narrow, wide = g[widths < narrow_below], g[widths >= narrow_below]
    n = float(narrow.mean()) if narrow.size else float("nan")
    w = float(wide.mean()) if wide.size else float("nan")
    return {"narrow": n, "wide": w, "ratio": n / w if w > 0 else float("inf"),
            "by_width": {int(x): float(g[widths == x].mean()) for x in np.unique(widths)}}
