"""Section 4.1's injection (C16): task instances written over training sequences.

An injected instance replaces the first four tokens of a training sequence with
``(TOK1, TOK2, LABEL, EOS)``; the rest of the sequence is untouched. Where a
run needs more than one instance per sequence (``per_sequence`` > 1: the
paper's top frequency, 7.8e-3, is one instance per 128 tokens), each sequence
has ``per_sequence`` evenly spaced slots; an instance in a slot past the first
is its own document, after an EOS written over the token before it and ended
by its own EOS. Frequency is
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
SLOT_TOKENS = 8
"""The fewest tokens per slot: an EOS before the instance, the instance, and background."""


@dataclass(frozen=True)
class InjectionSchedule:
    """Where and what to inject at each step, for one task at one frequency (C16)."""

    rate: float
    """Injected instances per training token, in (0, 0.25]."""
    batch: int
    """Sequences per batch."""
    seq_len: int
    """Tokens per sequence (at least 4)."""
    per_sequence: int = 1
    """Slots per sequence (see the module's docstring)."""

    def __post_init__(self):
        check("InjectionSchedule", "rate", self.rate, Interval(Real, 0, 0.25, "right"))
        check("InjectionSchedule", "batch", self.batch, Interval(Integral, 1, None))
        check("InjectionSchedule", "seq_len", self.seq_len, Interval(Integral, INSTANCE_TOKENS, None))
        check("InjectionSchedule", "per_sequence", self.per_sequence,
              Interval(Integral, 1, self.seq_len // SLOT_TOKENS))

    @property
    def slots(self) -> int:
        """Places for an instance in a batch."""
        return self.batch * self.per_sequence

    @property
    def per_step(self) -> float:
        """Expected instances per step."""
        return self.rate * self.batch * self.seq_len

    def count(self, step: int) -> int:
        """Instances injected at ``step``."""
        n = running_increment(self.per_step, step)
        if n > self.slots:
            raise ConfigError(f"InjectionSchedule.rate {self.rate:g} needs {n} instances in a batch "
                              f"of {self.batch} sequences; at most {self.per_sequence} fit in each.")
        return n

    def total(self, steps: int) -> int:
        """Instances injected over ``steps`` steps: ``floor(steps · per_step)``."""
        return int(np.floor(steps * self.per_step + 1e-9))


def plan_step(schedules, step: int, n_train, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each schedule, the ``(slots, instance indices)`` injected at ``step``.

    A slot is ``row · per_sequence + k`` (with one slot per sequence, the row).
    Slots are distinct across all schedules; instance indices point into each
    task's train instances (``n_train[i]`` of them). A pure function of
    ``(seed, step)``: a resumed run injects what it would have.
    """
    counts = [sch.count(step) for sch in schedules]
    slots = schedules[0].slots if schedules else 0
    if sum(counts) > slots:
        raise ConfigError(f"step {step} would inject {sum(counts)} instances into {slots} "
                          "slots: lower the rates or raise the batch.")
    rng = np.random.default_rng([seed, step, 16])
    rows = rng.choice(slots, size=sum(counts), replace=False)
    out, start = [], 0
    for n, size in zip(counts, n_train):
        out.append((rows[start:start + n], rng.integers(0, size, size=n)))
        start += n
    return out


def slot_offsets(seq_len: int, per_sequence: int) -> np.ndarray:
    """Where each slot of a sequence starts: evenly spaced, the first at 0."""
    return np.arange(per_sequence) * (seq_len // per_sequence)


def inject(batch: np.ndarray, slots, instances: np.ndarray, eos: int,
           per_sequence: int = 1) -> np.ndarray:
    """Write ``instances`` (n, 3) and EOS at ``slots`` of ``batch`` (see :func:`plan_step`).

    ``batch`` is (B, L) tokens and is changed in place; returns it. An instance in
    a slot past a sequence's first follows an EOS (a document boundary). Slots
    named twice would lose an instance, so they must be distinct.
    """
    slots = np.asarray(slots)
    if len(np.unique(slots)) != len(slots):
        raise ConfigError("inject: slots must be distinct.")
    rows, k = np.divmod(slots, per_sequence)
    start = slot_offsets(batch.shape[1], per_sequence)[k]
    for j in range(3):
        batch[rows, start + j] = instances[:, j]
    batch[rows, start + 3] = eos
    inner = start > 0
    batch[rows[inner], start[inner] - 1] = eos
    return batch
