"""Section 3's setup (C6): a mixture of linear regression tasks on orthogonal features.

Task ``k`` appears with frequency ``π_k``, has ``m_k`` features ``F_k ∈ R^{d×m_k}``
(orthonormal columns, blocks mutually orthogonal) and spectrum ``λ_{k,j}``. Its
covariance is ``C_k = F_k Λ_k F_kᵀ`` and its teacher ``y = T_k x`` with
``T_k = Λ_k^{1/2} F_kᵀ``, for inputs ``x ~ N(0, I_d)``. Used by C6-C14.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from numbers import Integral, Real

import numpy as np

from rarescale.validation import Config, ConfigError, Interval, check

_PI_TOL = 1e-9


@dataclass(frozen=True)
class TaskMixture(Config):
    """A validated mixture of ``K`` regression tasks (C6).

    Build one with :meth:`power_law` or :meth:`from_arrays`; change one with
    :meth:`replace`.
    """

    d: int
    """Input dimension; at least ``sum(m)``. Directions beyond ``sum(m)`` carry no signal."""
    pi: tuple
    """Task frequencies ``π_k``, non-negative, summing to 1."""
    spectra: tuple
    """Per task, the eigenvalues ``λ_{k,1..m_k}`` of ``C_k`` (positive)."""
    seed: int = 0
    """Seed of the random orientation of the feature blocks."""
    description: str = field(default="", compare=True)
    """How the mixture was built, for tables and legends."""

    def __post_init__(self):
        object.__setattr__(self, "pi", tuple(float(p) for p in np.ravel(self.pi)))
        object.__setattr__(self, "spectra", tuple(tuple(float(v) for v in np.ravel(s))
                                                  for s in self.spectra))
        K = len(self.pi)
        if K == 0:
            raise ConfigError("TaskMixture.pi must hold at least one frequency. Got () instead.")
        if len(self.spectra) != K:
            raise ConfigError(f"TaskMixture.spectra must hold one spectrum per task (K = {K}). "
                              f"Got {len(self.spectra)} instead.")
        for k, p in enumerate(self.pi):
            check("TaskMixture", f"pi[{k}]", p, Interval(Real, 0, 1))
        if abs(sum(self.pi) - 1) > _PI_TOL:
            raise ConfigError(f"TaskMixture.pi must sum to 1. Got {sum(self.pi)!r} instead.")
        for k, s in enumerate(self.spectra):
            if len(s) == 0:
                raise ConfigError(f"TaskMixture.spectra[{k}] must hold at least one eigenvalue. "
                                  "Got () instead.")
            for j, v in enumerate(s):
                check("TaskMixture", f"spectra[{k}][{j}]", v, Interval(Real, 0, None, "neither"))
        check("TaskMixture", "d", self.d, Interval(Integral, sum(self.m), None))
        check("TaskMixture", "seed", self.seed, Interval(Integral, 0, None))

    # --- constructors ---------------------------------------------------------------

    @classmethod
    def power_law(cls, K: int = 8, m=6, a: float = 1.5, b=1.0, d: int | None = None,
                  seed: int = 0, unit_trace: bool = False) -> "TaskMixture":
        """``π_k ∝ k^(−a)`` and ``λ_{k,j} ∝ j^(−b_k)``.

        ``m`` and ``b`` are a scalar (shared) or one value per task; a smaller
        ``b_k`` decays slower: a more complex task. Spectra start at
        ``λ_{k,1} = 1``, or with ``unit_trace`` are scaled to ``tr(C_k) = 1`` (every
        task carries the same signal, spread over more directions when complex).
        ``d`` defaults to ``sum(m)``.
        """
        check("TaskMixture.power_law", "K", K, Interval(Integral, 1, None))
        m = np.broadcast_to(np.asarray(m), (K,))
        b = np.broadcast_to(np.asarray(b, dtype=float), (K,))
        for k in range(K):
            check("TaskMixture.power_law", f"m[{k}]", m[k].item(), Interval(Integral, 1, None))
            check("TaskMixture.power_law", f"b[{k}]", float(b[k]), Interval(Real, 0, None))
        check("TaskMixture.power_law", "a", float(a), Interval(Real, 0, None))
        pi = np.arange(1, K + 1, dtype=float) ** (-float(a))
        spectra = [np.arange(1, int(m[k]) + 1, dtype=float) ** (-b[k]) for k in range(K)]
        if unit_trace:
            spectra = [s / s.sum() for s in spectra]
        b_text = f"{b[0]:g}" if np.all(b == b[0]) else "[" + ", ".join(f"{v:g}" for v in b) + "]"
        m_text = f"{int(m[0])}" if np.all(m == m[0]) else str([int(v) for v in m])
        return cls(d=int(d if d is not None else m.sum()), pi=tuple(pi / pi.sum()),
                   spectra=tuple(map(tuple, spectra)), seed=seed,
                   description=f"K={K}, m={m_text}, a={a:g}, b={b_text}"
                   + (", unit trace" if unit_trace else ""))

    @classmethod
    def from_arrays(cls, pi, spectra, d: int | None = None, seed: int = 0,
                    normalize: bool = False) -> "TaskMixture":
        """From explicit frequencies and spectra; ``normalize`` rescales ``pi`` to sum 1."""
        pi = np.asarray(pi, dtype=float)
        if normalize:
            if np.any(pi < 0) or pi.sum() <= 0:
                raise ConfigError(f"TaskMixture.pi must be non-negative with a positive sum. "
                                  f"Got {pi.tolist()!r} instead.")
            pi = pi / pi.sum()
        spectra = tuple(tuple(np.ravel(s)) for s in spectra)
        d = int(d if d is not None else sum(len(s) for s in spectra))
        return cls(d=d, pi=tuple(pi), spectra=spectra, seed=seed, description="explicit")

    # --- derived quantities -----------------------------------------------------------

    @property
    def K(self) -> int:
        return len(self.pi)

    @property
    def m(self) -> tuple:
        """Features per task ``m_k``."""
        return tuple(len(s) for s in self.spectra)

    @property
    def m_max(self) -> int:
        return max(self.m)

    @property
    def offsets(self) -> np.ndarray:
        """Start column of each task's block in :attr:`features`; (K + 1,)."""
        return np.concatenate([[0], np.cumsum(self.m)])

    @cached_property
    def features(self) -> np.ndarray:
        """All feature columns ``[F_1 … F_K]``, (d, sum m), orthonormal; from :attr:`seed`."""
        rng = np.random.default_rng(self.seed)
        q, r = np.linalg.qr(rng.standard_normal((self.d, sum(self.m))))
        return q * np.sign(np.diag(r))

    def feature_block(self, k: int) -> np.ndarray:
        """``F_k``, (d, m_k)."""
        o = self.offsets
        return self.features[:, o[k]:o[k + 1]]

    def covariance(self, k: int) -> np.ndarray:
        """``C_k = F_k Λ_k F_kᵀ``, (d, d)."""
        F = self.feature_block(k)
        return (F * np.asarray(self.spectra[k])) @ F.T

    @cached_property
    def covariances(self) -> np.ndarray:
        """All ``C_k``, (K, d, d)."""
        return np.stack([self.covariance(k) for k in range(self.K)])

    @cached_property
    def mixture_matrix(self) -> np.ndarray:
        """``M = Σ_k π_k C_k``, (d, d)."""
        return np.einsum("k,kij->ij", np.asarray(self.pi), self.covariances)

    def teacher(self, k: int) -> np.ndarray:
        """``T_k = Λ_k^{1/2} F_kᵀ``, (m_k, d), so that ``T_kᵀ T_k = C_k``."""
        return np.sqrt(np.asarray(self.spectra[k]))[:, None] * self.feature_block(k).T

    @cached_property
    def teachers(self) -> np.ndarray:
        """All teachers padded to ``m_max`` rows with zeros, (K, m_max, d)."""
        T = np.zeros((self.K, self.m_max, self.d))
        for k in range(self.K):
            T[k, : self.m[k]] = self.teacher(k)
        return T

    @property
    def traces(self) -> np.ndarray:
        """``tr(C_k) = Σ_j λ_{k,j}``, (K,)."""
        return np.array([sum(s) for s in self.spectra])

    # --- sampling -----------------------------------------------------------------

    def sample_tasks(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Task ids of ``batch`` samples drawn i.i.d. from ``π``."""
        return rng.choice(self.K, size=batch, p=np.asarray(self.pi))

    def tasks_from_counts(self, counts) -> np.ndarray:
        """Task ids holding exactly ``counts[k]`` samples of task ``k`` (forced batches)."""
        counts = np.asarray(counts)
        if counts.shape != (self.K,) or np.any(counts < 0):
            raise ConfigError(f"counts must be {self.K} non-negative integers. "
                              f"Got {counts.tolist()!r} instead.")
        return np.repeat(np.arange(self.K), counts)

    def sample(self, tasks, rng: np.random.Generator):
        """Inputs and targets for the given task ids.

        Returns ``x`` (B, d) standard normal, ``y`` (B, m_max) with ``y = T_k x``
        padded with zeros beyond ``m_k``, and the task ids (B,).
        """
        tasks = np.asarray(tasks)
        x = rng.standard_normal((len(tasks), self.d))
        y = np.einsum("bmd,bd->bm", self.teachers[tasks], x)
        return x, y, tasks

    def sample_batch(self, batch: int, rng: np.random.Generator):
        """A batch with tasks drawn from ``π``: ``(x, y, tasks)``."""
        return self.sample(self.sample_tasks(batch, rng), rng)
