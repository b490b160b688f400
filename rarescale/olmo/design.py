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
    """The rule on a pilot's results (:class:`~rarescale.olmo.ladder.LadderResults`), per task:
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
