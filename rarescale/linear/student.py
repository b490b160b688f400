"""The student of C6, trained at many widths and seeds in one vectorised loop.

A student of width ``N`` has a shared encoder ``U ∈ R^{d×N}`` with orthonormal
columns and a linear decoder ``D_k ∈ R^{m_k×N}`` per task; it predicts
``ŷ = D_k Uᵀ x``. Encoder and decoders are trained with Adam on mini-batches in
which each sample's task is drawn from ``π``; after each step the encoder is
mapped back onto the Stiefel manifold by a QR retraction (the Q factor with a
positive-diagonal R, computed as Cholesky-QR, which is exact and well
conditioned for the nearly orthonormal matrices an Adam step leaves).

**Vectorisation.** Every (width, stream) pair is one slice of a batched model:
encoders are padded to the largest width of their group of similar widths
(:func:`width_groups`) and masked. The first
``N`` columns of the Q factor of a ``d × N_max`` matrix span (and equal) those of
its first ``N`` columns, so a masked slice *is* a width-``N`` student: its masked
parameters stay zero, and Adam, being element-wise, never couples slices. A
*stream* is a seeded source of batches; slices that share a stream see the same
data and start from the same encoder (the Q factor of the first ``N`` columns
of one Gaussian matrix), so a sweep over widths is a controlled comparison.

**The mini-batch loss.** The loss of a batch is
``Σ_b ‖T_{k_b} x_b − D_{k_b} Uᵀ x_b‖² / B = Σ_k tr(R_k Σ̂_k R_kᵀ)`` with
``R_k = T_k − D_k Uᵀ`` and ``Σ̂_k = Σ_{b: k_b = k} x_b x_bᵀ / B``: the same loss
and gradient as summing over samples, computed from each task's second moments
(its cost does not grow with the batch). Each sample is weighted ``1 / B`` with
``B`` the nominal batch size, so a batch enlarged by injected samples (chapter
3) adds their gradient on top of the usual one instead of diluting it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Callable, Sequence

import numpy as np
import torch

from rarescale.linear import theory
from rarescale.counts import eval_steps, running_increment
from rarescale.linear.mixture import TaskMixture
from rarescale.validation import Config, ConfigError, Interval, Options, check, check_all


@dataclass(frozen=True)
class StudentConfig(Config):
    """Training of a sweep of students (C6, Figure 2)."""

    widths: tuple = (1, 2, 4, 8)
    """Encoder widths ``N`` to train, each at least 1 and at most ``d``."""
    seeds: tuple = (0, 1, 2)
    """One data stream and initialisation per seed."""
    steps: int = 2000
    """Adam steps."""
    batch: int = 256
    """Samples per batch (before any injection)."""
    lr: float = 0.01
    """Peak learning rate of Adam (encoder and decoders)."""
    schedule: str = "cosine"
    """``"cosine"`` decays the rate to ``final_lr · lr``; ``"constant"`` keeps it."""
    final_lr: float = 0.01
    """Final rate over peak rate for the cosine schedule."""
    evals: int = 24
    """Evaluation points over the steps (step 0 and the last included)."""
    eval_spacing: str = "log"
    """``"log"`` spaces evaluations geometrically, ``"linear"`` evenly."""
    dtype: str = "float32"
    """Torch dtype of the training loop."""

    _constraints = {
        "steps": Interval(Integral, 1, None), "batch": Interval(Integral, 1, None),
        "lr": Interval(Real, 0, None, "neither"), "final_lr": Interval(Real, 0, 1),
        "evals": Interval(Integral, 2, None),
        "schedule": Options(frozenset({"cosine", "constant"})),
        "eval_spacing": Options(frozenset({"log", "linear"})),
        "dtype": Options(frozenset({"float32", "float64"})),
    }

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.widths or not self.seeds:
            raise ConfigError("StudentConfig.widths and .seeds must be non-empty.")
        for i, w in enumerate(self.widths):
            check("StudentConfig", f"widths[{i}]", w, Interval(Integral, 1, None))
        check_all("StudentConfig", {k: getattr(self, k) for k in self._constraints},
                  self._constraints)

    def learning_rate(self, step: int) -> float:
        if self.schedule == "constant":
            return self.lr
        frac = step / max(self.steps - 1, 1)
        floor = self.lr * self.final_lr
        return floor + 0.5 * (self.lr - floor) * (1 + math.cos(math.pi * frac))


# --- data streams ---------------------------------------------------------------------


@dataclass
class Stream:
    """A seeded source of batches: task ids from ``π``, i.i.d. (the plain mixture).

    Subclasses change :meth:`tasks` (chapter 3's injection schedules).
    """

    mixture: TaskMixture
    batch: int
    seed: int
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self):
        self.rng = np.random.default_rng([self.seed, 7919])  # data stream of this seed

    def tasks(self, step: int) -> np.ndarray:
        return self.mixture.sample_tasks(self.batch, self.rng)



@dataclass
class ReweightedStream(Stream):
    """Tasks drawn i.i.d. from frequencies ``pi`` other than the mixture's (re-sampling)."""

    pi: tuple = ()

    def __post_init__(self):
        super().__post_init__()
        pi = np.asarray(self.pi, dtype=float)
        if pi.shape != (self.mixture.K,) or np.any(pi < 0) or abs(pi.sum() - 1) > 1e-9:
            raise ConfigError(f"ReweightedStream.pi must be {self.mixture.K} frequencies summing "
                              f"to 1. Got {list(self.pi)!r} instead.")
        self.p = pi / pi.sum()

    def tasks(self, step: int) -> np.ndarray:
        return self.rng.choice(self.mixture.K, size=self.batch, p=self.p)



@dataclass
class InjectionStream(Stream):
    """C14: the rare task withheld for ``delta`` steps, then injected all at once.

    Every step carries ``batch · (1 − π_r)`` samples of the other tasks, drawn
    from ``π`` restricted to them; every ``delta``-th step (steps ``delta − 1,
    2·delta − 1, …``) adds ``delta · π_r · batch`` samples of the rare task. Counts
    are whole numbers taken from the running totals (``floor((t+1)·c) −
    floor(t·c)``), so over ``t`` steps each total is within one sample of its
    target and the rare task's share of the samples tends to ``π_r`` exactly, as
    in the plain mixture; ``delta = 1`` is the plain mixture with its counts fixed.
    """

    rare: int = 0
    delta: int = 1

    def __post_init__(self):
        super().__post_init__()
        check("InjectionStream", "rare", self.rare, Interval(Integral, 0, self.mixture.K - 1))
        check("InjectionStream", "delta", self.delta, Interval(Integral, 1, None))
        pi = np.asarray(self.mixture.pi, dtype=float)
        self.pi_rare = pi[self.rare]
        others = pi.copy()
        others[self.rare] = 0.0
        if others.sum() <= 0:
            raise ConfigError("InjectionStream needs at least one task other than the rare one.")
        self.others = others / others.sum()
        self.common_rate = self.batch * (1 - self.pi_rare)  # other-task samples per step
        self.rare_count = self.delta * self.pi_rare * self.batch  # rare samples per injection

    def is_injection(self, step: int) -> bool:
        return (step + 1) % self.delta == 0

    def tasks(self, step: int) -> np.ndarray:
        common = running_increment(self.common_rate, step)
        tasks = self.rng.choice(self.mixture.K, size=common, p=self.others)
        if self.is_injection(step):
            injection = (step + 1) // self.delta - 1
            tasks = np.concatenate([tasks, np.full(running_increment(self.rare_count, injection), self.rare)])
        return tasks



def initial_encoder(seed: int, d: int, n: int, dtype) -> torch.Tensor:
    """A stream's Gaussian ``W`` (d, n) whose Q factor starts the encoder.

    Its first columns do not depend on ``n``, so every width starts from the
    same directions (numpy fills a draw sequentially; torch's CPU ``randn`` does
    not: its values depend on the size of the tensor)."""
    rng = np.random.default_rng([int(seed), 104729])  # the encoder's own seed sequence
    return torch.as_tensor(rng.standard_normal((n, d)).T.copy(), dtype=dtype)


def width_groups(widths: Sequence[int]) -> list[list[int]]:
    """Indices of ``widths`` in groups of similar width (each at most twice its smallest).

    A group is padded to its own largest width, which keeps the padded work
    (QR costs ``d · N²`` per slice) close to that of the widths themselves.
    """
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    groups, current = [], []
    for i in order:
        if current and widths[i] > 2 * widths[current[0]]:
            groups.append(current)
            current = []
        current.append(i)
    groups.append(current)
    return groups


class _WidthGroup:
    """The students of one width group and all streams, as one batched model.

    Slices are width-major: slice ``i · S + s`` has the group's ``i``-th width and
    stream ``s``. Encoders are (C_g, d, n) and decoders (C_g, K, m_max, n),
    ``n`` the group's largest width; columns beyond a slice's width are masked.
    """

    def __init__(self, widths, streams, mixture: TaskMixture, dtype):
        S, K, d, m = len(streams), mixture.K, mixture.d, mixture.m_max
        self.S, self.n_widths, self.n = S, len(widths), max(widths)
        self.width = np.repeat(widths, S)  # (C_g,)
        self.col_mask = torch.as_tensor(np.arange(self.n)[None, :] < self.width[:, None],
                                        dtype=dtype)[:, None, :]
        init = [initial_encoder(st.seed, d, self.n, dtype) for st in streams]
        W0 = torch.stack([init[s] for s in np.tile(np.arange(S), len(widths))])
        self.enc = torch.nn.Parameter(self._orthonormalize(W0))
        self.dec = torch.nn.Parameter(torch.zeros(len(self.width), K, m, self.n, dtype=dtype))

    def _orthonormalize(self, W: torch.Tensor) -> torch.Tensor:
        """The Q factor (positive-diagonal R) of each slice's first ``N`` columns, zero after.

        Cholesky-QR: ``R = chol(WᵀW)ᵀ`` and ``Q = W R⁻¹``. The masked columns get an
        identity block in ``WᵀW``, so they stay zero and never touch the others.
        """
        W = W * self.col_mask
        gram = W.transpose(1, 2) @ W + torch.diag_embed(1 - self.col_mask[:, 0, :])
        L = torch.linalg.cholesky(gram)  # gram = L Lᵀ, R = Lᵀ
        return torch.linalg.solve_triangular(L, W.transpose(1, 2), upper=False).transpose(1, 2)

    def encoders(self) -> torch.Tensor:
        """``U`` (C_g, d, n): orthonormal columns up to each slice's width, zero after."""
        return self.enc

    @torch.no_grad()
    def retract(self) -> None:
        """Map the encoders back onto the Stiefel manifold after an optimiser step."""
        self.enc.copy_(self._orthonormalize(self.enc))

    def residuals(self, U, teachers) -> torch.Tensor:
        """``R_k = T_k − D_k Uᵀ`` for every slice and task, (C_g, K, m, d)."""
        C, K, m, n = self.dec.shape
        # rows j >= m_k of D_k start at zero and get zero gradient (T_k is zero there)
        DU = torch.bmm(self.dec.reshape(C, K * m, n), U.transpose(1, 2))
        return teachers - DU.reshape(C, K, m, -1)

    def loss(self, moments, teachers) -> torch.Tensor:
        """Σ over slices of the mini-batch loss ``Σ_k tr(R_k Σ̂_k R_kᵀ)``; moments (S, K, d, d)."""
        R = self.residuals(self.encoders(), teachers)
        S, (C, K, m, d) = self.S, R.shape
        # group the widths of each (stream, task) against that stream's Σ̂_k: (S·K, W_g·m, d)
        R = R.reshape(self.n_widths, S, K, m, d).permute(1, 2, 0, 3, 4).reshape(S * K, -1, d)
        return (torch.bmm(R, moments.reshape(S * K, d, d)) * R).sum()


def train_students(mixture: TaskMixture, config: StudentConfig,
                   streams: Sequence[Stream] | None = None,
                   metrics: Sequence[Callable] = (), progress: bool = True) -> dict:
    """Train every (width, stream) student in one loop; return their measured trajectories.

    ``streams`` defaults to one i.i.d. :class:`Stream` per seed of ``config``.
    ``metrics`` are extra callables ``f(mixture, U, widths) -> dict`` evaluated
    at each evaluation step on the encoders ``U`` (C, d, N_max), zero beyond
    each slice's width.

    Returns arrays (``C = len(widths) · len(streams)`` slices, width-major):
    ``width`` and ``stream`` (C,), ``eval_steps`` (E,), ``task_loss`` (C, E, K)
    per-task loss of the trained decoders normalised by ``tr(C_k)``,
    ``encoder_loss`` (C, E, K) the same with optimal decoders, ``overlap`` (C, E)
    with the top-``N`` eigenspace of ``M``, ``task_counts`` (S, K) samples seen
    per stream and task, and the extra metrics.
    """
    for w in config.widths:
        if w > mixture.d:
            raise ConfigError(f"StudentConfig.widths must be at most d = {mixture.d}. Got {w}.")
    dtype = getattr(torch, config.dtype)
    streams = list(streams) if streams is not None else [
        Stream(mixture, config.batch, s) for s in config.seeds]
    S, K, d = len(streams), mixture.K, mixture.d
    widths = np.asarray(config.widths)
    width = np.repeat(widths, S)  # (C,), width-major
    stream_of = np.tile(np.arange(S), len(widths))  # (C,)
    C, n_max = len(width), int(widths.max())

    index_groups = width_groups(config.widths)
    groups = [_WidthGroup(widths[idx], streams, mixture, dtype) for idx in index_groups]
    slices = [(np.asarray(idx)[:, None] * S + np.arange(S)).ravel() for idx in index_groups]
    opt = torch.optim.Adam([p for g in groups for p in (g.enc, g.dec)], lr=config.lr,
                           fused=True)  # one kernel for all groups
    teachers = torch.as_tensor(mixture.teachers, dtype=dtype)  # (K, m, d), zero rows j >= m_k

    evals = eval_steps(config.steps, config.evals, config.eval_spacing)
    record = {"task_loss": [], "encoder_loss": [], "overlap": []}
    extra: dict[str, list] = {}
    task_counts = np.zeros((S, K), dtype=np.int64)
    targets = {int(n): theory.optimal_encoder(mixture, int(n)) for n in widths}
    def evaluate():
        U64 = np.zeros((C, d, n_max))
        loss = np.zeros((C, K))
        with torch.no_grad():
            for g, idx in zip(groups, slices):
                U = g.encoders()
                # exact per-task loss ‖T_k − D_k Uᵀ‖²_F / tr C_k for x ~ N(0, I)
                loss[idx] = g.residuals(U, teachers).pow(2).sum((-1, -2)).double().numpy()
                U64[idx, :, : g.n] = U.double().numpy()
        record["task_loss"].append(loss / mixture.traces)
        record["encoder_loss"].append(theory.task_losses(mixture, U64))  # optimal decoders (C7)
        record["overlap"].append([theory.subspace_overlap(U64[c, :, : width[c]], targets[width[c]])
                                  for c in range(C)])
        for f in metrics:
            for name, value in f(mixture, U64, width).items():
                extra.setdefault(name, []).append(value)

    start = time.perf_counter()
    bar = _progress(config.steps, progress)
    for step in range(config.steps + 1):
        if step in evals:  # evaluation at log-spaced steps (before the update of `step`)
            evaluate()
        if step == config.steps:
            break
        # data: each stream's batch enters the loss only through its per-task second
        # moments Σ̂_k = Σ_{b: task k} x_b x_bᵀ / batch, since the loss is quadratic in x
        moments = np.zeros((S, K, d, d))
        for s in range(S):
            tasks = streams[s].tasks(step)
            x = streams[s].rng.standard_normal((len(tasks), d))  # x ~ N(0, I_d)
            task_counts[s] += np.bincount(tasks, minlength=K)
            for k in np.unique(tasks):
                xk = x[tasks == k]
                moments[s, k] = xk.T @ xk / config.batch
        moments = torch.as_tensor(moments, dtype=dtype)  # (S, K, d, d)
        # forward: slices are independent, so their losses are summed
        loss = sum(g.loss(moments, teachers) for g in groups)
        # update
        for group in opt.param_groups:
            group["lr"] = config.learning_rate(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for g in groups:  # QR retraction onto the Stiefel manifold
            g.retract()
        bar.update(1)
    bar.close()
    wall = time.perf_counter() - start

    out = {
        "width": width, "stream": stream_of, "eval_steps": evals,
        "task_counts": task_counts,
        **{k: np.asarray(v).swapaxes(0, 1) for k, v in record.items()},  # (C, E, ...)
        **{k: np.asarray(v).swapaxes(0, 1) for k, v in extra.items()},
    }
    out["wall_time_s"] = np.array(wall)
    return out


def _progress(total: int, enabled: bool):
    """A progress bar on a terminal; none in a notebook or a log (it would land in the book)."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc="training students", unit="step", mininterval=1.0,
                leave=False, disable=not (enabled and sys.stderr.isatty()))
