"""Verdicts that can fail: a statistic, its 95% interval, and what it supports.

Every sentence of the book that says a measure grows or shrinks with model size,
or that a claim is "supported", comes from :func:`size_trend`: the slope of the
seed-mean measure against log₁₀ of the parameters, with a 95% interval from a
bootstrap over seeds (each size's seeds resampled with replacement). The claim
is *supported* only where that interval lies entirely on the claimed side of
zero; otherwise it is *not shown*, with the interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUPPORTED, NOT_SHOWN = "supported", "not shown"


@dataclass(frozen=True)
class Trend:
    """A measure's slope per decade of parameters, its 95% interval, and the verdict."""

    slope: float
    low: float
    high: float
    direction: int
    """+1: the claim is that the measure rises with size; −1: that it falls."""
    verdict: str
    means: tuple
    """The seed-mean measure of each size, smallest first."""

    def interval(self, fmt: str = "{:+.3f}") -> str:
        if not np.isfinite(self.slope):
            return "undefined (a size has no value)"
        return f"{fmt.format(self.slope)} per decade [{fmt.format(self.low)}, {fmt.format(self.high)}]"


def _slope(x, y):
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x ** 2).sum())


def size_trend(values, params, direction: int, n_boot: int = 2000, seed: int = 0) -> Trend:
    """The trend of ``values`` ([size, seed]) with model size, with a seed-bootstrap interval.

    The statistic is the least-squares slope of the seed means against
    log₁₀(params). Seeds where the measure is undefined (nan) are left out of
    their size; a size with no defined seed makes the trend undefined (not shown).
    """
    values = np.asarray(values, float)
    x = np.log10(np.asarray(params, float))
    if direction not in (1, -1):
        raise ValueError("direction must be +1 (rises with size) or -1 (falls).")
    kept = [v[np.isfinite(v)] for v in values]
    means = tuple(float(v.mean()) if len(v) else float("nan") for v in kept)
    if any(len(v) == 0 for v in kept) or len(kept) < 2:
        return Trend(float("nan"), float("nan"), float("nan"), direction, NOT_SHOWN, means)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        boots[b] = _slope(x, np.array([rng.choice(v, size=len(v)).mean() for v in kept]))
    low, high = np.percentile(boots, [2.5, 97.5])
    slope = _slope(x, np.array(means))
    ok = low > 0 if direction > 0 else high < 0
    return Trend(slope, float(low), float(high), direction, SUPPORTED if ok else NOT_SHOWN, means)
