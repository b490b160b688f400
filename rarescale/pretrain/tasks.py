"""Section 4.1's injected tasks (C15): comparison (TCMP) and modular addition (TADD).

``n_values`` tokens are picked at random from the vocabulary (seeded) and mapped
bijectively to the values ``0 … n_values − 1``. An instance is three tokens
``(TOK1, TOK2, LABEL)``. The instances (all ordered pairs when ``n_instances``
is ``n_values²``, as in the paper's 100 values and 10K instances) are split 50/50
into train and test with a fixed seed (for addition, ``split: balanced`` makes each operand's
label distribution the same on both sides); test instances are never injected.

What a task *is* (its label, its label tokens, its chance level, its title)
lives in one class per kind, registered under the name a sweep's YAML uses
(``kind: cmp``). Adding a task means writing one :class:`TaskKind` subclass and
decorating it with :func:`register`.

Several copies of a task can be drawn on disjoint token sets (our choice, so one
run can carry the same task at several frequencies; the paper ran one frequency
per run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from numbers import Integral

import numpy as np

from rarescale.validation import Config, ConfigError, Interval, Options, check

KINDS: dict[str, "TaskKind"] = {}
"""Every task kind by its YAML name."""


def register(cls):
    """Class decorator: make a :class:`TaskKind` usable as ``kind: <cls.name>``."""
    KINDS[cls.name] = cls()
    return cls


class TaskKind:
    """What one kind of injected task means; subclasses set ``name`` and override the rest."""

    name: str = ""

    def n_labels(self, spec: "TaskSpec") -> int:
        """Label tokens of the task's own (0: its labels are value tokens)."""
        return 0

    def n_answers(self, spec: "TaskSpec") -> int:
        """How many labels an instance can have."""
        raise NotImplementedError

    def label(self, spec: "TaskSpec", v1, v2) -> np.ndarray:
        """The label *value* of operands ``(v1, v2)``, in ``0 … n_answers − 1``."""
        raise NotImplementedError

    def title(self, spec: "TaskSpec") -> str:
        raise NotImplementedError

    def probe_targets(self, spec: "TaskSpec", v1, v2) -> dict:
        """What a probe of the hidden state should find if the model computes the task (C19):
        ``{name: (values, kind)}`` for ``v1``, ``v2`` and ``label``, ``kind`` ``"classes"``
        (accuracy) or ``"ordinal"`` (R²). By default each operand's value, and the answer."""
        return {"v1": (np.asarray(v1), "classes"), "v2": (np.asarray(v2), "classes"),
                "label": (self.label(spec, v1, v2), "classes")}

    def check(self, spec: "TaskSpec") -> None:
        """Extra checks of a spec's fields (one-line :class:`ConfigError`)."""


@register
class Comparison(TaskKind):
    """TCMP: is ``v1 < v2``? Two label tokens of its own."""

    name = "cmp"

    def n_labels(self, spec):
        return 2

    def n_answers(self, spec):
        return 2

    def label(self, spec, v1, v2):
        return (np.asarray(v1) < np.asarray(v2)).astype(int)

    def title(self, spec):
        return f"TCMP ({spec.n_values} values)"

    def probe_targets(self, spec, v1, v2):
        """Each operand's value as a number (its order is what comparing needs), and the answer."""
        return {"v1": (np.asarray(v1), "ordinal"), "v2": (np.asarray(v2), "ordinal"),
                "label": (self.label(spec, v1, v2), "classes")}


@register
class ModularAddition(TaskKind):
    """TADD: ``(v1 + v2) mod modulus``, answered with the value tokens ``0 … modulus − 1``."""

    name = "add"

    def n_answers(self, spec):
        return spec.modulus or spec.n_values

    def label(self, spec, v1, v2):
        return (np.asarray(v1) + np.asarray(v2)) % self.n_answers(spec)

    def title(self, spec):
        return f"TADD ({spec.n_values} values, mod {self.n_answers(spec)})"

    def probe_targets(self, spec, v1, v2):
        """Each operand's residue (what the sum needs of it), and the answer."""
        m = self.n_answers(spec)
        return {"v1": (np.asarray(v1) % m, "classes"), "v2": (np.asarray(v2) % m, "classes"),
                "label": (self.label(spec, v1, v2), "classes")}

    def check(self, spec):
        if spec.modulus is not None:
            check("TaskSpec", "modulus", spec.modulus, Interval(Integral, 2, spec.n_values))


MAX_VALUES = 2 ** 24
"""The most value tokens a task may have: the largest vocabulary a run may have."""


@dataclass(frozen=True)
class TaskSpec(Config):
    """One injected task (C15)."""

    KEYED_ALWAYS = frozenset({"kind", "n_values", "modulus", "n_instances", "seed"})
    """The fields of the committed runs' tasks; a field added later is keyed only when set."""

    kind: str = "cmp"
    """A registered task kind: ``"cmp"`` (comparison, TCMP) or ``"add"`` (modular addition, TADD)."""
    n_values: int = 100
    """Value tokens, mapped to ``0 … n_values − 1``."""
    modulus: int | None = None
    """Modulus of addition (default ``n_values``); a smaller one is an easier task."""
    n_instances: int = 10_000
    """Instances drawn (distinct ordered pairs), at most ``n_values²``."""
    seed: int = 0
    """Seed of the value tokens, the instances and the split."""
    split: str = "random"
    """How instances are split 50/50 into train and test. ``"random"``: a seeded shuffle of
    the drawn pairs (the first runs' rule), drawn after the tokens of the tasks before it.
    ``"balanced"`` (addition): every pair, split so that each operand value sees every label
    equally often on both sides (:func:`balanced_split`), so a one-operand rule scores chance
    on test; the instances and split then depend on the spec alone, not on the task's place
    in a run."""

    def __post_init__(self):
        check("TaskSpec", "kind", self.kind, Options(frozenset(KINDS)))
        check("TaskSpec", "n_values", self.n_values, Interval(Integral, 2, MAX_VALUES))
        if self.modulus is not None and self.kind != "add":
            raise ConfigError(f"TaskSpec.modulus is a field of kind 'add' only. Got kind {self.kind!r}.")
        KINDS[self.kind].check(self)
        check("TaskSpec", "n_instances", self.n_instances, Interval(Integral, 2, self.n_values ** 2))
        check("TaskSpec", "seed", self.seed, Interval(Integral, 0, 2 ** 32 - 1))
        check("TaskSpec", "split", self.split, Options(frozenset({"random", "balanced"})))
        if self.split == "balanced":
            m = self.n_answers
            if self.kind != "add":
                raise ConfigError(f"TaskSpec.split 'balanced' is for kind 'add'. Got kind {self.kind!r}.")
            if self.n_values % (2 * m):
                raise ConfigError(f"TaskSpec.split 'balanced' needs n_values a multiple of twice the "
                                  f"modulus ({2 * m}). Got n_values {self.n_values}.")
            if self.n_instances != self.n_values ** 2:
                raise ConfigError(f"TaskSpec.split 'balanced' uses every pair: n_instances must be "
                                  f"n_values² = {self.n_values ** 2}. Got {self.n_instances}.")

    @property
    def task_kind(self) -> TaskKind:
        return KINDS[self.kind]

    @property
    def n_labels(self) -> int:
        """Label tokens of its own: two for comparison, none for addition (labels are values)."""
        return self.task_kind.n_labels(self)

    @property
    def n_answers(self) -> int:
        return self.task_kind.n_answers(self)

    @property
    def chance(self) -> float:
        """Accuracy of a uniform guess among the labels."""
        return 1 / self.n_answers

    @property
    def title(self) -> str:
        return self.task_kind.title(self)

    def label(self, v1, v2) -> np.ndarray:
        return self.task_kind.label(self, v1, v2)


@dataclass(frozen=True)
class Task:
    """A drawn task: its tokens, instances and split."""

    spec: TaskSpec
    value_tokens: np.ndarray = field(repr=False)
    """(n_values,) token of each value: ``value_tokens[v]``."""
    label_tokens: np.ndarray = field(repr=False)
    """(n_labels,) the task's own label tokens (empty when labels are value tokens)."""
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
        """The token of each label value (the argmax set of the label-restricted accuracy)."""
        return self.label_tokens if self.spec.n_labels else self.value_tokens[: self.spec.n_answers]

    @cached_property
    def shortcut(self) -> dict:
        """The best one-operand rule (:func:`one_operand_rule`), computed once per task."""
        return one_operand_rule(self)

    def values(self, tokens) -> np.ndarray:
        """The values of value tokens (the inverse of the bijection)."""
        lookup = {int(t): v for v, t in enumerate(self.value_tokens)}
        return np.vectorize(lookup.__getitem__, otypes=[int])(np.asarray(tokens))


def _fit_constant(v, y, n_values, n_answers):
    label = np.bincount(y, minlength=n_answers).argmax()
    return lambda u: np.full(len(u), label)


def _fit_table(v, y, n_values, n_answers):
    """Per value, the label most common with it (ties: the smaller; unseen values: the most common)."""
    counts = np.zeros((n_values, n_answers), int)
    np.add.at(counts, (v, y), 1)
    table = np.where(counts.sum(1) > 0, counts.argmax(1), np.bincount(y, minlength=n_answers).argmax())
    return lambda u: table[u]


def _fit_threshold(v, y, n_values, n_answers):
    """The best rule ``label = a if value >= t else b`` on the data."""
    below = np.zeros((n_values + 1, n_answers), int)  # below[t, c]: labels c among values < t
    np.add.at(below, (v + 1, y), 1)
    below = below.cumsum(0)
    above = below[-1] - below  # labels among values >= t
    score = above[:, :, None] + below[:, None, :]  # [t, a, b]
    t, a, b = np.unravel_index(score.argmax(), score.shape)
    return lambda u: np.where(u >= t, a, b)


SHORTCUTS = {"constant": _fit_constant, "table": _fit_table, "threshold": _fit_threshold}
"""Rules that read at most one operand: one label for all, a lookup table, a threshold."""


def one_operand_rule(task: Task, folds: int = 5) -> dict:
    """The best rule that reads one operand only (C18's shortcut baseline).

    Each rule of :data:`SHORTCUTS`, on either operand, is scored by ``folds``-fold
    cross-validation on the train instances; the best is fitted on all of them
    and scored on the test instances. (Choosing on the test set would flatter the
    shortcut; fitting without cross-validation would pick the lookup table, which
    memorises the train pairs.) Returns its test ``accuracy``, its ``rule`` (e.g.
    ``"threshold on v2"``) and ``correct``, a (n_test,) mask of the test
    instances it gets right: the others are the shortcut-hard subset.
    """
    n_values, n_answers = task.spec.n_values, task.spec.n_answers
    answer_of = {int(t): a for a, t in enumerate(task.answer_tokens)}
    y = np.array([answer_of[int(t)] for t in task.train[:, 2]])
    y_test = np.array([answer_of[int(t)] for t in task.test[:, 2]])
    fold = np.random.default_rng([task.spec.seed, 18]).permutation(len(y)) % folds
    best = None
    for name, fit in SHORTCUTS.items():
        for operand in (0, 1):
            v = task.values(task.train[:, operand])
            cv = np.mean([(fit(v[fold != k], y[fold != k], n_values, n_answers)(v[fold == k])
                           == y[fold == k]).mean() for k in range(folds)])
            if best is None or cv > best[0] + 1e-12:
                best = (cv, name, operand)
            if name == "constant":
                break  # reads no operand
    _, name, operand = best
    rule = SHORTCUTS[name](task.values(task.train[:, operand]), y, n_values, n_answers)
    correct = rule(task.values(task.test[:, operand])) == y_test
    return {"accuracy": float(correct.mean()), "correct": correct,
            "rule": name if name == "constant" else f"{name} on v{operand + 1}"}


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
        answers = label_tokens if spec.n_labels else value_tokens
        if spec.split == "balanced":
            v1, v2 = np.divmod(np.arange(spec.n_values ** 2), spec.n_values)
            train = balanced_split(spec)[v1, v2]
            order = np.concatenate([np.flatnonzero(train), np.flatnonzero(~train)])
        else:  # distinct ordered pairs, then a fixed 50/50 split
            pairs = rng.choice(spec.n_values ** 2, size=spec.n_instances, replace=False)
            v1, v2 = np.divmod(pairs, spec.n_values)
            order = rng.permutation(spec.n_instances)
        label = spec.label(v1, v2)
        instances = np.stack([value_tokens[v1], value_tokens[v2], answers[label]], axis=1)
        half = spec.n_instances // 2
        tasks.append(Task(spec, value_tokens, label_tokens, instances[order[:half]],
                          instances[order[half:]]))
    return tasks


def balanced_split(spec: TaskSpec) -> np.ndarray:
    """(n_values, n_values) mask of the train pairs of addition mod m, a function of the spec.

    The values fall into k = n_values / m groups, each holding one value of every residue
    (a seeded assignment); pair (v1, v2) is a train pair when cell (group v1, group v2) of a
    k × k mask with k/2 ones in every row and column is set (a checkerboard with its rows and
    columns shuffled). For a fixed v1, its train partners then fill whole groups, and each
    group gives every sum mod m once: every value sees every label k/2 times on each side,
    so no rule of one operand does better than chance on test.
    """
    m, n = spec.n_answers, spec.n_values
    k = n // m
    rng = np.random.default_rng([spec.seed, 16])
    group = np.empty(n, int)
    for r in range(m):
        group[np.arange(r, n, m)] = rng.permutation(k)
    cells = (np.add.outer(np.arange(k), np.arange(k)) % 2 == 0)[rng.permutation(k)][:, rng.permutation(k)]
    return cells[np.ix_(group, group)]


def tokens_needed(specs) -> int:
    """Tokens a list of task specs takes from the vocabulary."""
    return sum(s.n_values + s.n_labels for s in specs)


def identified_share(task: Task) -> float:
    """TADD: the share of test pairs whose answer the train pairs determine (C15's task design).

    Value tokens have no numeric meaning, so a learner of addition mod ``m`` must infer each
    value's residue ``r(v)`` from the train pairs, ``r(v1) + r(v2) ≡ label``. Within a connected
    set of train pairs every residue follows from one of them, ``x``, and the pairs leave ``x``
    the values that satisfy them all (with an even ``m`` the sign flips along a path allow
    ``x + m/2`` too); a test pair's answer is determined when every consistent assignment gives
    it the same sum. A split whose test pairs are not determined cannot be learned from its
    train pairs by any rule."""
    if task.spec.kind != "add":
        raise ValueError(f"identified_share is for addition tasks. Got kind {task.spec.kind!r}.")
    m, n = task.spec.n_answers, task.spec.n_values
    answer = {int(t): i for i, t in enumerate(task.answer_tokens)}
    v1, v2 = task.values(task.train[:, 0]), task.values(task.train[:, 1])
    y = np.array([answer[int(t)] for t in task.train[:, 2]])
    edges = [[] for _ in range(n)]
    for a, b, label in zip(v1, v2, y):
        edges[a].append((b, label))
        edges[b].append((a, label))
    # r(v) = sign[v]·x + offset[v] from each component's root; x ranges over the consistent values
    component, sign, offset, choices = np.full(n, -1), np.zeros(n, int), np.zeros(n, int), []
    for root in range(n):
        if component[root] >= 0:
            continue
        c = len(choices)
        component[root], sign[root], todo, members = c, 1, [root], [root]
        while todo:
            a = todo.pop()
            for b, label in edges[a]:
                if component[b] < 0:
                    component[b], sign[b], offset[b] = c, -sign[a], (label - offset[a]) % m
                    todo.append(b)
                    members.append(b)
        ok = [x for x in range(m) if all((sign[a] * x + offset[a] + sign[b] * x + offset[b] - label) % m == 0
                                         for a in members for b, label in edges[a])]
        choices.append(ok if edges[root] or len(members) > 1 else list(range(m)))
    t1, t2 = task.values(task.test[:, 0]), task.values(task.test[:, 1])
    identified = 0
    for a, b in zip(t1, t2):
        ca, cb = component[a], component[b]
        pairs = ([(x, x) for x in choices[ca]] if ca == cb else
                 [(x, z) for x in choices[ca] for z in choices[cb]])
        sums = {(sign[a] * x + offset[a] + sign[b] * z + offset[b]) % m for x, z in pairs}
        identified += len(sums) == 1
    return identified / len(t1)
