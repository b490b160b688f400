"""Section 3.2: why width lets rare tasks survive (C9-C14).

Common tasks move the encoder only through what it does not yet explain (C10);
once the width passes a critical width (C11) their pull is weak, and a rare
feature whose utility beats the weakest common direction it would displace is
stable (C12). Below that, a rare task is learned when observed and forgotten in
between: *update and forget* (C14).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from rarescale.linear.mixture import TaskMixture
from rarescale.validation import ConfigError, Interval, check


def riemannian_gradient(mixture: TaskMixture, U: np.ndarray, task: int | None = None) -> np.ndarray:
    """C9: the Riemannian gradient of the loss (optimal decoders) at encoder ``U`` (d, N).

    Per task ``g_k = −2 π_k (I − P) C_k U`` with ``P = U Uᵀ``; for ``task=None``
    the mixture gradient ``−2 (I − P) M U``.
    """
    C = mixture.mixture_matrix if task is None else mixture.pi[task] * mixture.covariances[task]
    CU = C @ U
    return -2 * (CU - U @ (U.T @ CU))


def common_tasks(mixture: TaskMixture, mass: float = 0.9) -> np.ndarray:
    """C10: the fewest most frequent tasks whose frequencies sum to at least ``mass``."""
    check("common_tasks", "mass", mass, Interval(Real, 0, 1, "left"))
    order = np.argsort(-np.asarray(mixture.pi), kind="stable")
    cumulative = np.cumsum(np.asarray(mixture.pi)[order])
    count = int(np.searchsorted(cumulative, mass - 1e-12) + 1)
    return np.sort(order[:count])


def common_matrix(mixture: TaskMixture, tasks) -> np.ndarray:
    """``M_S = Σ_{k ∈ S} π_k C_k``, (d, d)."""
    tasks = np.asarray(tasks, dtype=int)
    return np.einsum("k,kij->ij", np.asarray(mixture.pi)[tasks], mixture.covariances[tasks])


def common_eigenvalues(mixture: TaskMixture, tasks) -> np.ndarray:
    """The eigenvalues ``μ_1 ≥ μ_2 ≥ …`` of ``M_S`` (the utilities of the common tasks)."""
    mu = np.concatenate([mixture.pi[k] * np.asarray(mixture.spectra[k]) for k in tasks])
    return np.sort(mu)[::-1]


def common_residual(mixture: TaskMixture, U: np.ndarray, tasks) -> float:
    """C10: ``R_S(U) = tr((I − P) M_S)``, the common signal the encoder does not explain.

    ``Σ_{k∈S} π_k tr(C_k) ℓ_k`` with ``ℓ_k`` the normalised losses of
    :func:`theory.task_losses`, which are sums of squares: free of the cancellation
    in ``tr(M_S) − tr(Uᵀ M_S U)`` when the residual is tiny.
    """
    from rarescale.linear import theory

    return float(theory.weighted_loss(mixture, theory.task_losses(mixture, U), tasks))


def common_gradient(mixture: TaskMixture, U: np.ndarray, tasks) -> np.ndarray:
    """C10: the aggregate common-task gradient ``Σ_{k∈S} g_k = −2 (I − P) M_S U``."""
    MU = common_matrix(mixture, tasks) @ U
    return -2 * (MU - U @ (U.T @ MU))


def common_gradient_bound(mixture: TaskMixture, U: np.ndarray, tasks) -> float:
    """C10: ``‖Σ_{k∈S} g_k‖_F ≤ 2 sqrt(λ_max(M_S) · R_S(U))``; returns the right-hand side."""
    lam_max = common_eigenvalues(mixture, tasks)[0]
    return float(2 * np.sqrt(lam_max * max(common_residual(mixture, U, tasks), 0.0)))


def best_common_residual(common_eigs: np.ndarray, N: int) -> float:
    """C11: ``r_S(N) = Σ_{i>N} μ_i``, what the best width-``N`` encoder leaves of the common tasks."""
    return float(np.sum(np.asarray(common_eigs)[N:]))


def critical_width(common_eigs: np.ndarray, eps: float) -> int:
    """C11: ``N_c(ε) = min{N : r_S(N) ≤ ε}``."""
    check("critical_width", "eps", eps, Interval(Real, 0, None))
    mu = np.sort(np.asarray(common_eigs))[::-1]
    tails = np.concatenate([np.cumsum(mu[::-1])[::-1], [0.0]])  # tails[N] = Σ_{i>N} μ_i
    return int(np.argmax(tails <= eps + 1e-15))


def rare_learn_width(common_eigs: np.ndarray, nu_r: float) -> int:
    """C12: ``N_r* = 1 + |{i : μ_i > ν_r}|``, the width from which a rare direction is stable."""
    return 1 + int(np.sum(np.asarray(common_eigs) > nu_r))


def stability_margin(common_eigs: np.ndarray, N: int, nu_r: float) -> float:
    """C12: the stability margin ``μ_N − ν_r`` of the common solution at width ``N``.

    Rotating the weakest common column toward the rare direction by an angle θ
    changes the loss by ``sin²θ (μ_N − ν_r)``. A positive margin means the
    rotation costs loss: the common solution is stable and the rare direction is
    pushed back out. A negative one means it pays: the rare direction is learned.
    ``μ_N`` is 0 where ``N`` exceeds the number of common directions.
    """
    mu = np.sort(np.asarray(common_eigs))[::-1]
    check("stability_margin", "N", N, Interval(Integral, 1, None))
    mu_N = mu[N - 1] if N <= len(mu) else 0.0
    return float(mu_N - nu_r)


def signal_captured(U: np.ndarray, C: np.ndarray, normalized: bool = True):
    """C13: ``S = tr(Uᵀ C U) / tr(C)``, or normalised against a random encoder,
    ``Ŝ = (S − N/d) / (1 − N/d)`` (0: no better than random; 1: all of it).

    ``U`` is (..., d, N) with orthonormal columns.
    """
    d, N = U.shape[-2], U.shape[-1]
    S = np.einsum("...in,ij,...jn->...", U, C, U) / np.trace(C)
    if not normalized:
        return S
    if N >= d:
        raise ConfigError(f"signal_captured needs N < d to normalise. Got N = {N}, d = {d}.")
    return (S - N / d) / (1 - N / d)


def normalized_signal(S, N, d):
    """C13: ``Ŝ = (S − N/d) / (1 − N/d)`` for raw signals ``S`` at widths ``N``."""
    N = np.asarray(N, dtype=float)
    return (np.asarray(S) - N / d) / (1 - N / d)


# --- C14: update and forget, a two-direction model (paper Figure 11, App. C.4) ----------
#
# One encoder column ``u = cos θ e_c + sin θ e_r`` shares its place between the
# strongest competing direction ``e_c`` (utility ``μ``) and the rare direction
# ``e_r``. Between injections only the competitor pulls: the loss is ``−μ cos²θ``
# and gradient flow with rate ``η`` gives ``dθ/dt = −η μ sin 2θ``, so
# ``tan θ(t) = tan θ_0 · exp(−2 μ ∫η)``. The rare signal this column holds is
# ``s = sin²θ``, whose log-odds ``log(s / (1 − s)) = log tan²θ`` fall linearly in
# ``∫η`` at slope ``4 μ``. An injection rotates the column back toward ``e_r``.


def competing_utility(mixture: TaskMixture, rare: int, N: int) -> float:
    """C14: the utility that pulls a held rare direction out, between injections, at width ``N``.

    While the rare task is absent the encoder's other ``N − 1`` columns hold the
    best ``N − 1`` directions of the other tasks; the one that would take the rare
    direction's column is the ``N``-th largest utility of the other tasks (0
    beyond their number of features: then nothing competes).
    """
    nu = np.sort(np.concatenate([mixture.pi[k] * np.asarray(mixture.spectra[k])
                                 for k in range(mixture.K) if k != rare]))[::-1]
    return float(nu[N - 1]) if N <= len(nu) else 0.0


def logit(s):
    s = np.clip(np.asarray(s, dtype=float), 1e-9, 1 - 1e-9)
    return np.log(s / (1 - s))


def forgetting_curve(s0: float, mu: float, lr_integral, gain: float = 1.0):
    """C14: the rare signal ``s(t)`` between injections, from ``s0`` just after one.

    ``logit s(t) = logit s0 − 4 · gain · μ · ∫η``, with ``lr_integral`` the
    integral of the learning rate since ``s0``; ``gain = 1`` is plain gradient flow
    on the reduced loss.
    """
    z = logit(s0) - 4 * gain * mu * np.asarray(lr_integral, dtype=float)
    return 1 / (1 + np.exp(-z))


def fit_forgetting_gain(segments, mu: float) -> float:
    """Least-squares ``gain`` of :func:`forgetting_curve` over several decay segments.

    ``segments`` is a list of ``(lr_integral, s)`` arrays, each starting just
    after an injection; each segment keeps its own intercept (its own ``s0``).
    """
    num = den = 0.0
    for x, s in segments:
        x, y = np.asarray(x, dtype=float), logit(s)
        xc = x - x.mean()
        num += float(xc @ (y - y.mean()))
        den += float(xc @ xc)
    if den == 0 or mu <= 0:
        raise ConfigError("fit_forgetting_gain needs segments with spread in time and mu > 0.")
    return -num / den / (4 * mu)
