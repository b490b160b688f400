"""Section 4.1's injection (C16): task instances written over training sequences.

An injected instance replaces the first four tokens of a training sequence with
``(TOK1, TOK2, LABEL, EOS)``; the rest of the sequence is untouched. Frequency is
measured in injected instances per training token: with ``B`` sequences of
``L`` tokens per batch, step ``s`` injects ``running_increment(rate · B · L, s)``
instances, so over any run the realised count is within one of
``rate × tokens`` and rates below one per batch place an instance every few
batches. Which rows, and which train instances, are drawn from a seeded
generator per step: the schedule is a pure function of (seed, step) and can be
replayed, or resumed mid-run, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from rarescale.counts import running_increment
from rarescale.validation import ConfigError, Interval, check

INSTANCE_TOKENS = 4  # TOK1, TOK2, LABEL, EOS


@dataclass(frozen=True)
class InjectionSchedule:
    """Where and what to inject at each step, for one task at one frequency (C16)."""

    rate: float
    """Injected instances per training token, in (0, 0.25]."""
    batch: int
    """Sequences per batch."""
    seq_len: int
    """Tokens per sequence (at least 4)."""

    def __post_init__(self):
        check("InjectionSchedule", "rate", self.rate, Interval(Real, 0, 0.25, "right"))
        check("InjectionSchedule", "batch", self.batch, Interval(Integral, 1, None))
        check("InjectionSchedule", "seq_len", self.seq_len, Interval(Integral, INSTANCE_TOKENS, None))

    @property
    def per_step(self) -> float:
        """Expected instances per step."""
        return self.rate * self.batch * self.seq_len

    def count(self, step: int) -> int:
        """Instances injected at ``step``."""
        n = running_increment(self.per_step, step)
        if n > self.batch:
            raise ConfigError(f"InjectionSchedule.rate {self.rate:g} needs {n} instances in a batch "
                              f"of {self.batch} sequences; at most one fits in each.")
        return n

    def total(self, steps: int) -> int:
        """Instances injected over ``steps`` steps: ``floor(steps · per_step)``."""
        return int(np.floor(steps * self.per_step + 1e-9))


def plan_step(schedules, step: int, n_train, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each schedule, the ``(rows, instance indices)`` injected at ``step``.

    Rows are distinct across all schedules (one instance per sequence); instance
    indices point into each task's train instances (``n_train[i]`` of them). A
    pure function of ``(seed, step)``: a resumed run injects what it would have.
    """
    counts = [sch.count(step) for sch in schedules]
    batch = schedules[0].batch if schedules else 0
    if sum(counts) > batch:
        raise ConfigError(f"step {step} would inject {sum(counts)} instances into {batch} "
                          "sequences: lower the rates or raise the batch.")
    rng = np.random.default_rng([seed, step, 16])
    rows = rng.choice(batch, size=sum(counts), replace=False)
    out, start = [], 0
    for n, size in zip(counts, n_train):
        out.append((rows[start:start + n], rng.integers(0, size, size=n)))
        start += n
    return out


def inject(batch: np.ndarray, rows, instances: np.ndarray, eos: int) -> np.ndarray:
    """Write ``instances`` (n, 3) and EOS over the first four tokens of ``rows`` of ``batch``.

    ``batch`` is (B, L) tokens and is changed in place; returns it. Rows named
    twice would lose an instance, so they must be distinct.
    """
    rows = np.asarray(rows)
    if len(np.unique(rows)) != len(rows):
        raise ConfigError("inject: rows must be distinct.")
    batch[rows, :3] = instances
    batch[rows, 3] = eos
    return batch
