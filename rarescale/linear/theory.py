"""Section 3.1: what a width-``N`` encoder learns (C7, C8).

With the optimal decoder ``D_k = T_k U`` the mixture loss is
``L(U) = tr(M) − tr(Uᵀ M U)`` (C7), so a width-``N`` minimiser spans the top-``N``
eigenspace of ``M = Σ π_k C_k``. Because the feature blocks are orthogonal, the
eigenvalues of ``M`` are the *utilities* ``ν_{k,j} = π_k λ_{k,j}`` (C8): features
are learned in order of utility, whatever task they belong to.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from rarescale.linear.mixture import TaskMixture
from rarescale.validation import ConfigError, Interval, check


def utilities(mixture: TaskMixture) -> list[np.ndarray]:
    """C8: per task, the utilities ``ν_{k,j} = π_k λ_{k,j}`` (a list of (m_k,) arrays)."""
    return [mixture.pi[k] * np.asarray(s) for k, s in enumerate(mixture.spectra)]


def utility_ranking(mixture: TaskMixture):
    """All features sorted by utility, largest first.

    Returns ``(nu, task, index)``: the sorted utilities and, for each, its task
    and its position ``j`` in that task's spectrum. Ties keep task order.
    """
    nus = utilities(mixture)
    nu = np.concatenate(nus)
    task = np.concatenate([np.full(len(v), k) for k, v in enumerate(nus)])
    index = np.concatenate([np.arange(len(v)) for v in nus])
    order = np.argsort(-nu, kind="stable")
    return nu[order], task[order], index[order]


def _check_width(mixture: TaskMixture, N) -> int:
    check("width", "N", N, Interval(Integral, 0, mixture.d))
    return int(N)


def optimal_encoder(mixture: TaskMixture, N: int) -> np.ndarray:
    """C7: an orthonormal basis (d, N) of the top-``N`` eigenspace of ``M``."""
    N = _check_width(mixture, N)
    evals, evecs = np.linalg.eigh(mixture.mixture_matrix)
    return evecs[:, np.argsort(-evals, kind="stable")[:N]]


def features_learned(mixture: TaskMixture, N: int) -> np.ndarray:
    """C8: ``n_k(N)``, how many features of each task are among the ``N`` largest utilities; (K,)."""
    N = _check_width(mixture, N)
    _, task, _ = utility_ranking(mixture)
    return np.bincount(task[:N], minlength=mixture.K)


def learn_width(mixture: TaskMixture, k: int) -> int:
    """C8: the width from which task ``k`` keeps all its features,
    ``|{(k', j) : ν_{k',j} ≥ min_j ν_{k,j}}|``."""
    check("learn_width", "k", k, Interval(Integral, 0, mixture.K - 1))
    nus = utilities(mixture)
    return int(np.sum(np.concatenate(nus) >= nus[k].min()))


def min_width(mixture: TaskMixture, n) -> int:
    """C8: the minimum width at which every task ``k`` keeps at least ``n[k]`` features,
    ``|{(k', j) : ν_{k',j} ≥ min_k ν_{k, n_k}}|`` over tasks with ``n_k ≥ 1``."""
    n = np.asarray(n)
    if n.shape != (mixture.K,):
        raise ConfigError(f"n must hold one count per task (K = {mixture.K}). Got shape {n.shape}.")
    nus = [np.sort(v)[::-1] for v in utilities(mixture)]
    for k in range(mixture.K):
        check("min_width", f"n[{k}]", int(n[k]), Interval(Integral, 0, mixture.m[k]))
    needed = [nus[k][n[k] - 1] for k in range(mixture.K) if n[k] > 0]
    if not needed:
        return 0
    return int(np.sum(np.concatenate(nus) >= min(needed)))


def predicted_task_loss(mixture: TaskMixture, N: int) -> np.ndarray:
    """Per-task loss of the optimal width-``N`` model, normalised by ``tr(C_k)``; (K,).

    Task ``k`` keeps its ``n_k(N)`` features of largest utility, which are its
    largest eigenvalues: ``1 − Σ_{j kept} λ_{k,j} / tr(C_k)``.
    """
    N = _check_width(mixture, N)
    nu, task, index = utility_ranking(mixture)
    kept = np.zeros(mixture.K)
    for k, j in zip(task[:N], index[:N]):
        kept[k] += mixture.spectra[k][j]
    return 1 - kept / mixture.traces


def predicted_total_loss(mixture: TaskMixture, N: int) -> float:
    """C7/C8: the residual mixture loss ``Σ_{i>N} ν_(i)`` of the optimal width-``N`` model."""
    N = _check_width(mixture, N)
    nu, _, _ = utility_ranking(mixture)
    return float(nu[N:].sum())


def mixture_loss(mixture: TaskMixture, U: np.ndarray) -> float:
    """C7: ``L(U) = tr(M) − tr(Uᵀ M U)``, the loss of encoder ``U`` with optimal decoders."""
    M = mixture.mixture_matrix
    return float(np.trace(M) - np.einsum("in,ij,jn->", U, M, U))


def task_losses(mixture: TaskMixture, U: np.ndarray) -> np.ndarray:
    """C7: per task ``tr(C_k) − tr(Uᵀ C_k U)`` with optimal decoders, normalised by ``tr(C_k)``.

    ``U`` is (..., d, n); returns (..., K). Computed as
    ``Σ_j λ_kj ‖(I − U Uᵀ) f_kj‖²``, a sum of squares: equal to the trace form for
    orthonormal ``U``, and free of its cancellation when a task is (nearly) fully
    captured or ``U`` is orthonormal only to float32 precision.
    """
    F = mixture.features  # (d, sum m)
    outside = F - U @ (np.swapaxes(U, -1, -2) @ F)  # (I − P) F, (..., d, sum m)
    weighted = np.square(outside).sum(-2) * np.concatenate(mixture.spectra)  # (..., sum m)
    return np.add.reduceat(weighted, mixture.offsets[:-1], axis=-1) / mixture.traces


def weighted_loss(mixture: TaskMixture, task_loss, tasks=None):
    """The mixture loss ``Σ_{k ∈ tasks} π_k tr(C_k) ℓ_k`` of normalised per-task losses.

    ``task_loss`` is (..., K); ``tasks`` defaults to all of them.
    """
    weights = np.asarray(mixture.pi) * mixture.traces
    if tasks is not None:
        keep = np.zeros(mixture.K, dtype=bool)
        keep[np.asarray(tasks, dtype=int)] = True
        weights = np.where(keep, weights, 0.0)
    return np.asarray(task_loss) @ weights


def subspace_overlap(U: np.ndarray, V: np.ndarray) -> float:
    """Mean squared cosine of the principal angles between span(U) and span(V).

    Both have orthonormal columns and the same width; 1 means the same subspace.
    """
    if U.shape[1] == 0:
        return 1.0
    s = np.linalg.svd(U.T @ V, compute_uv=False)
    return float(np.mean(s**2))


def monte_carlo_loss(mixture: TaskMixture, U: np.ndarray, samples: int, seed: int,
                     chunk: int = 20000):
    """C7 by sampling: the mixture loss of encoder ``U`` with optimal decoders ``D_k = T_k U``.

    Draws ``samples`` inputs with tasks from ``π`` and averages
    ``‖T_k x − T_k U Uᵀ x‖²``. Returns ``(total, per_task)``, per task normalised
    by ``tr(C_k)``; compare with :func:`mixture_loss` and :func:`task_losses`.
    """
    rng = np.random.default_rng(seed)
    err_sum, per_task, count = 0.0, np.zeros(mixture.K), np.zeros(mixture.K)
    done = 0
    while done < samples:
        x, y, tasks = mixture.sample_batch(min(chunk, samples - done), rng)
        pred = np.einsum("bmn,bn->bm", mixture.teachers[tasks] @ U, x @ U)
        err = np.square(y - pred).sum(-1)
        err_sum += err.sum()
        np.add.at(per_task, tasks, err)
        count += np.bincount(tasks, minlength=mixture.K)
        done += len(tasks)
    return err_sum / samples, per_task / np.maximum(count, 1) / mixture.traces
