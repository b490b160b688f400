"""Capacity or speed? (C4, C5: the paper's Definitions 1 and 2, tested in pretraining).

The paper's thesis is that some rare tasks are learned *only* by scaling the
model: a smaller model does not reach them with more data (Definition 2, a
capacity limit), rather than reaching them later (Definition 1, a matter of
speed). The CPU ladder cannot tell the two apart: every size trains on the same
3M tokens and accuracy near the thresholds is still climbing at the end.

The capacity sweep (``runners/configs/cpu_capacity.yaml``) trains a small and
a large size four times longer, one task copy per run, and measures each token
budget on a decay branch of a warmup-stable-decay run, so that the accuracy at
every budget is the one a run of that many tokens would end with. This module
reads it back (:func:`load_capacity`), fits each size's saturation level
(:func:`saturation_fit`), and returns the verdict with its intervals
(:func:`capacity_verdict`): does the small model level off below the large
one, or approach it?
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rarescale.sweeps.grid import Sweep, cell_key, load_runs
from rarescale.sweeps.trends import LadderResults, learned_level
from rarescale.pretrain.model import model_size
from rarescale.pretrain.tasks import TaskSpec
from rarescale import verdicts
from rarescale.verdicts import ConfidenceInterval, mean_shift

PLATEAU, APPROACH, NOT_SHOWN = ("plateaus below (Definition 2)", "approaches (Definition 1)",
                                "not shown")
FLAT = 0.02
"""Accuracy gained over the last doubling of tokens below which a curve counts as levelled
off, and the gap between levels within which two sizes count as level (both at the 95% level)."""


def capacity_frequencies(res: LadderResults, margin: float, size: int = 0, most_seeds: int = 1) -> list[float]:
    """Per task, the frequency the capacity sweep runs at: the highest ladder frequency at which
    size ``size`` (the smallest) learned the task in at most ``most_seeds`` of its seeds."""
    learned = res.learned(margin).sum(axis=1)[size]  # [task, frequency], frequencies descending
    out = []
    for t in range(len(res.tasks)):
        few = np.flatnonzero(learned[t] <= most_seeds)
        out.append(float(res.frequencies[few[0]]) if len(few) else float("nan"))
    return out


# --------------------------------------------------------------------------- saturation

_SCALES = np.logspace(-2, 3, 2001)
"""Time scales of the saturation fit, as multiples of the smallest budget."""


def saturation_fit(tokens, accuracy, start: float) -> tuple[float, float]:
    """(level, scale) of ``a(t) = L − (L − start)·exp(−t/τ)`` fitted to accuracy by budget.

    Least squares in ``L`` for each ``τ`` on a log grid (closed form), the best
    ``τ`` kept; ``L`` is kept within [0, 1]. ``start`` is the accuracy before
    training (the baseline), fixed rather than fitted; ``τ`` is bounded by the run
    (from a hundredth of the smallest budget to the largest), so that ``L`` is a
    level the budgets reach rather than an extrapolation. A curve still rising at
    the last budget gives ``τ`` at that bound; :func:`capacity_verdict` does not
    call a plateau from ``L`` alone.
    """
    t, a = np.asarray(tokens, float), np.asarray(accuracy, float)
    taus = _SCALES * t.min()
    taus = taus[taus <= t.max()]  # a time constant longer than the run is not a level the run shows
    rise = 1 - np.exp(-t[None] / taus[:, None])  # [tau, budget]: a = start + (L - start) * rise
    level = start + (rise @ (a - start)) / np.maximum((rise ** 2).sum(1), 1e-12)
    level = np.clip(level, 0.0, 1.0)
    err = ((start + (level[:, None] - start) * rise - a[None]) ** 2).sum(1)
    k = int(np.argmin(err))
    return float(level[k]), float(taus[k])


@dataclass(frozen=True)
class CapacityVerdict:
    """Does the small size level off below the large one, or approach it?"""

    level_small: ConfidenceInterval
    level_large: ConfidenceInterval
    gap: ConfidenceInterval
    """Large minus small saturation level."""
    gain_small: ConfidenceInterval
    """The small size's accuracy gained over the last doubling of tokens."""
    final_large: ConfidenceInterval
    """The large size's accuracy at the largest budget."""
    learned_level: float
    verdict: str
    reason: str


def _interval(point, boots) -> ConfidenceInterval:
    low, high = np.nanpercentile(boots, [2.5, 97.5])
    return ConfidenceInterval(float(point), float(low), float(high))


def capacity_verdict(tokens, small, large, start: float, learned: float, n_boot: int = 2000,
                     seed: int = 0, flat: float = FLAT) -> CapacityVerdict:
    """The verdict of Definition 1 against Definition 2 from accuracy by token budget.

    ``small`` and ``large`` are [seed, budget] accuracies at ``tokens`` (ascending);
    each size's seeds are resampled with replacement (``n_boot`` times) and the
    seed-mean curve refitted. Verdicts:

    * *plateaus below* (Definition 2) when the large size learns the task (its
      final accuracy's interval above ``learned``), the small size has levelled
      off (its gain over the last doubling below ``flat``, whole interval), and
      the gap between the fitted levels is above zero (whole interval);
    * *approaches* (Definition 1) when the large size learns the task and the gap
      is below ``flat`` (whole interval);
    * *not shown* otherwise, with the reason.
    """
    tokens = np.asarray(tokens, float)
    small, large = np.atleast_2d(np.asarray(small, float)), np.atleast_2d(np.asarray(large, float))

    def stats(s_curve, l_curve):
        ls, ll = saturation_fit(tokens, s_curve, start)[0], saturation_fit(tokens, l_curve, start)[0]
        return ls, ll, ll - ls, s_curve[-1] - s_curve[-2], l_curve[-1]

    point = stats(small.mean(0), large.mean(0))
    rng = np.random.default_rng(seed)
    boots = np.array([stats(small[rng.integers(len(small), size=len(small))].mean(0),
                            large[rng.integers(len(large), size=len(large))].mean(0))
                      for _ in range(n_boot)])
    level_small, level_large, gap, gain, final = (_interval(p, boots[:, k])
                                                  for k, p in enumerate(point))
    if final.low < learned:
        verdict, reason = NOT_SHOWN, "the large size does not learn the task at this budget"
    elif gap.low > 0 and gain.high < flat:
        verdict, reason = PLATEAU, "the small size has levelled off below the large one"
    elif gap.high < flat:
        verdict, reason = APPROACH, "the small size reaches the large one's level"
    elif gain.high >= flat and gap.low > 0:
        verdict, reason = NOT_SHOWN, "the small size is below the large one and still rising"
    else:
        verdict, reason = NOT_SHOWN, "the levels' intervals overlap"
    return CapacityVerdict(level_small, level_large, gap, gain, final, float(learned), verdict,
                           reason)


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class CapacityResults:
    """The capacity sweep's measures by [size, seed, task, budget]."""

    sizes: tuple[str, ...]
    params: np.ndarray
    seeds: tuple[int, ...]
    tasks: tuple[TaskSpec, ...]
    frequencies: np.ndarray
    """[task]: the frequency each task runs at."""
    tokens: np.ndarray
    """[budget]: training tokens of each budget, ascending."""
    accuracy: np.ndarray
    """Held-out accuracy over the task's labels at the end of each budget."""
    accuracy_hard: np.ndarray
    """The same on the shortcut-hard instances."""
    exposures: np.ndarray
    """Instances injected by the end of each budget."""
    shortcut: np.ndarray
    """[task]: test accuracy of the best one-operand rule."""
    stable: tuple
    """[size][seed][task]: the evaluations on the stable phase (``tokens``, ``accuracy``)."""
    wall_time_s: np.ndarray
    """[size, seed, task]."""

    @property
    def chance(self) -> np.ndarray:
        return np.array([t.chance for t in self.tasks])

    @property
    def baseline(self) -> np.ndarray:
        """[task]: the better of chance and the one-operand shortcut."""
        return np.maximum(self.chance, self.shortcut)

    def level(self, margin: float) -> np.ndarray:
        """[task]: the learned level (chapter 4's)."""
        return learned_level(self.baseline, margin)

    @property
    def titles(self) -> list[str]:
        return [t.title for t in self.tasks]

    def verdict(self, task: int, margin: float, **kw) -> CapacityVerdict:
        """The smallest size against the largest on ``task``."""
        return capacity_verdict(self.tokens, self.accuracy[0, :, task], self.accuracy[-1, :, task],
                                float(self.chance[task]), float(self.level(margin)[task]), **kw)


def capacity_results(sweep: Sweep, runs) -> CapacityResults:
    """Gather an unpacked sweep's artifacts, one task copy per cell."""
    if sweep.pack:
        raise ValueError(f"sweep {sweep.name!r} is packed; the capacity results need one copy per run.")
    n_s, n_r, n_t = len(sweep.sizes), len(sweep.seeds), len(sweep.tasks)
    by_key = {r.key: r for r in runs}
    shape = (n_s, n_r, n_t)
    tokens, freq, shortcut = None, np.full(n_t, np.nan), np.full(n_t, np.nan)
    arrays = {k: None for k in ("accuracy", "accuracy_hard", "exposures")}
    stable = [[[None] * n_t for _ in range(n_r)] for _ in range(n_s)]
    wall = np.full(shape, np.nan)
    for cell, ((i, j, _),) in sweep.cell_copies():
        s, r = sweep.sizes.index(cell.size), sweep.seeds.index(cell.seed)
        run = by_key[cell_key(cell)]
        a, res = run.arrays, run.result
        per_token = cell.global_batch * cell.seq_len
        budget_tokens = np.asarray(res["budget_steps"]) * per_token
        if tokens is None:
            tokens = budget_tokens
            for k in arrays:
                arrays[k] = np.full(shape + (len(tokens),), np.nan)
        for name, key in (("accuracy", "budget_test_acc_labels"),
                          ("accuracy_hard", "budget_test_acc_hard"),
                          ("exposures", "budget_injected")):
            arrays[name][s, r, i] = a[key][:, 0]
        stable[s][r][i] = {"tokens": a["eval_step"] * per_token, "accuracy": a["test_acc_labels"][:, 0]}
        freq[i], shortcut[i] = sweep.frequencies[j], res["shortcut_accuracy"][0]
        wall[s, r, i] = run.manifest.get("wall_time_s") or np.nan
    return CapacityResults(
        sizes=sweep.sizes, params=np.array([model_size(s).non_embedding_params() for s in sweep.sizes]),
        seeds=sweep.seeds, tasks=sweep.tasks, frequencies=freq, tokens=tokens, shortcut=shortcut,
        stable=tuple(tuple(tuple(t) for t in r) for r in stable), wall_time_s=wall, **arrays)


def load_capacity(path) -> tuple[Sweep, CapacityResults]:
    """The capacity sweep from its YAML and its results; a missing cell names the command to run."""
    sweep = Sweep.from_yaml(path)
    return sweep, capacity_results(sweep, load_runs(sweep, produce=f"python -m runners.sweep {path}"))


def verdict_rows(res: CapacityResults, margin: float) -> list[list[str]]:
    """Chapter 4's capacity table: per task, the two sizes' saturation levels, the gap, the small
    size's last-doubling gain (each with its 95% seed interval), and the verdict."""
    rows = []
    for t, name in enumerate(res.titles):
        v = res.verdict(t, margin)
        rows.append([f"{name} at {res.frequencies[t]:.0e}", v.level_small.text(), v.level_large.text(),
                     v.gap.text("{:+.2f}"), v.gain_small.text("{:+.3f}"), v.verdict])
    return rows


# --------------------------------------------------------------------------- the capacity test

@dataclass(frozen=True)
class CapacityTest:
    """The small size trained ``k``× longer against the large one at the base budget, on one task
    at one frequency (C4 against C5: the paper's Definitions 1 and 2)."""

    task: str
    frequency: float
    small_size: str
    large_size: str
    base_tokens: float
    tokens: np.ndarray
    """[budget] the small size's budgets, ascending (multiples of ``base_tokens``)."""
    small: np.ndarray
    """[seed, budget] the small size's held-out accuracy at the end of each budget (its decay branch)."""
    large: np.ndarray
    """[seed] the large size's held-out accuracy at the base budget (the compared sweep's runs)."""
    small_base_cosine: np.ndarray
    """[seed] the small size at the base budget in the compared sweep (cosine schedule): against
    the small size's own base-budget branch, what the schedule alone changes."""
    learned_level: float
    baseline: float
    registered: verdicts.CapacityGap
    """The verdict at the registered budget multiple and margin."""
    alternatives: tuple
    """(what changed, :class:`~rarescale.verdicts.CapacityGap`) under the defensible alternatives."""
    budget: float

    @property
    def multiples(self) -> np.ndarray:
        return self.tokens / self.base_tokens

    @property
    def budget_index(self) -> int:
        """The index of the registered budget among :attr:`tokens`."""
        return int(np.flatnonzero(np.isclose(self.multiples, self.budget, rtol=0.01))[0])

    @property
    def schedule_shift(self) -> ConfidenceInterval:
        """The small size at the base budget: warmup-stable-decay branch minus cosine run."""
        return mean_shift(self.small_base_cosine, self.small[:, 0])

    @property
    def robust_share(self) -> float:
        """Share of the alternatives that give the registered verdict."""
        return float(np.mean([g.verdict == self.registered.verdict for _, g in self.alternatives]))


GAP_MARGINS = (0.025, 0.1)
"""The alternatives' margins of "reaches it", about the registered one."""


def capacity_test(cap: CapacityResults, main: LadderResults, analysis) -> CapacityTest:
    """The registered capacity verdict (``analysis``: the capacity sweep's, with ``budget`` and
    ``gap_margin``) of the capacity sweep's one task and size against ``main``'s largest size at
    the same task and frequency and the base budget (``main``'s tokens), by
    :func:`rarescale.verdicts.capacity_gap`; and the same under the alternatives: every other
    budget multiple the sweep measured, and the margins of :data:`GAP_MARGINS`."""
    if len(cap.sizes) != 1 or len(cap.tasks) != 1:
        raise ValueError("the capacity test reads one small size and one task; "
                         f"got sizes {list(cap.sizes)} and tasks {cap.titles}")
    title, f = cap.titles[0], float(cap.frequencies[0])
    if title not in main.titles:
        raise ValueError(f"the compared sweep has no task {title!r} (it has {main.titles})")
    t = main.titles.index(title)
    try:
        j = main.frequency_index(f, t, exact=True)
    except ValueError:
        raise ValueError(f"the compared sweep did not run {title} at {f:g}") from None
    if cap.sizes[0] not in main.sizes:
        raise ValueError(f"the compared sweep has no size {cap.sizes[0]} to check the schedule against")
    base = float(main.tokens[-1])
    multiples = cap.tokens / base
    k = np.flatnonzero(np.isclose(multiples, analysis.budget, rtol=0.01))
    if not len(k):
        raise ValueError(f"the capacity sweep measured no budget at {analysis.budget:g}x the base "
                         f"({base:,.0f} tokens): its budgets are {', '.join(f'{m:.2f}x' for m in multiples)}")
    small, large = cap.accuracy[0, :, 0], main.accuracy[-1, :, t, j]
    registered = verdicts.capacity_gap(large, small[:, k[0]], analysis.gap_margin)
    alternatives = [(f"small at {m:g}x", verdicts.capacity_gap(large, small[:, b], analysis.gap_margin))
                    for b, m in enumerate(multiples) if b != k[0]]
    alternatives += [(f"margin {g:g}", verdicts.capacity_gap(large, small[:, k[0]], g))
                     for g in GAP_MARGINS if not np.isclose(g, analysis.gap_margin)]
    return CapacityTest(
        task=title, frequency=f, small_size=cap.sizes[0], large_size=main.sizes[-1],
        base_tokens=base, tokens=cap.tokens, small=small, large=large,
        small_base_cosine=main.accuracy[main.sizes.index(cap.sizes[0]), :, t, j],
        learned_level=float(main.level(analysis.margin)[t, j]), baseline=float(main.baseline[t, j]),
        registered=registered, alternatives=tuple(alternatives), budget=float(analysis.budget))


def capacity_test_sentence(test: CapacityTest) -> str:
    """The registered capacity verdict in words: the gap with its interval, both p-values, the
    verdict and how many of the alternatives agree."""
    g = test.registered
    agree = sum(alt.verdict == g.verdict for _, alt in test.alternatives)
    return (f"{test.large_size} at the base budget against {test.small_size} at {test.budget:g}×: a gap of "
            f"{g.gap:+.3f} [{g.low:+.3f}, {g.high:+.3f}] in held-out accuracy (one-sided p = "
            f"{g.p_below:.3f} that it is above zero, {g.p_reaches:.3f} that it is below {g.margin:g}): "
            f"**{g.verdict}**, the verdict of {agree} of the {len(test.alternatives)} alternatives.")


VERDICT_MEANING = {
    verdicts.STAYS_BELOW:
        "With {budget} the tokens the small model stays below the large one: at this task the gap "
        "between the sizes is one of capacity, as the paper's Definition 2 (C5) has it, not only of "
        "speed.",
    verdicts.REACHES:
        "With {budget} the tokens the small model comes within the margin of the large one: at this "
        "task the larger size learns faster, as the paper's Definition 1 (C4) has it, but the smaller "
        "is not held below it.",
    verdicts.WITHIN:
        "With {budget} the tokens the small model stays below the large one, but by less than the "
        "margin: a real gap too small to call a capacity limit (neither Definition in full).",
    verdicts.UNDECIDED:
        "With {budget} the tokens neither test decides: the seeds allow both a gap that stays and one "
        "that closes, so the test settles neither Definition.",
}
"""What each verdict of :func:`rarescale.verdicts.capacity_gap` says about C4 and C5."""


def capacity_test_reading(test: CapacityTest) -> str:
    """What the registered verdict means, and what lies under it: the seeds of each size that
    learn the task (reach the learned level) at each budget, the seeds that learn it at one budget
    and not at a longer one, the small size's seeds that reach the large one at the registered
    budget, and what the schedule alone changes at the base budget."""
    level, n = test.learned_level, len(test.small)
    budget = f"{test.budget:g}×"
    learned = test.small >= level  # [seed, budget]
    reaching = int((test.small[:, test.budget_index] >= test.large.mean() - test.registered.margin).sum())
    # a seed "loses" the task when it is learned at one budget and not at some longer one
    lost = int(sum(any(learned[s, i] and not learned[s, j]
                       for i in range(learned.shape[1]) for j in range(i + 1, learned.shape[1]))
                   for s in range(n)))
    shift = test.schedule_shift
    text = (VERDICT_MEANING[test.registered.verdict].format(budget=budget)
            + f" Of its {n} seeds, {test.small_size} learns the task (held-out accuracy at least "
            f"{level:.2f}) in " + ", ".join(f"{c} at {m:g}×" for c, m in zip(learned.sum(0), test.multiples))
            + f"; {test.large_size} in {int((test.large >= level).sum())} of {len(test.large)} at 1×.")
    if lost:
        text += (f" {lost} of the small size's seeds {'learns' if lost == 1 else 'learn'} it at one "
                 f"budget and {'loses' if lost == 1 else 'lose'} it at a longer one "
                 "(each budget is its own decay branch off the same run).")
    text += (f" At {budget}, {reaching} of the {n} small seeds come{'s' if reaching == 1 else ''} within "
             f"{test.registered.margin:g} of {test.large_size}'s mean: the verdict is about the seeds' mean"
             + (", not every seed." if reaching else ", and holds for every seed."))
    text += (f" At the base budget the small size's decay branch differs from its own cosine run by "
             f"{shift.value:+.3f} [{shift.low:+.3f}, {shift.high:+.3f}]: "
             + ("no effect of the schedule is shown."
                if shift.low <= 0 <= shift.high else "the schedule alone moves it, so part of the "
                "gap may be the schedule's."))
    return text


def load_capacity_test(path) -> tuple[Sweep, CapacityResults, CapacityTest]:
    """A capacity sweep (its ``analysis`` a ``"capacity gap"``), its results and its test against
    the sweep it names in ``compare_with`` (read only at its smallest and largest sizes, at this
    sweep's task and frequency: :func:`rarescale.sweeps.design.capacity_view`)."""
    from rarescale.sweeps.design import capacity_view
    from rarescale.sweeps.trends import ladder_results
    from rarescale.store.artifacts import REPO_ROOT

    sweep, cap = load_capacity(path)
    if sweep.analysis.statistic != "capacity gap":
        raise ValueError(f"{path}: its analysis.statistic is {sweep.analysis.statistic!r}, not 'capacity gap'")
    other = Path(sweep.analysis.compare_with)
    other = other if other.is_absolute() else REPO_ROOT / other
    view = capacity_view(Sweep.from_yaml(other), [(cap.titles[0], float(cap.frequencies[0]))])
    main = ladder_results(view, load_runs(view, produce=f"python -m runners.sweep {sweep.analysis.compare_with}"))
    return sweep, cap, capacity_test(cap, main, sweep.analysis)


# --------------------------------------------------------------------------- packing

@dataclass(frozen=True)
class PackingShift:
    """One task copy's final accuracy in the packed ladder and alone in its run."""

    size: str
    task: str
    frequency: float
    packed: np.ndarray
    """[seed] accuracy in the packed ladder."""
    unpacked: np.ndarray
    packed_hard: np.ndarray
    unpacked_hard: np.ndarray
    learned_level: float

    @property
    def shift(self) -> ConfidenceInterval:
        """Unpacked minus packed accuracy."""
        return mean_shift(self.packed, self.unpacked)

    @property
    def shift_hard(self) -> ConfidenceInterval:
        return mean_shift(self.packed_hard, self.unpacked_hard)


def packing_shift(ladder: LadderResults, sweep: Sweep, runs, margin: float) -> PackingShift:
    """Compare the packing sweep's one unpacked copy with the same copy in the packed ladder."""
    (cell, ((i, j, _),)), *_ = sweep.cell_copies()
    s, t = ladder.sizes.index(cell.size), i
    f = ladder.frequency_index(sweep.frequencies[j])
    by_key = {r.key: r for r in runs}
    final = [by_key[cell_key(c)].result["final"] for c, _ in sweep.cell_copies()]
    return PackingShift(
        size=cell.size, task=ladder.titles[t], frequency=float(ladder.frequencies[f]),
        packed=ladder.accuracy[s, :, t, f], unpacked=np.array([x["test_acc_labels"][0] for x in final]),
        packed_hard=ladder.accuracy_hard[s, :, t, f],
        unpacked_hard=np.array([x["test_acc_hard"][0] for x in final]),
        learned_level=float(ladder.level(margin)[t, f]))


def load_packing(ladder: LadderResults, path, margin: float) -> PackingShift:
    sweep = Sweep.from_yaml(path)
    return packing_shift(ladder, sweep, load_runs(sweep, produce=f"python -m runners.sweep {path}"),
                         margin)


def ladder_budget_shift(cap: CapacityResults, ladder: LadderResults) -> list[dict]:
    """Per task, at each capacity size that is also in the ladder: the copy alone (this sweep's
    budget equal to the ladder's tokens, decayed by warmup-stable-decay) against the same copy
    packed in the ladder (cosine schedule); the difference with its permutation interval.

    Packing and the schedule both differ between the two; the ladder's copy has the same
    instances (the same frequency list). An empty list where no size or budget matches.
    """
    out = []
    budget = np.flatnonzero(np.isclose(cap.tokens, ladder.tokens.max(), rtol=0.01))
    for s, size in enumerate(cap.sizes):
        if size not in ladder.sizes or not len(budget):
            continue
        ls = ladder.sizes.index(size)
        for t, name in enumerate(cap.titles):
            f = ladder.frequency_index(cap.frequencies[t])
            packed, alone = ladder.accuracy[ls, :, t, f], cap.accuracy[s, :, t, budget[0]]
            out.append({"size": size, "task": name, "frequency": float(cap.frequencies[t]),
                        "tokens": float(cap.tokens[budget[0]]), "packed": packed, "alone": alone,
                        "shift": mean_shift(packed, alone)})
    return out


def packing_reading(shifts) -> str:
    """What the packed-against-alone differences say, from their intervals (unpacked − packed)."""
    below = [s for s in shifts if s.high < 0]
    above = [s for s in shifts if s.low > 0]
    if shifts and len(below) == len(shifts):
        return ("every copy learns less alone than packed among the ladder's other copies (each "
                "interval below zero): packing is not neutral, and the ladder's thresholds are "
                "lower than one-task runs' would be")
    if below or above:
        return (f"{len(below)} of {len(shifts)} copies learn less alone and {len(above)} more "
                "(intervals off zero); the others cannot be told apart")
    return "no copy's accuracy differs between packed and alone beyond its interval"
