"""Verdicts that can fail: a statistic, its 95% interval, its p-value, and what it supports.

Every sentence of the book that says a measure grows or shrinks with model size, or that a
claim is "supported", comes from :func:`size_trend`. Its statistic is the least-squares slope
of the seed-mean measure against log₁₀ of the parameters, a linear contrast of the size means.
Its test is Welch's: the contrast's standard error from each size's own seed variance, and
Satterthwaite's degrees of freedom, so that sizes may differ in their noise. The p-value is
one-sided, in the claimed direction; the interval is the two-sided 95% t-interval of the slope,
so a trend is *supported* at level :data:`ALPHA` exactly when that interval lies on the claimed
side of zero (before any adjustment for the other tests of its claim, :func:`holm`).

Beside the slope, whether the ordering holds: Jonckheere–Terpstra's test of ordered
alternatives (a permutation p-value) and how many adjacent sizes step the claimed way. A slope
may rest on one step; the ordering says so.

Calibration is tested, not assumed: ``tests/test_verdicts.py`` simulates 2,000 null ladders
(Gaussian, heavy-tailed and unequal-variance noise; 4 sizes × 3 and × 5 seeds) and plants a
trend of one noise standard deviation per decade.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import stats

SUPPORTED, NOT_SHOWN = "supported", "not shown"
ALPHA = 0.025
"""One-sided level of every trend test (the two-sided 95% interval excludes zero)."""


@dataclass(frozen=True)
class Trend:
    """A measure's slope per decade of parameters, its test, its 95% interval, and the verdict."""

    slope: float
    low: float
    high: float
    direction: int
    """+1: the claim is that the measure rises with size; −1: that it falls."""
    verdict: str
    means: tuple
    """The seed-mean measure of each size, smallest first."""
    t: float = float("nan")
    """Welch's t of the slope."""
    df: float = float("nan")
    """Satterthwaite's degrees of freedom."""
    p: float = float("nan")
    """One-sided p-value in the claimed direction."""
    p_adjusted: float = float("nan")
    """``p`` adjusted within the claim's family (Holm); ``p`` itself when tested alone."""
    family: str = ""
    """The claim whose tests were adjusted together, and how many (``"C18 (6 tests)"``)."""
    ordering_p: float = float("nan")
    """Jonckheere–Terpstra's one-sided p-value for sizes ordered the claimed way."""
    steps: tuple = (0, 0)
    """(adjacent sizes stepping the claimed way, adjacent pairs)."""

    def interval(self, fmt: str = "{:+.3f}") -> str:
        if not np.isfinite(self.slope):
            return "undefined (a size has no value)"
        return f"{fmt.format(self.slope)} per decade [{fmt.format(self.low)}, {fmt.format(self.high)}]"

    def ordering(self) -> str:
        """The ordering in words: steps the claimed way, and Jonckheere–Terpstra's p."""
        if not np.isfinite(self.ordering_p):
            return "undefined"
        return f"{self.steps[0]} of {self.steps[1]} steps; ordered p = {self.ordering_p:.3f}"


def _contrast(x):
    """The weights turning size means into their least-squares slope against ``x``."""
    x = np.asarray(x, float) - np.mean(x)
    return x / (x ** 2).sum()


def _slope(x, y):
    return float(_contrast(x) @ np.asarray(y, float))


def jonckheere(groups, direction: int, n_perm: int = 2000, seed: int = 0) -> float:
    """One-sided permutation p-value of Jonckheere–Terpstra's statistic: the count of pairs
    (a run of a smaller size, a run of a larger) ordered the claimed way, ties counting half."""
    def statistic(gs):
        total = 0.0
        for i in range(len(gs)):
            for j in range(i + 1, len(gs)):
                diff = direction * (gs[j][None, :] - gs[i][:, None])
                total += (diff > 0).sum() + 0.5 * (diff == 0).sum()
        return total

    observed = statistic(groups)
    pooled, sizes = np.concatenate(groups), [len(g) for g in groups]
    cuts = np.cumsum(sizes)[:-1]
    rng = np.random.default_rng(seed)
    hits = sum(statistic(np.split(rng.permutation(pooled), cuts)) >= observed - 1e-9
               for _ in range(n_perm))
    return (1 + hits) / (1 + n_perm)


def size_trend(values, params, direction: int, alpha: float = ALPHA, ordering: bool = True,
               seed: int = 0) -> Trend:
    """The trend of ``values`` ([size, seed]) with model size: Welch's test of the slope.

    Seeds where the measure is undefined (nan) are left out of their size; a size with fewer
    than two defined seeds (no variance of its own) makes the trend undefined (not shown).
    """
    values = np.asarray(values, float)
    if direction not in (1, -1):
        raise ValueError("direction must be +1 (rises with size) or -1 (falls).")
    kept = [v[np.isfinite(v)] for v in values]
    means = tuple(float(v.mean()) if len(v) else float("nan") for v in kept)
    if len(kept) < 2 or any(len(v) < 2 for v in kept):
        return Trend(float("nan"), float("nan"), float("nan"), direction, NOT_SHOWN, means)
    c = _contrast(np.log10(np.asarray(params, float)))
    n = np.array([len(v) for v in kept])
    var = np.array([v.var(ddof=1) for v in kept])
    slope = float(c @ np.array(means))
    terms = c ** 2 * var / n
    se = float(np.sqrt(terms.sum()))
    if se == 0:  # no noise at all: the sign decides
        p = 0.0 if direction * slope > 0 else 1.0
        t, df, low, high = float("inf") * np.sign(slope), float("inf"), slope, slope
    else:
        df = float(terms.sum() ** 2 / (terms ** 2 / (n - 1)).sum())
        t = slope / se
        p = float(stats.t.sf(direction * t, df))
        half = float(stats.t.ppf(1 - alpha, df)) * se
        low, high = slope - half, slope + half
    steps = (int(sum(direction * (b - a) > 0 for a, b in zip(means, means[1:]))), len(means) - 1)
    order_p = jonckheere(kept, direction, seed=seed) if ordering else float("nan")
    verdict = SUPPORTED if p <= alpha else NOT_SHOWN
    return Trend(slope, float(low), float(high), direction, verdict, means, float(t), float(df),
                 p, p, "", order_p, steps)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of a family's p-values (nan: not tested, left out)."""
    p = np.asarray(pvalues, float)
    out = np.full_like(p, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def adjust_family(trends, family: str, alpha: float = ALPHA) -> list[Trend]:
    """The trends of one claim with Holm-adjusted p-values, and their verdicts at ``alpha``."""
    adjusted = holm([t.p for t in trends])
    m = int(np.isfinite([t.p for t in trends]).sum())
    return [dataclasses.replace(t, p_adjusted=float(q), family=f"{family} ({m} tests)",
                                verdict=SUPPORTED if np.isfinite(q) and q <= alpha else NOT_SHOWN)
            for t, q in zip(trends, adjusted)]


# ---------------------------------------------------------------------- capacity (C4, C5)

CAPACITY_MARGIN = 0.05
"""The accuracy gap within which a small model trained longer counts as reaching the large one
(:func:`capacity_gap`'s default, and a capacity sweep's registered ``analysis.gap_margin``)."""

STAYS_BELOW, REACHES, WITHIN, UNDECIDED = ("stays below", "reaches it", "below, within the margin",
                                           "undecided")


@dataclass(frozen=True)
class CapacityGap:
    """The paper's Definition 2 (C5) against Definition 1 (C4), on one task and frequency: the
    gap ``D = mean(large at the base budget) − mean(small at k× the budget)`` over seeds."""

    gap: float
    low: float
    high: float
    """Two-sided 95% interval of ``D`` (inverted permutation test)."""
    p_below: float
    """One-sided p of ``D > 0`` (the small model stays below the large one)."""
    p_reaches: float
    """One-sided p of ``D < margin`` (it comes within ``margin`` of it, or above)."""
    margin: float
    verdict: str


@dataclass(frozen=True)
class ConfidenceInterval:
    """A statistic and its interval (95% unless said otherwise)."""

    value: float
    low: float
    high: float

    def text(self, fmt: str = "{:.2f}") -> str:
        return f"{fmt.format(self.value)} [{fmt.format(self.low)}, {fmt.format(self.high)}]"


def permutation_splits(n_first: int, n: int, n_perm: int = 20_000, seed: int = 0) -> np.ndarray:
    """[split, n_first]: which of ``n`` pooled values play the first group, for a permutation
    test: every split where there are at most ``n_perm`` (exact), else ``n_perm`` drawn."""
    import itertools
    import math

    if math.comb(n, n_first) <= n_perm:
        return np.array(list(itertools.combinations(range(n), n_first)))
    rng = np.random.default_rng(seed)
    return np.array([rng.permutation(n)[:n_first] for _ in range(n_perm)])


SIDES = ("greater", "less", "two-sided")


def shift_p(first, second, shift: float, splits, side: str = "greater") -> float:
    """Permutation p-value of ``mean(first) − mean(second) = shift`` against ``side``:
    ``"greater"`` (the difference is above ``shift``), ``"less"`` or ``"two-sided"``. ``first``
    and ``second + shift`` are pooled and ``splits`` (:func:`permutation_splits`) say which pooled
    values play ``first``: exact when every split is listed, under exchangeability of the seeds
    (a shift model). The one permutation test of the book: :func:`capacity_gap` and
    :func:`mean_shift` are it, inverted."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    pooled = np.concatenate([first, second + shift])
    n, total = len(first), pooled.sum()
    observed = pooled[:n].mean() - pooled[n:].mean()
    in_first = pooled[splits].sum(1)
    diffs = in_first / n - (total - in_first) / (len(pooled) - n)
    if side == "greater":
        return float(np.mean(diffs >= observed - 1e-12))
    if side == "less":
        return float(np.mean(diffs <= observed + 1e-12))
    if side == "two-sided":
        return float(np.mean(np.abs(diffs) >= abs(observed) - 1e-12))
    raise ValueError(f"side must be one of {SIDES}; got {side!r}")


def shift_interval(first, second, accepted, iterations: int = 40) -> tuple[float, float]:
    """The edges of the set of shifts ``δ`` that ``accepted(δ)`` keeps (a test not rejecting
    ``mean(first) − mean(second) = δ``), by bisection out from the observed difference, which
    every such test keeps."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    point = float(first.mean() - second.mean())
    span = float(np.ptp(np.concatenate([first, second])) + 1e-9) * 4

    def edge(direction):
        inside, outside = point, point + direction * span
        for _ in range(iterations):
            mid = (inside + outside) / 2
            if accepted(mid):
                inside = mid
            else:
                outside = mid
        return inside

    return edge(-1), edge(+1)


def mean_shift(a, b, alpha: float = 0.05, n_perm: int = 20_000, seed: int = 0) -> ConfidenceInterval:
    """``mean(b) − mean(a)`` with its ``1 − alpha`` interval from inverting the two-sided
    permutation test (:func:`shift_p`): exact for a few seeds (every split of the pooled seeds is
    enumerated), where a bootstrap interval would be too narrow."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    splits = permutation_splits(len(b), len(a) + len(b), n_perm, seed)
    low, high = shift_interval(b, a, lambda d: shift_p(b, a, d, splits, "two-sided") > alpha)
    return ConfidenceInterval(float(b.mean() - a.mean()), low, high)


def capacity_gap(large, small, margin: float, alpha: float = ALPHA,
                 interval: bool = True) -> CapacityGap:
    """The capacity verdict, fixed before the runs: two one-sided exact permutation tests at
    level ``alpha`` of the gap ``D`` between the large size at the base budget and the small
    one trained ``k``× longer (per-seed accuracies, at one task and frequency).

    - *stays below* (C5, capacity): ``D > 0`` is shown and ``D < margin`` is not;
    - *reaches it* (C4, speed): ``D < margin`` is shown and ``D > 0`` is not;
    - *below, within the margin*: both (a real gap smaller than the margin);
    - *undecided*: neither.

    Each test is exact under exchangeability of the seeds (a shift model), so its false-positive
    rate at its boundary (``D = 0``, ``D = margin``) is at most ``alpha`` whatever the seed count
    (``tests/test_verdicts.py`` simulates it). ``interval=False`` skips the interval (nan).
    """
    large, small = np.asarray(large, float), np.asarray(small, float)
    large, small = large[np.isfinite(large)], small[np.isfinite(small)]
    splits = permutation_splits(len(large), len(large) + len(small))
    gap = float(large.mean() - small.mean())
    p_below = shift_p(large, small, 0.0, splits, "greater")
    p_reaches = shift_p(large, small, margin, splits, "less")  # mean(small) + margin > mean(large)
    low, high = (shift_interval(large, small, lambda d: min(shift_p(large, small, d, splits, "greater"),
                                                            shift_p(large, small, d, splits, "less")) > alpha,
                                iterations=30)
                 if interval else (float("nan"), float("nan")))
    below, reaches = p_below <= alpha, p_reaches <= alpha
    verdict = (WITHIN if below and reaches else STAYS_BELOW if below else REACHES if reaches
               else UNDECIDED)
    return CapacityGap(gap, low, high, p_below, p_reaches, margin, verdict)
