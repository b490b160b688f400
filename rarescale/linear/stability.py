"""C12 as the theory says it: the width from which a rare direction is learned.

Proposition 6 rotates the weakest column of the common solution toward a rare direction ``v``
and finds the loss change ``sin²θ (μ_N − ν_r)``: the common-only solution is unstable against
``v`` once ``ν_r`` beats the weakest common utility it would displace. Instability is not
learning, though. Descent on the Grassmannian goes to the top-``N`` eigenspace of the *full*
``M`` (C7), other rare tasks included, so ``v`` is in the width-``N`` minimiser exactly when its
utility ranks among the ``N`` largest of all of ``M``'s utilities:

    N*(v) = 1 + |{features u ≠ v : ν_u ranks above ν_v}|.

With one rare task this is the paper's rule ``1 + |{i : μ_i > ν_r}|`` (the common block's
eigenvalues are then all the others); with several, the common-only rule undercounts, as it
ignores the rare directions that outrank ``v``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from rarescale.linear.mixture import TaskMixture
from rarescale.linear.theory import optimal_encoder, task_losses, utility_ranking
from rarescale.validation import Interval, check


def direction_width(mixture: TaskMixture, task: int, index: int = 0) -> int:
    """C12: the width from which feature ``index`` of ``task`` is in the optimal encoder: one
    plus its position in the ranking of all utilities of ``M`` (:func:`utility_ranking`), found
    by its (task, index) identity, never by comparing a recomputed utility with itself. Ties
    rank in task order, as the ranking does."""
    check("direction_width", "task", task, Interval(Integral, 0, mixture.K - 1))
    check("direction_width", "index", index, Interval(Integral, 0, mixture.m[task] - 1))
    _, tasks, indices = utility_ranking(mixture)
    return int(np.flatnonzero((tasks == task) & (indices == index))[0]) + 1


def common_only_width(mixture: TaskMixture, common, task: int, index: int = 0) -> int:
    """The paper's rule: ``1 + |{i : μ_i > ν_r}|`` over the eigenvalues ``μ`` of the common
    block ``common`` alone (:func:`rarescale.linear.interference.rare_learn_width`)."""
    from rarescale.linear.interference import common_eigenvalues, rare_learn_width

    nu = mixture.pi[task] * mixture.spectra[task][index]
    return rare_learn_width(common_eigenvalues(mixture, common), nu)


def whole_task_width(mixture: TaskMixture, task: int, widths, level: float = 0.5) -> int | None:
    """C8 + C13's prediction for a whole task: the smallest of ``widths`` from which the optimal
    encoder (the top-``N`` eigenspace of ``M``, C7/C8) captures a normalised signal
    ``Ŝ = (S − N/d)/(1 − N/d)`` of at least ``level`` of ``task`` at that width and every larger
    one of ``widths`` (C13); ``None`` if none does. A task of several directions crosses when
    enough of its trace is in, not when its first direction is (:func:`direction_width`)."""
    widths = sorted(int(n) for n in widths)
    ok = []
    for n in widths:
        S = 1 - task_losses(mixture, optimal_encoder(mixture, n))[task]
        ok.append((S - n / mixture.d) / (1 - n / mixture.d) >= level)
    for i, n in enumerate(widths):
        if all(ok[i:]):
            return n
    return None


def direction_signal(U: np.ndarray, mixture: TaskMixture, task: int, index: int = 0) -> float:
    """The observable of C12: ``‖Uᵀ v‖²``, the share of the rare direction ``v`` that the
    encoder ``U`` (d, N, orthonormal columns) spans (1: learned, 0: absent)."""
    v = mixture.feature_block(task)[:, index]
    return float(np.sum((np.asarray(U).T @ v) ** 2))


SEPARATED = {"common_pi": (0.48, 0.25, 0.14), "common_spectrum": (1.0, 0.6, 0.36, 0.216),
             "rare_utilities": (0.068, 0.04, 0.022)}
"""C12's test mixture (:func:`separated_mixture`): three common tasks of four features, and three
rare rank-one tasks (eigenvalue 1, so their frequency is their utility)."""


def separated_mixture(d: int = 20, seed: int = 0) -> TaskMixture:
    """A mixture on which C12 can fail: every rare utility at least 20% from every other utility
    of ``M``, and the rare tasks outranking each other, so that the paper's common-only rule and
    the full-``M`` rule predict different widths for the second and third (10, 12, 13 against
    10, 13, 15)."""
    common = [p * np.asarray(SEPARATED["common_spectrum"]) for p in SEPARATED["common_pi"]]
    rare = list(SEPARATED["rare_utilities"])
    pi = list(SEPARATED["common_pi"]) + rare
    spectra = [tuple(np.asarray(SEPARATED["common_spectrum"])) for _ in common] + [(1.0,)] * len(rare)
    return TaskMixture.from_arrays(pi, spectra, d=d, seed=seed)


def utility_separation(mixture: TaskMixture, tasks) -> float:
    """The smallest ratio (≥ 1) between the utility of a direction of ``tasks`` and any other
    utility of ``M``: 1.2 means every such direction is at least 20% from every other."""
    nu, task, index = utility_ranking(mixture)
    worst = np.inf
    for k in tasks:
        for j in range(mixture.m[k]):
            mine = (task == k) & (index == j)
            v = nu[mine][0]
            others = nu[~mine]
            worst = min(worst, float(np.min(np.maximum(others / v, v / others))))
    return worst


def c12_test(mixture: TaskMixture, widths, signal, common, rare, level: float = 0.5) -> dict:
    """C12 on measured students: per rare rank-one task, the first width from which its direction
    signal ``‖Uᵀv‖²`` is at least ``level`` in every seed (and at every larger width of the
    sweep), against the full-``M`` rule (:func:`direction_width`) and the common-only rule.
    ``signal`` is (widths, seeds, rare tasks). *Reproduced* only where the measured width equals
    the full-``M`` prediction for every rare direction."""
    order = np.argsort(widths)
    ws = np.asarray(widths)[order]
    ok = (np.asarray(signal)[order] >= level).all(axis=1)  # (widths ascending, rare)
    stays = np.logical_and.accumulate(ok[::-1], axis=0)[::-1]
    measured = [int(ws[stays[:, i].argmax()]) if stays[:, i].any() else None for i in range(len(rare))]
    full = [direction_width(mixture, k) for k in rare]
    common_only = [common_only_width(mixture, common, k) for k in rare]
    return {"measured": measured, "full": full, "common_only": common_only,
            "reproduced": measured == full, "common_only_fails": measured != common_only}
