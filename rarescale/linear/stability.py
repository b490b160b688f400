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
from rarescale.linear.theory import utility_ranking
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


def direction_signal(U: np.ndarray, mixture: TaskMixture, task: int, index: int = 0) -> float:
    """The observable of C12: ``‖Uᵀ v‖²``, the share of the rare direction ``v`` that the
    encoder ``U`` (d, N, orthonormal columns) spans (1: learned, 0: absent)."""
    v = mixture.feature_block(task)[:, index]
    return float(np.sum((np.asarray(U).T @ v) ** 2))
