"""Grids of pretraining runs (C17-C20): a sweep's YAML, its cells, and their artifacts.

A sweep file names the grid and what every run shares::

    name: cpu_ladder
    sizes: [30K, 100K, 250K, 1M]
    seeds: [0, 1]
    frequencies: [3.0e-3, 1.0e-3, 3.0e-4, 1.0e-4, 3.0e-5]
    tasks:
      - {kind: cmp, n_values: 20, n_instances: 400}
      - {kind: add, n_values: 40, modulus: 5, n_instances: 1600}
    pack: true          # every task at every frequency in one run (disjoint tokens)
    run: {tokens: 3000000, seq_len: 64}   # any other RunConfig field

With ``pack: true`` a cell is one (size, seed) and carries each task at each
frequency as an independent copy on its own tokens: our choice, so that a CPU
ladder fits in a couple of hours. With ``pack: false`` a cell is one (size,
seed, task, frequency), as in the paper. A task may name its own
``frequencies`` (a subset of the sweep's); it then runs at those only, each copy
with the seed it has in the full grid. Each cell is a
:class:`~rarescale.pretrain.config.RunConfig`; its artifact (kind ``olmo_run``) is
keyed by the hash of that config and :data:`MEASURES`, so a finished cell is
never run again. What the runs measured is read back by :mod:`rarescale.sweeps.trends`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

from rarescale.store import artifacts
from rarescale.verdicts import CAPACITY_MARGIN
from rarescale.pretrain.config import InjectedTask, RunConfig
from rarescale.pretrain.model import model_size, padded_vocab
from rarescale.pretrain.tasks import TaskSpec
from rarescale.validation import (Boolean, Config, ConfigError, Interval, ListOf, MappingOf, Options, Text, check,
                                  from_fields, read_yaml)

KIND = "olmo_run"
MEASURES = 3
"""Version of what a run measures; part of every run's artifact key, so that runs made
before a change of measures are never mixed with runs made after it. Pretraining runs are
keyed by this version rather than by a digest of the code (a re-run of the CPU ladder costs
40 minutes): raise it whenever :mod:`rarescale.pretrain` changes what a run computes."""

# Tokens per second of a training step measured on this book's 2-core CPU (fp32, seq_len 64,
# batch 32, vocab 4096), by torch threads per process: 2 threads is one run alone
# (`python -m benchmarks.bench_lm_step --ladder ...`), 1 thread is two runs side by side (the
# CPU ladder's own records). The dry run's estimates use them.
MEASURED_TOKENS_PER_S = {
    # one run on both cores of the 2-core AVX2 machine, compiled loss (benchmarks.bench_lm_step
    # --ladder, batch 32 x 64)
    2: {"30K": 15_900, "100K": 13_000, "250K": 10_200, "1M": 5_300},
    # each of two runs at once on one core (the same benchmark, two processes); 12K measured
    # earlier, eager, on a 2-core AMX machine
    1: {"12K": 18_800, "30K": 10_500, "100K": 8_600, "250K": 5_900, "1M": 2_700},
}

SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
"""What a sweep's name may be: it names a folder under ``--work-dir``, so no separator, no
``..``, no control or invisible characters."""


def _no_repeats(where: str, values) -> None:
    seen = set()
    for v in values:
        if v in seen:
            raise ConfigError(f"{where} repeats {v!r}: each cell would train twice.")
        seen.add(v)


FIELDS = {
    "name": Text(),
    "sizes": ListOf(Text()),
    "tasks": ListOf(MappingOf()),
    "frequencies": ListOf(Interval(Real, 0, 0.25, "right")),
    "seeds": ListOf(Interval(Integral, 0, 2 ** 32 - 1)),
    "pack": Boolean(),
    "task_seeds": Options(frozenset({"by copy", "own"})),
    "run": MappingOf(),
}
"""What each field of a sweep file must be."""


@dataclass(frozen=True)
class Analysis(Config):
    """How a sweep's runs are read, fixed in its YAML (``analysis:``) before they are: the
    chapter reads its verdicts' choices from here, and shows them under the alternatives."""

    margin: float = 0.5
    """Learned: held-out accuracy closes this share of the gap from the one-operand baseline to 1."""
    probe_frequency: float = 1e-3
    """The injection frequency whose probes the C19 verdicts read (per task, the nearest one
    it was run at)."""
    layer: float | str = 0.5
    """The probed layer: a relative depth (0: the embeddings, 1: the last block's output, the
    nearest layer), or ``"best"``: the best layer's selectivity (a maximum over layers, so deeper
    models get more draws: an alternative, not a rule)."""
    statistic: str = "welch slope"
    """The test: ``"welch slope"`` (:func:`rarescale.verdicts.size_trend`: Welch's t of the slope
    of the seed means against log₁₀ parameters, one-sided, Holm within each claim), or, for a
    capacity sweep, ``"capacity gap"`` (:func:`rarescale.verdicts.capacity_gap`: two one-sided
    exact permutation tests of the large size at the base budget against the small one at
    ``budget``× it)."""
    compare_with: str = ""
    """A capacity sweep: the sweep file whose largest size, at this sweep's task and frequency and
    the base budget, the small size is compared with."""
    budget: float = 8.0
    """A capacity sweep: the small size's budget, as a multiple of the base, that the verdict reads."""
    gap_margin: float = CAPACITY_MARGIN
    """A capacity sweep: the accuracy gap below which the small size counts as reaching the large one."""
    registered: str = ""
    """When the block was written, against the runs: ``"before the runs"`` or a note saying
    otherwise (the git history shows the order)."""

    def __post_init__(self):
        check("analysis", "margin", self.margin, Interval(Real, 0, 1, "neither"))
        check("analysis", "probe_frequency", self.probe_frequency, Interval(Real, 0, 0.25, "right"))
        if self.layer != "best":
            check("analysis", "layer", self.layer, Interval(Real, 0, 1))
        if self.statistic not in STATISTICS:
            raise ConfigError(f"analysis.statistic must be one of {', '.join(map(repr, STATISTICS))}. "
                              f"Got {self.statistic!r}.")
        check("analysis", "budget", self.budget, Interval(Real, 1, None, "neither"))
        check("analysis", "gap_margin", self.gap_margin, Interval(Real, 0, 1, "neither"))
        if (self.statistic == "capacity gap") != bool(self.compare_with):
            raise ConfigError("analysis.compare_with names the sweep a 'capacity gap' compares with, "
                              "and only that statistic uses it.")


STATISTICS = ("welch slope", "capacity gap")


@dataclass(frozen=True)
class Sweep(Config):
    """A grid of runs read from YAML."""

    name: str
    sizes: tuple[str, ...]
    tasks: tuple[TaskSpec, ...]
    frequencies: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    pack: bool = True
    run: dict = field(default_factory=dict)
    """Other :class:`RunConfig` fields shared by every cell."""
    task_frequencies: tuple = ()
    """Per task, the frequencies it runs at (None: all of the sweep's); from the tasks' own
    ``frequencies`` in the YAML."""
    tokens_per_param: float | None = None
    """If set, each size trains on this many tokens per parameter (total), instead of ``run.tokens``."""
    steps: int | None = None
    """If set, each size trains this many steps at its own batch (the paper's budget: 50K
    steps, so larger sizes, with larger batches, see more tokens), instead of ``run.tokens``."""
    analysis: Analysis = field(default_factory=Analysis)
    """How the runs are read (:class:`Analysis`): no part of any run's key."""
    task_seeds: str = "by copy"
    """``"by copy"``: each (task, frequency) copy draws its task with its own seed, the task's
    seed + 1000 × task index + frequency index (the first sweeps' rule: packed copies need their
    own values and instances). ``"own"`` (unpacked sweeps only): every copy is the task its spec
    and seed define, so the same task at the same frequency is the same run in any sweep."""

    def __post_init__(self):
        if not SAFE_NAME.fullmatch(self.name):
            raise ConfigError(f"sweep.name must be letters, digits, '_', '-' or '.' (at most 64, not "
                              f"starting with '.'): it names a folder. Got {self.name!r}.")
        for name in ("sizes", "seeds", "frequencies"):
            _no_repeats(f"sweep.{name}", getattr(self, name))
        for i, own in enumerate(self.task_frequencies):
            if own is not None:
                _no_repeats(f"sweep.tasks[{i}].frequencies", own)
        if self.task_seeds == "own":  # by copy, a repeated task is another draw of it
            _no_repeats("sweep.tasks", self.tasks)
        if self.task_seeds == "own" and self.pack:
            raise ConfigError("sweep.task_seeds 'own' needs pack: false (packed copies of a task "
                              "need their own values and instances).")
        for s in self.sizes:
            model_size(s)
        if self.tokens_per_param is not None:
            check("sweep", "tokens_per_param", self.tokens_per_param, Interval(Real, 0, None, "neither"))
        if self.steps is not None:
            check("sweep", "steps", self.steps, Interval(Integral, 1, None))
        budgets = [k for k in ("tokens_per_param", "steps") if getattr(self, k) is not None]
        budgets += ["run.tokens"] if "tokens" in self.run else []
        if len(budgets) > 1:
            raise ConfigError(f"sweep: {budgets[0]} and {budgets[1]} both set the tokens; keep one.")
        shared = set(self.run) & {"size", "tasks", "seed"}
        if shared:
            raise ConfigError(f"sweep.run: {sorted(shared)[0]!r} is set by the grid, not by run.")
        unknown = sorted(set(self.run) - set(RunConfig.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"sweep.run: unknown field {unknown[0]!r}.")
        self.cells()  # every cell must be a valid RunConfig

    @classmethod
    def from_yaml(cls, path) -> "Sweep":
        d = read_yaml(path, "sweep file")
        if not isinstance(d, dict):
            raise ConfigError(f"{path} must be a mapping of sweep fields.")
        return cls.from_dict(d, str(path))

    @classmethod
    def from_dict(cls, d: dict, where: str = "sweep") -> "Sweep":
        d = {"name": Path(where).stem, **d}
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            known = ", ".join(sorted(cls.__dataclass_fields__))
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {known}).")
        for name, constraint in FIELDS.items():
            if name in d:
                check("sweep", name, d[name], constraint)
            elif name in ("sizes", "tasks", "frequencies"):
                raise ConfigError(f"{where}: sweep.{name} is missing; it must be {constraint}.")
        tasks, task_frequencies = [], []
        for i, t in enumerate(d["tasks"]):
            t = dict(t)
            own = t.pop("frequencies", None)
            if own is not None:
                check(f"sweep.tasks[{i}]", "frequencies", own, FIELDS["frequencies"])
                missing = [f for f in own if f not in (d.get("frequencies") or ())]
                if missing:
                    raise ConfigError(f"sweep.tasks[{i}].frequencies: {missing[0]} is not one of "
                                      "the sweep's frequencies.")
                own = tuple(own)
            task_frequencies.append(own)
            tasks.append(from_fields(TaskSpec, t, f"sweep.tasks[{i}]"))
        d["task_frequencies"] = tuple(task_frequencies)
        d["analysis"] = Analysis.from_dict(d.get("analysis") or {}, f"{where}: analysis")
        tasks = tuple(tasks)
        as_tuple = {k: tuple(d[k]) for k in ("sizes", "frequencies", "seeds") if k in d}
        return from_fields(cls, {**d, **as_tuple, "tasks": tasks, "run": dict(d.get("run") or {})},
                           where)

    def copy(self, i: int, j: int) -> InjectedTask:
        """Task ``i`` at frequency ``j``: with its own seed (``task_seeds: by copy``, own tokens
        and instances), or as its spec defines it (``own``)."""
        spec = self.tasks[i]
        if self.task_seeds == "by copy":
            spec = TaskSpec(**{**spec.__dict__, "seed": spec.seed + 1000 * i + j})
        return InjectedTask(spec, float(self.frequencies[j]))

    def task_pairs(self) -> list[tuple[int, int]]:
        """``(task index, frequency index)`` of each task at each frequency it runs at."""
        own = self.task_frequencies or (None,) * len(self.tasks)
        return [(i, j) for i in range(len(self.tasks)) for j, f in enumerate(self.frequencies)
                if own[i] is None or f in own[i]]

    def task_cells(self) -> list[tuple[str, float]]:
        """Each ``(task title, frequency)`` the grid runs, in the file's order."""
        return [(self.tasks[i].title, float(self.frequencies[j])) for i, j in self.task_pairs()]

    def cell_groups(self):
        """``(size, seed, [(task index, frequency index), ...])`` for every cell, in order."""
        pairs = self.task_pairs()
        for size, seed in itertools.product(self.sizes, self.seeds):
            for group in ([pairs] if self.pack else [[p] for p in pairs]):
                yield size, seed, group

    def cells(self) -> list[RunConfig]:
        """Every run of the grid, in the file's order: by size, then seed, then (unpacked) task
        and frequency."""
        out = []
        for size, seed, group in self.cell_groups():
            run = dict(self.run)
            if self.tokens_per_param is not None:
                vocab = padded_vocab(run.get("vocab_size", RunConfig.vocab_size))
                run["tokens"] = int(round(self.tokens_per_param * model_size(size).total_params(vocab)))
            tasks = tuple(self.copy(i, j) for i, j in group)
            if self.steps is not None:  # the batch may follow the size (the ladder's rule)
                probe = from_fields(RunConfig, {**run, "size": size, "seed": seed},
                                    f"sweep {self.name!r}: run")
                run["tokens"] = self.steps * probe.global_batch * probe.seq_len
            out.append(from_fields(RunConfig, {**run, "size": size, "seed": seed, "tasks": tasks},
                                   f"sweep {self.name!r}: run"))
        return out

    def cell_copies(self):
        """Each cell with, for each of its injected copies, ``(task index, frequency index, copy)``."""
        return [(config, [(i, j, c) for c, (i, j) in enumerate(group)])
                for config, (*_, group) in zip(self.cells(), self.cell_groups())]

    def estimate_seconds(self, config: RunConfig, tokens_per_s=None, threads: int = 2) -> float:
        """Training time of a cell from measured tokens/s; a size not measured at these threads
        is interpolated in log tokens/s against log parameters between the measured ones (held
        at the nearest outside them). nan on a GPU (measured on CPU only)."""
        table = tokens_per_s or MEASURED_TOKENS_PER_S.get(min(threads, 2), {})
        if tokens_per_s is None and config.device != "cpu":
            return float("nan")
        rate = table.get(config.size)
        if rate is None and table:
            import numpy as np

            known = sorted((model_size(s).total_params(config.padded_vocab), r) for s, r in table.items())
            p = model_size(config.size).total_params(config.padded_vocab)
            rate = float(np.exp(np.interp(np.log(p), [np.log(k) for k, _ in known],
                                          [np.log(r) for _, r in known])))
        if rate is None:
            return float("nan")
        return config.tokens_with_branches / rate * 1.1  # + evaluation


def artifact_config(config: RunConfig) -> dict:
    """What keys a run's artifact: its config and the version of the measures."""
    return {**config.to_dict(), "measures": MEASURES}


def cell_key(config: RunConfig) -> str:
    return artifacts.config_key(KIND, artifact_config(config))


def run_folder(config: RunConfig) -> Path:
    """Default folder of a run's checkpoints: ``runs/olmo_pretrain/<key>`` in the repository
    (git-ignored), one per config, so runs of different configs never share a checkpoint."""
    return artifacts.REPO_ROOT / "runs" / "olmo_pretrain" / cell_key(config)


def find_run(config: RunConfig):
    """The folder of a finished run's artifact, or None."""
    return artifacts.find_artifact(KIND, artifact_config(config))


def load_runs(sweep: Sweep, produce: str | None = None) -> list:
    """The artifacts of every cell; a missing one is an :class:`~rarescale.store.artifacts.ArtifactError`."""
    return [artifacts.load_artifact(KIND, artifact_config(c), produce=produce) for c in sweep.cells()]


def save_run(config: RunConfig, result: dict, arrays: dict, wall_time_s: float):
    """Write a finished run's artifact (atomically; keyed by the config's hash)."""
    return artifacts.save_artifact(KIND, artifact_config(config), result, arrays, seed=config.seed,
                                   wall_time_s=round(wall_time_s, 3))


CORPUS_RECORD = artifacts.REPO_ROOT / "book" / "data" / "olmo_run_corpora.json"
"""The corpus bytes of the runs made before runs recorded them (inferred, and said how)."""


def run_corpus(folder: Path) -> tuple[dict, str]:
    """The SHA-256 of each token file the run in artifact ``folder`` trained on, by path, and how
    it is known: ``"recorded"`` (the run's own ``corpus_sha256``), ``"inferred"``
    (:data:`CORPUS_RECORD`, for older runs) or ``"synthetic"`` (no file: the config determines
    the corpus). Reads the run's result and manifest, not its arrays."""
    import json

    folder = Path(folder)
    result = json.loads((folder / "result.json").read_text())
    if "corpus_sha256" in result:
        return dict(result["corpus_sha256"]), "recorded"
    manifest = json.loads((folder / "manifest.json").read_text())
    if not manifest["config"].get("corpus"):
        return {}, "synthetic"
    known = json.loads(CORPUS_RECORD.read_text())["runs"] if CORPUS_RECORD.is_file() else {}
    if manifest["key"] not in known:
        raise artifacts.ArtifactError(f"{folder}: the run records no corpus checksum and "
                                      f"{CORPUS_RECORD.name} has none for it")
    return dict(known[manifest["key"]]), "inferred"


def corpus_counts(sweep: Sweep) -> dict[tuple[str, str], int]:
    """Per ``(token file, SHA-256)``, how many of ``sweep``'s landed cells trained on those bytes
    (:func:`run_corpus`): more than one checksum for a file means the grid spans corpus builds."""
    counts: dict[tuple[str, str], int] = {}
    for config in sweep.cells():
        folder = find_run(config)
        if folder is None:
            continue
        for path, digest in run_corpus(folder)[0].items():
            counts[path, digest] = counts.get((path, digest), 0) + 1
    return counts


def corpus_changes(sweep: Sweep, todo, checksums) -> list[str]:
    """One line per token file whose bytes here (``checksums(config)``, by path) differ from
    those a landed cell of ``sweep`` trained on: running ``todo`` would mix corpora in one grid."""
    here = {}
    for config in {c.corpus: c for c in todo}.values():
        here.update(checksums(config))
    if not here:
        return []
    return [f"{sweep.name}: {n} landed cell(s) trained on {path} with sha256 {digest[:12]}, and "
            f"here it has {here[path][:12]} (another build: other package versions?)"
            for (path, digest), n in sorted(corpus_counts(sweep).items())
            if path in here and digest != here[path]]


def sweeps_by_key(config_dir: Path = artifacts.REPO_ROOT / "runners" / "configs") -> dict[str, list[str]]:
    """Every cell of every sweep file in ``config_dir``: its artifact key and the sweeps (file
    stems) that hold it. Pruning keeps these keys, read by a chapter or not (a sweep still
    landing, a grid the book does not show); the reproducibility page names each run's sweeps."""
    import sys

    found = {}
    for path in sorted(config_dir.glob("*.yaml")):
        try:
            cells = Sweep.from_yaml(path).cells()
        except ConfigError as exc:  # a broken sweep file protects nothing, and says so
            print(f"warning: {path.name}: {exc}; its cells are not protected", file=sys.stderr)
            continue
        for c in cells:
            found.setdefault(cell_key(c), []).append(path.stem)
    return found
