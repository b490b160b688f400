"""Section 4.1's injected tasks (C15): comparison (TCMP) and modular addition (TADD).

``n_values`` tokens are picked at random from the vocabulary (seeded) and mapped
bijectively to the values ``0 … n_values − 1``. An instance is three tokens
``(TOK1, TOK2, LABEL)``: for comparison, LABEL is one of two fixed label tokens
saying whether ``v1 < v2``; for modular addition, LABEL is the token of
``(v1 + v2) mod modulus``. The instances (all ordered pairs when ``n_instances``
is ``n_values²``, as in the paper's 100 values and 10K instances) are split 50/50
into train and test with a fixed seed; test instances are never injected.

Several copies of a task can be drawn on disjoint token sets (our choice, so one
run can carry the same task at several frequencies; the paper ran one frequency
per run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from rarescale.validation import ConfigError, Interval, Options, check


@dataclass(frozen=True)
class TaskSpec:
    """One injected task (C15)."""

    kind: str = "cmp"
    """``"cmp"`` (comparison, TCMP) or ``"add"`` (modular addition, TADD)."""
    n_values: int = 100
    """Value tokens, mapped to ``0 … n_values − 1``."""
    modulus: int | None = None
    """Modulus of addition (default ``n_values``); a smaller one is an easier task."""
    n_instances: int = 10_000
    """Instances drawn (distinct ordered pairs), at most ``n_values²``."""
    seed: int = 0
    """Seed of the value tokens, the instances and the split."""

    def __post_init__(self):
        check("TaskSpec", "kind", self.kind, Options(frozenset({"cmp", "add"})))
        check("TaskSpec", "n_values", self.n_values, Interval(Integral, 2, None))
        if self.modulus is not None:
            check("TaskSpec", "modulus", self.modulus, Interval(Integral, 2, self.n_values))
        check("TaskSpec", "n_instances", self.n_instances, Interval(Integral, 2, self.n_values ** 2))
        check("TaskSpec", "seed", self.seed, Interval(Integral, 0, None))

    @property
    def n_labels(self) -> int:
        """Label tokens of its own: two for comparison, none for addition (labels are values)."""
        return 2 if self.kind == "cmp" else 0


@dataclass(frozen=True)
class Task:
    """A drawn task: its tokens, instances and split."""

    spec: TaskSpec
    value_tokens: np.ndarray = field(repr=False)
    """(n_values,) token of each value: ``value_tokens[v]``."""
    label_tokens: np.ndarray = field(repr=False)
    """(2,) for comparison: the tokens for ``v1 < v2`` false and true; empty for addition."""
    train: np.ndarray = field(repr=False)
    """(n_train, 3) instances ``(TOK1, TOK2, LABEL)`` that may be injected."""
    test: np.ndarray = field(repr=False)
    """(n_test, 3) held-out instances, never injected."""

    @property
    def tokens(self) -> np.ndarray:
        """Every token the task uses."""
        return np.concatenate([self.value_tokens, self.label_tokens])

    @property
    def answer_tokens(self) -> np.ndarray:
        """The tokens a label can be (the argmax set of the label-restricted accuracy)."""
        if self.spec.kind == "cmp":
            return self.label_tokens
        return self.value_tokens[: self.spec.modulus or self.spec.n_values]

    def values(self, tokens) -> np.ndarray:
        """The values of value tokens (the inverse of the bijection)."""
        lookup = {int(t): v for v, t in enumerate(self.value_tokens)}
        return np.vectorize(lookup.__getitem__, otypes=[int])(np.asarray(tokens))


def label_of(spec: TaskSpec, v1, v2) -> np.ndarray:
    """The label *value*: ``v1 < v2`` (0/1) for comparison, ``(v1 + v2) mod m`` for addition."""
    v1, v2 = np.asarray(v1), np.asarray(v2)
    if spec.kind == "cmp":
        return (v1 < v2).astype(int)
    return (v1 + v2) % (spec.modulus or spec.n_values)


def draw_tasks(specs, vocab_size: int, reserved=()) -> list[Task]:
    """Draw every task in ``specs`` on disjoint token sets of a ``vocab_size`` vocabulary.

    ``reserved`` tokens (EOS, padding) are never used. Each task's tokens depend
    only on its own seed and on the tokens taken by the tasks before it.
    """
    check("draw_tasks", "vocab_size", vocab_size, Interval(Integral, 2, None))
    taken = {int(t) for t in reserved}
    tasks = []
    for i, spec in enumerate(specs):
        need = spec.n_values + spec.n_labels
        free = np.setdiff1d(np.arange(vocab_size), np.fromiter(taken, int, len(taken)))
        if len(free) < need:
            raise ConfigError(f"vocab_size must leave {need} free tokens for task {i} "
                              f"({spec.kind}); only {len(free)} of {vocab_size} are left.")
        rng = np.random.default_rng([spec.seed, i, 15])
        chosen = rng.choice(free, size=need, replace=False)
        value_tokens, label_tokens = chosen[: spec.n_values], chosen[spec.n_values:]
        taken.update(int(t) for t in chosen)
        # instances: distinct ordered pairs, then a fixed 50/50 split
        pairs = rng.choice(spec.n_values ** 2, size=spec.n_instances, replace=False)
        v1, v2 = np.divmod(pairs, spec.n_values)
        label = label_of(spec, v1, v2)
        label_tok = label_tokens[label] if spec.kind == "cmp" else value_tokens[label]
        instances = np.stack([value_tokens[v1], value_tokens[v2], label_tok], axis=1)
        order = rng.permutation(spec.n_instances)
        half = spec.n_instances // 2
        tasks.append(Task(spec, value_tokens, label_tokens, instances[order[:half]],
                          instances[order[half:]]))
    return tasks
