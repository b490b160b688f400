"""A sizing advisor: what chapters 2 and 3 tell a practitioner about a data mixture.

Given tasks with frequencies and spectra (C6), it reports what each width learns
(C8), each task's learn width, the critical width of the frequent tasks (C11),
and, for a chosen width and rare task, the smallest up-weighting of that task
(the others rescaled) that makes the width learn it, with its cost to the
other tasks. Everything follows from the utility ranking; nothing is trained.

    python -m rarescale.advisor MIXTURE.yaml [--json OUT.json] [--plot OUT.png]

A mixture file::

    d: 64                    # optional; default: the number of features
    learned_threshold: 0.1   # a task is learned when its normalised loss is below this
    common_mass: 0.9         # frequent tasks: the fewest whose frequencies sum to this
    eps_fraction: 0.05       # epsilon of the critical width, a fraction of tr(M_S)
    width: 12                # optional: the width to advise on
    rare_task: legal         # optional: the task to up-weight at that width
    tasks:
      - {name: code, frequency: 0.7, features: 6, decay: 0.8}   # lambda_j ∝ j^-decay
      - {name: legal, frequency: 0.3, spectrum: [1.0, 0.4]}    # or explicit eigenvalues,
                                                                # or a .npy/.txt file path
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from rarescale.linear import interference, theory
from rarescale.linear.mixture import TaskMixture
from rarescale.validation import ConfigError, Interval, ListOf, check, read_yaml

MAX_FEATURES = 4096
"""The advisor builds d × d matrices: this many feature directions at most in all."""
TOP_KEYS = {"d", "learned_threshold", "common_mass", "eps_fraction", "width", "rare_task", "tasks"}
TASK_KEYS = {"name", "frequency", "features", "decay", "spectrum"}


@dataclass(frozen=True)
class MixtureSpec:
    """A validated advisor input: named tasks and the questions to answer."""

    names: tuple
    mixture: TaskMixture
    learned_threshold: float = 0.1
    common_mass: float = 0.9
    eps_fraction: float = 0.05
    width: int | None = None
    rare_task: str | None = None


def _spectrum(task: dict, where: str, base: Path) -> np.ndarray:
    if "spectrum" in task:
        if any(k in task for k in ("features", "decay")):
            raise ConfigError(f"{where}: give either spectrum or features and decay, not both.")
        value = task["spectrum"]
        if isinstance(value, str):
            path = (base / value) if not Path(value).is_absolute() else Path(value)
            if not path.is_file():
                raise ConfigError(f"{where}.spectrum: file not found: {path}")
            try:
                value = np.load(path) if path.suffix == ".npy" else np.loadtxt(path)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{where}.spectrum: cannot read {path}: {exc}") from exc
        if isinstance(value, np.ndarray):
            value = value.ravel().tolist() if value.ndim <= 1 else value.tolist()
        check(where, "spectrum", value, ListOf(Interval(Real, 0, None, "neither")))
        check(where, "spectrum (its length)", len(value), Interval(Integral, 1, MAX_FEATURES))
        return np.sort(np.asarray(value, dtype=float))[::-1]
    for key in ("features", "decay"):
        if key not in task:
            raise ConfigError(f"{where}.{key} is required (or give a spectrum).")
    check(where, "features", task["features"], Interval(Integral, 1, MAX_FEATURES))
    check(where, "decay", task["decay"], Interval(Real, 0, None))
    return np.arange(1, task["features"] + 1, dtype=float) ** (-float(task["decay"]))


def parse_spec(data: dict, base: Path = Path(".")) -> MixtureSpec:
    """Validate a mixture spec (a dict, as read from YAML); errors name the field."""
    if not isinstance(data, dict):
        raise ConfigError("the mixture file must hold a mapping with a 'tasks' list.")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; expected one of {', '.join(sorted(TOP_KEYS))}.")
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError("tasks must be a non-empty list of tasks.")
    names, pis, spectra = [], [], []
    for i, task in enumerate(tasks):
        where = f"tasks[{i}]"
        if not isinstance(task, dict):
            raise ConfigError(f"{where} must be a mapping with name, frequency and a spectrum.")
        bad = sorted(set(task) - TASK_KEYS)
        if bad:
            raise ConfigError(f"{where}: unknown key {bad[0]!r}; expected one of "
                              f"{', '.join(sorted(TASK_KEYS))}.")
        name = str(task.get("name", f"task{i + 1}"))
        if name in names:
            raise ConfigError(f"{where}.name {name!r} is used twice.")
        if "frequency" not in task:
            raise ConfigError(f"{where}.frequency is required.")
        freq = task["frequency"]
        check(where, "frequency", freq, Interval(Real, 0, 1))
        names.append(name)
        pis.append(float(freq))
        spectra.append(_spectrum(task, where, base))
    if abs(sum(pis) - 1) > 1e-6:
        raise ConfigError(f"tasks[*].frequency must sum to 1. Got {sum(pis):.6g} instead.")
    n_features = sum(len(s) for s in spectra)
    check("mixture", "tasks (features in all)", n_features, Interval(Integral, 1, MAX_FEATURES))
    d = data.get("d", n_features)
    check("mixture", "d", d, Interval(Integral, n_features, MAX_FEATURES))
    mixture = TaskMixture.from_arrays(np.array(pis) / sum(pis), spectra, d=d)
    spec = {k: data[k] for k in ("learned_threshold", "common_mass", "eps_fraction") if k in data}
    check("mixture", "learned_threshold", spec.get("learned_threshold", 0.1), Interval(Real, 0, 1, "left"))
    check("mixture", "common_mass", spec.get("common_mass", 0.9), Interval(Real, 0, 1, "left"))
    check("mixture", "eps_fraction", spec.get("eps_fraction", 0.05), Interval(Real, 0, 1))
    width, rare = data.get("width"), data.get("rare_task")
    if width is not None:
        check("mixture", "width", width, Interval(Integral, 1, d))
    if rare is not None:
        if rare not in names:
            raise ConfigError(f"rare_task {rare!r} is not a task name; the tasks are: {', '.join(names)}.")
        if width is None:
            raise ConfigError("rare_task needs a width to advise on.")
    return MixtureSpec(tuple(names), mixture, width=width, rare_task=rare, **spec)


def load_spec(path) -> MixtureSpec:
    return parse_spec(read_yaml(path, "mixture file"), base=Path(path).parent)


# --- the answers ---------------------------------------------------------------------


def features_needed(spectrum, threshold: float) -> int:
    """The fewest top features whose loss, normalised, is at most ``threshold`` (C8)."""
    lam = np.sort(np.asarray(spectrum, dtype=float))[::-1]
    missing = 1 - np.cumsum(lam) / lam.sum()  # loss after keeping the top 1, 2, ... features
    return int(np.argmax(missing <= threshold + 1e-12) + 1)


def learned_width(mixture: TaskMixture, k: int, threshold: float) -> int:
    """The width from which task ``k``'s predicted loss is at most ``threshold``.

    It needs its top ``n`` features (:func:`features_needed`), which a width
    keeps from ``|{utilities ≥ ν_{k,n}}|`` on; ``threshold = 0`` gives
    :func:`theory.learn_width`.
    """
    n = features_needed(mixture.spectra[k], threshold)
    nu_kn = mixture.pi[k] * np.sort(mixture.spectra[k])[::-1][n - 1]
    return int(np.sum(np.concatenate(theory.utilities(mixture)) >= nu_kn))


def reweighted(mixture: TaskMixture, k: int, frequency: float) -> TaskMixture:
    """Task ``k`` at ``frequency``, the others rescaled in proportion."""
    pi = np.asarray(mixture.pi, dtype=float)
    others = 1 - pi[k]
    new = pi * ((1 - frequency) / others if others > 0 else 0.0)
    new[k] = frequency
    return mixture.replace(pi=tuple(new / new.sum()))


def upweight_threshold(mixture: TaskMixture, k: int, width: int, threshold: float):
    """The frequency of task ``k`` above which width ``width`` learns it (others rescaled).

    With ``x`` the new frequency, the others' utilities scale by
    ``(1 − x)/(1 − π_k)``. Task ``k`` needs its top ``n`` features, so at most
    ``width − n`` utilities of the other tasks may stay at or above
    ``x λ_{k,n}``. With ``t = x / (1 − x)`` that holds iff ``t`` exceeds the
    ``(width − n + 1)``-th largest ``ν_{k',j} / ((1 − π_k) λ_{k,n})``. Returns that
    infimum ``x*`` (any frequency above it works; 0 if the width already has
    room) or None if ``width < n`` (no frequency helps).
    """
    n = features_needed(mixture.spectra[k], threshold)
    free = width - n
    if free < 0:
        return None
    lam_n = np.sort(mixture.spectra[k])[::-1][n - 1]
    q = np.sort(np.concatenate([u for j, u in enumerate(theory.utilities(mixture)) if j != k]))[::-1]
    q = q / ((1 - mixture.pi[k]) * lam_n)
    if free >= len(q):
        return 0.0
    t = q[free]
    return float(t / (1 + t))


@dataclass
class Advice:
    """The advisor's answers; :meth:`to_json` and :meth:`from_json` round-trip."""

    names: list
    frequencies: list
    features: list
    learn_width: list
    learned_width: list
    learned_threshold: float
    common_tasks: list
    critical_width: int
    eps: float
    width: int | None = None
    kept_at_width: list | None = None
    loss_at_width: list | None = None
    rare_task: str | None = None
    upweight_frequency: float | None = None
    loss_after_upweight: list | None = None
    others_loss_before: float | None = None
    others_loss_after: float | None = None
    notes: list = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Advice":
        return cls(**json.loads(text))


def advise(spec: MixtureSpec, margin: float = 1.01) -> Advice:
    """Answer every question the spec asks.

    The recommended up-weighting is ``margin`` times the threshold frequency
    (the threshold itself is an infimum, where the rare task only ties).
    """
    mix, tau = spec.mixture, spec.learned_threshold
    K = mix.K
    common = interference.common_tasks(mix, spec.common_mass)
    mu = interference.common_eigenvalues(mix, common)
    eps = spec.eps_fraction * float(mu.sum())
    out = Advice(
        names=list(spec.names), frequencies=list(mix.pi), features=list(mix.m),
        learn_width=[theory.learn_width(mix, k) for k in range(K)],
        learned_width=[learned_width(mix, k, tau) for k in range(K)], learned_threshold=tau,
        common_tasks=[spec.names[k] for k in common],
        critical_width=interference.critical_width(mu, eps), eps=eps)
    if spec.width is None:
        return out
    N = spec.width
    out.width = N
    out.kept_at_width = theory.features_learned(mix, min(N, mix.d)).tolist()
    out.loss_at_width = theory.predicted_task_loss(mix, N).tolist()
    if spec.rare_task is None:
        return out
    k = spec.names.index(spec.rare_task)
    out.rare_task = spec.rare_task
    x = upweight_threshold(mix, k, N, tau)
    if x is None:
        out.notes.append(f"width {N} cannot learn {spec.rare_task!r} at any frequency: it needs "
                         f"{features_needed(mix.spectra[k], tau)} features")
        return out
    x = min(max(x * margin, mix.pi[k]) if x > 0 else mix.pi[k], 1.0)
    out.upweight_frequency = x
    new = reweighted(mix, k, x)
    out.loss_after_upweight = theory.predicted_task_loss(new, N).tolist()
    # cost to the others, weighted by their original frequencies and signal
    others = [j for j in range(K) if j != k]
    out.others_loss_before = float(theory.weighted_loss(mix, out.loss_at_width, others))
    out.others_loss_after = float(theory.weighted_loss(mix, out.loss_after_upweight, others))
    return out


def format_table(advice: Advice) -> str:
    """The advice as a plain-text table."""
    lines = [f"{'task':<14}{'freq':>9}{'feat':>6}{'learn N':>9}{'N (loss<=' + str(advice.learned_threshold) + ')':>16}"
             + (f"{'kept@' + str(advice.width):>9}{'loss@' + str(advice.width):>9}" if advice.width else "")]
    for k, name in enumerate(advice.names):
        row = (f"{name:<14}{advice.frequencies[k]:>9.4f}{advice.features[k]:>6}"
               f"{advice.learn_width[k]:>9}{advice.learned_width[k]:>16}")
        if advice.width:
            row += f"{advice.kept_at_width[k]:>9}{advice.loss_at_width[k]:>9.3f}"
        lines.append(row)
    lines.append(f"frequent tasks: {', '.join(advice.common_tasks)}; critical width N_c = "
                 f"{advice.critical_width} (eps = {advice.eps:.4g})")
    if advice.rare_task and advice.upweight_frequency is not None:
        lines.append(f"to learn {advice.rare_task!r} at width {advice.width}: raise its frequency to "
                     f"{advice.upweight_frequency:.4f}; the others' loss goes from "
                     f"{advice.others_loss_before:.4f} to {advice.others_loss_after:.4f}")
    lines.extend(f"note: {n}" for n in advice.notes)
    return "\n".join(lines)
