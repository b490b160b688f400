"""Chapter 4's design from its pilot (C18): the rule that picks the main sweep's frequencies.

The rule was written, and committed with the pilot's sweep file, before any pilot run was
read. Per task, with the pilot's smallest and largest sizes:

1. A frequency *separates* the sizes when the largest learns the task there (in at least
   half its seeds, at the registered margin) and the smallest does not.
2. The main sweep takes the separating frequencies, widened to ``n`` with the pilot's other
   frequencies nearest them in log frequency; between two as near, the rarer (where the
   largest size's own threshold lies).
3. When no frequency separates, it takes the ``n`` frequencies with the largest gap in
   accuracy between the two sizes, and says so.
4. A task is *learnable* at this scale when some size learns it at some frequency; a TADD
   that no size learns is replaced in the main sweep by its easier pilot alternative.

The capacity sweep's cell (C4, C5: the paper's Definition 2) is chosen by
:func:`capacity_choice`, written before the main sweep's runs at the candidate cells were
read: among the pilot's separating (task, frequency) cells, one where the main sweep's largest
size learned the task in at least 4 of its 5 seeds and its smallest in at most 1. When none
qualifies, the rule's second stage (written before its runs, ``cpu_capacity_design.yaml``) runs
the separating task at the commoner frequencies of :data:`CAPACITY_SECOND_STAGE` at the same two
sizes, five seeds and base budget, and applies the same rule to those cells; when none of them
qualifies either, there is no capacity test at this scale.
"""

from __future__ import annotations

import warnings

import numpy as np


def choose_frequencies(frequencies, small_share, large_share, gap, n: int = 3) -> dict:
    """The rule on one task's arrays, each over ``frequencies`` (NaN where not run):
    ``small_share``/``large_share`` the share of seeds learned, ``gap`` the accuracy of the
    largest size minus the smallest's. Returns the separating and chosen frequencies
    (descending) and ``how`` (``"separating"`` or ``"largest gap"``)."""
    f = np.asarray(frequencies, float)
    small, large, gap = (np.asarray(a, float) for a in (small_share, large_share, gap))
    ran = np.isfinite(small) & np.isfinite(large)
    separating = ran & (large >= 0.5) & (small < 0.5)
    if separating.any():
        chosen = set(np.flatnonzero(separating).tolist())
        how = "separating"
        logf = np.log(f)
        while len(chosen) < min(n, int(ran.sum())):
            left = [i for i in np.flatnonzero(ran) if i not in chosen]
            # nearest to the chosen ones in log frequency; at a tie (to rounding: 3e-3 and 3e-4
            # are as near 1e-3 as 1e-2 and 1e-3 are), the rarer
            chosen.add(min(left, key=lambda i: (round(min(abs(logf[i] - logf[j]) for j in chosen), 9),
                                                logf[i])))
    else:
        order = [i for i in np.argsort(-np.where(ran, gap, -np.inf), kind="stable") if ran[i]]
        chosen, how = set(order[:n]), "largest gap"
    desc = lambda idx: sorted((float(f[i]) for i in idx), reverse=True)  # noqa: E731
    return {"separating": desc(np.flatnonzero(separating)), "chosen": desc(chosen), "how": how,
            "learnable": bool(np.nanmax(np.concatenate([small, large])) >= 0.5)}


def pilot_choice(res, margin: float, n: int = 3) -> list[dict]:
    """The rule on a pilot's results (:class:`~rarescale.sweeps.trends.LadderResults`), per task:
    its title, the frequencies run, the share of seeds learned by the smallest and the
    largest size, their accuracy gap, and :func:`choose_frequencies`'s choice."""
    learned = res.learned(margin).astype(float)  # [size, seed, task, frequency]
    learned[np.isnan(res.accuracy)] = np.nan
    with warnings.catch_warnings():  # a frequency a task was not run at: nan, said by "ran"
        warnings.simplefilter("ignore", RuntimeWarning)
        share = np.nanmean(learned, axis=1)
        acc = np.nanmean(res.accuracy, axis=1)
    out = []
    for t, title in enumerate(res.titles):
        ran = np.isfinite(acc[0, t]) & np.isfinite(acc[-1, t])
        choice = choose_frequencies(res.frequencies, share[0, t], share[-1, t],
                                    acc[-1, t] - acc[0, t], n)
        out.append({"task": title, "frequencies": [float(x) for x in res.frequencies[ran]],
                    "index": np.flatnonzero(ran).tolist(),
                    "small": res.sizes[0], "large": res.sizes[-1],
                    "small_share": share[0, t][ran].tolist(), "large_share": share[-1, t][ran].tolist(),
                    "small_accuracy": acc[0, t][ran].tolist(), "large_accuracy": acc[-1, t][ran].tolist(),
                    "level": res.level(margin)[t][ran].tolist(), **choice})
    return out


LARGE_AT_LEAST, SMALL_AT_MOST = 4, 1
"""The capacity sweep's precondition, of five seeds at the base budget (the issue's Definition 2
design): the large size learns, the small one does not."""


CAPACITY_SECOND_STAGE = (2, 3)
"""The second stage's frequencies, as multiples of the separating one (1e-2: 2e-2 and 3e-2):
commoner, where the large size should learn in more of its seeds."""


def capacity_candidates(choice: list[dict]) -> list[tuple[str, float]]:
    """The pilot's separating cells, ``(task title, frequency)``, from :func:`pilot_choice`."""
    return [(row["task"], f) for row in choice for f in row["separating"]]


def capacity_choice(res, margin: float, candidates, large_at_least: int = LARGE_AT_LEAST,
                    small_at_most: int = SMALL_AT_MOST, seeds: int = 5) -> dict:
    """The capacity sweep's task and frequency, from the main sweep's results ``res`` at its
    smallest and largest sizes (:class:`~rarescale.sweeps.trends.LadderResults`).

    Each candidate ``(task title, frequency)`` (the pilot's separating cells) *qualifies* when,
    with at least ``seeds`` seeds landed at both sizes, the largest learned it (at ``margin``) in
    at least ``large_at_least`` seeds and the smallest in at most ``small_at_most``. The choice
    is the qualifying cell with the largest difference in seeds learned; between equals, the
    rarer frequency. When none qualifies, ``chosen`` is None: the capacity test cannot be run as
    designed at this scale, and the chapter says so with these counts. Returns ``rows`` (one per
    candidate: task, frequency, seeds, small and large seeds learned, mean accuracies, whether
    it qualifies), ``chosen`` (a row or None), ``how``, and ``possible``: every choice (task,
    frequency) or None that some landing of the seeds still missing could give, so that a single
    entry says the rule's choice is already settled."""
    learned = res.learned(margin)  # [size, seed, task, frequency]
    ran = np.isfinite(res.accuracy)
    titles = list(res.titles)
    rows = []
    for title, f in candidates:
        if title not in titles:
            raise ValueError(f"capacity candidate task {title!r} is not one of {titles}")
        t = titles.index(title)
        j = res.frequency_index(f, exact=True)
        n_small, n_large = int(ran[0, :, t, j].sum()), int(ran[-1, :, t, j].sum())
        small, large = int(learned[0, :, t, j][ran[0, :, t, j]].sum()), int(learned[-1, :, t, j][ran[-1, :, t, j]].sum())
        enough = min(n_small, n_large) >= seeds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            acc_small, acc_large = (float(np.nanmean(res.accuracy[k, :, t, j])) for k in (0, -1))
        rows.append({"task": title, "task_index": t, "frequency": float(f), "seeds": min(n_small, n_large),
                     "small_seeds": n_small, "large_seeds": n_large,
                     "small": res.sizes[0], "large": res.sizes[-1],
                     "small_learned": small, "large_learned": large,
                     "small_accuracy": acc_small, "large_accuracy": acc_large,
                     "qualifies": bool(enough and large >= large_at_least and small <= small_at_most)})
    good = [r for r in rows if r["qualifies"]]
    possible = _possible_choices(rows, large_at_least, small_at_most, seeds)
    if any(r["seeds"] < seeds for r in rows):  # a cell still landing could change the choice
        chosen, how = None, f"waiting for {seeds} seeds at every candidate cell"
    elif good:
        chosen = _pick(good)
        how = (f"{res.sizes[-1]} learned it in {chosen['large_learned']} of {chosen['seeds']} seeds "
               f"and {res.sizes[0]} in {chosen['small_learned']}")
    else:
        chosen, how = None, (f"no candidate cell has {res.sizes[-1]} learning in at least "
                             f"{large_at_least} of {seeds} seeds and {res.sizes[0]} in at most "
                             f"{small_at_most}")
    return {"rows": rows, "chosen": chosen, "how": how, "possible": possible}


def _pick(good: list[dict]) -> dict:
    """The rule's choice among qualifying rows: the largest difference in seeds learned; between
    equals, the rarer frequency."""
    return max(good, key=lambda r: (r["large_learned"] - r["small_learned"], -r["frequency"]))


def _possible_choices(rows, large_at_least: int, small_at_most: int, seeds: int) -> list:
    """Every choice ``(task, frequency)`` (or None) that :func:`capacity_choice` can still make
    when the seeds not yet landed land, each learned or not: one entry when the choice no longer
    depends on them. Only the counts of seeds learned enter the rule, so each candidate's
    completions are the counts it can still reach."""
    from itertools import product

    ways = []
    for r in rows:
        more_small, more_large = max(0, seeds - r["small_seeds"]), max(0, seeds - r["large_seeds"])
        ways.append([(r["small_learned"] + a, r["large_learned"] + b)
                     for a in range(more_small + 1) for b in range(more_large + 1)])
    out = []
    for counts in product(*ways):
        good = [{**r, "small_learned": s, "large_learned": l} for r, (s, l) in zip(rows, counts)
                if l >= large_at_least and s <= small_at_most]
        best = _pick(good) if good else None
        pick = None if best is None else (best["task"], best["frequency"])
        if pick not in out:
            out.append(pick)
    return out


def capacity_view(sweep, candidates):
    """The main sweep restricted to what :func:`capacity_choice` reads: its smallest and largest
    sizes, each task at its candidate frequencies only (no others), every seed."""
    from dataclasses import replace

    own = tuple(tuple(f for title, f in candidates if title == t.title) for t in sweep.tasks)
    return replace(sweep, sizes=(sweep.sizes[0], sweep.sizes[-1]), task_frequencies=own)


CAPACITY_BUDGET = 8
"""The small size's longest budget, as a multiple of the base (the issue's Definition 2 design)."""


def capacity_sweep(chosen: dict, source, source_file: str, budget: int = CAPACITY_BUDGET,
                   name: str | None = None) -> dict:
    """The capacity sweep for :func:`capacity_choice`'s ``chosen`` cell of the sweep ``source``
    (read from ``source_file``), as the dict its YAML holds: the smallest size alone, every seed,
    the task at its frequency, ``budget``× the base budget in whole steps that the budgets
    1×, 2×, … ``budget``× divide exactly, warmup–stable–decay branches at each, the base run's
    warmup in steps, no forgetting curves; compared (``analysis``) with ``source``'s largest size
    at the base budget by ``verdicts.capacity_gap``. Its ``name`` defaults to
    ``<source>_capacity_<budget>x``."""
    import math

    from rarescale.verdicts import CAPACITY_MARGIN

    if budget < 2 or budget & (budget - 1):
        raise ValueError(f"the capacity budget must be a power of two above 1 (its branches halve it); got {budget}")
    spec = source.tasks[chosen["task_index"]]
    base = next(c for c in source.cells() if c.size == source.sizes[0])
    steps = base.steps * budget
    warmup_steps = round(base.warmup * base.steps)
    run = {**source.run, "tokens": steps * base.global_batch * base.seq_len, "schedule": "wsd",
           "decay": 0.2, "budgets": int(math.log2(budget)) + 1, "warmup": warmup_steps / steps,
           "forgetting_steps": 0}
    run.pop("forgetting_lr", None)
    return {"name": name or f"{source.name}_capacity_{budget}x", "sizes": [source.sizes[0]],
            "seeds": list(source.seeds), "frequencies": [chosen["frequency"]],
            "tasks": [spec.to_dict()], "pack": False, "task_seeds": "own", "run": run,
            "analysis": {"statistic": "capacity gap", "compare_with": source_file, "budget": budget,
                         "gap_margin": CAPACITY_MARGIN, "margin": source.analysis.margin,
                         "registered": "before the runs"}}
