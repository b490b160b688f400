"""Grids of pretraining runs (C17-C20): a sweep's YAML, its cells, and its results.

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
seed, task, frequency), as in the paper. Each cell is a
:class:`~rarescale.olmo.train.RunConfig`; its artifact (kind ``olmo_run``) is
keyed by the hash of that config, so a finished cell is never run again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import yaml

from rarescale import artifacts
from rarescale.olmo.model import model_size
from rarescale.olmo.tasks import TaskSpec
from rarescale.olmo.train import InjectedTask, RunConfig
from rarescale.validation import ConfigError, Interval, check, from_fields

KIND = "olmo_run"
RUNNER = "runners/olmo_pretrain.py"
MEASURES = 2
"""Version of what a run measures; part of every run's artifact key, so that runs made
before a change of measures are never mixed with runs made after it."""

# Tokens per second of a training step measured on this book's 2-core CPU (fp32, seq_len 64,
# batch 32, vocab 4096), by torch threads per process: 2 threads is one run alone
# (`python -m benchmarks.bench_lm_step --ladder ...`), 1 thread is two runs side by side (the
# CPU ladder's own records). The dry run's estimates use them.
MEASURED_TOKENS_PER_S = {
    2: {"30K": 21_400, "100K": 21_100, "250K": 16_300, "600K": 12_100, "1M": 8_300,
        "4M": 11_500, "20M": 1_700},
    1: {"30K": 15_200, "100K": 12_100, "250K": 9_800, "1M": 4_400},
}


@dataclass(frozen=True)
class Sweep:
    """A grid of runs read from YAML."""

    name: str
    sizes: tuple[str, ...]
    tasks: tuple[TaskSpec, ...]
    frequencies: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    pack: bool = True
    run: dict = field(default_factory=dict)
    """Other :class:`RunConfig` fields shared by every cell."""
    tokens_per_param: float | None = None
    """If set, each size trains on this many tokens per parameter (total), instead of ``run.tokens``."""

    def __post_init__(self):
        if not self.sizes or not self.tasks or not self.frequencies or not self.seeds:
            raise ConfigError(f"sweep {self.name!r}: sizes, tasks, frequencies and seeds must "
                              "each list at least one value.")
        for s in self.sizes:
            model_size(s)
        for f in self.frequencies:
            check("sweep", "frequencies", f, Interval(Real, 0, 0.25, "right"))
        for s in self.seeds:
            check("sweep", "seeds", s, Interval(Integral, 0, None))
        if self.tokens_per_param is not None:
            check("sweep", "tokens_per_param", self.tokens_per_param, Interval(Real, 0, None, "neither"))
        shared = set(self.run) & {"size", "tasks", "seed"}
        if shared:
            raise ConfigError(f"sweep.run: {sorted(shared)[0]!r} is set by the grid, not by run.")
        self.cells()  # every cell must be a valid RunConfig

    @classmethod
    def from_yaml(cls, path) -> "Sweep":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"sweep file not found: {path}")
        try:
            d = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{path} must be a mapping of sweep fields.")
        return cls.from_dict(d, str(path))

    @classmethod
    def from_dict(cls, d: dict, where: str = "sweep") -> "Sweep":
        d = dict(d)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))}).")
        tasks = tuple(from_fields(TaskSpec, t, f"{where}: tasks[{i}]") if isinstance(t, dict) else t
                      for i, t in enumerate(d.pop("tasks", ())))
        run = dict(d.pop("run", {}) or {})
        unknown = sorted(set(run) - set(RunConfig.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"{where}: run: unknown field {unknown[0]!r}.")
        as_tuple = {k: tuple(d[k]) if isinstance(d.get(k), list) else d[k]
                    for k in ("sizes", "frequencies", "seeds") if k in d}
        if "sizes" in as_tuple:
            as_tuple["sizes"] = tuple(str(s) for s in as_tuple["sizes"])
        return cls(**{**d, **as_tuple, "tasks": tasks, "run": run,
                      "name": str(d.get("name", Path(where).stem))})

    def copy(self, i: int, j: int) -> InjectedTask:
        """Task ``i`` at frequency ``j``, with its own seed: own tokens and instances."""
        spec = self.tasks[i]
        return InjectedTask(TaskSpec(**{**spec.__dict__, "seed": spec.seed + 1000 * i + j}),
                            float(self.frequencies[j]))

    def cell_groups(self):
        """``(size, seed, [(task index, frequency index), ...])`` for every cell, in order."""
        pairs = [(i, j) for i in range(len(self.tasks)) for j in range(len(self.frequencies))]
        for size, seed in itertools.product(self.sizes, self.seeds):
            for group in ([pairs] if self.pack else [[p] for p in pairs]):
                yield size, seed, group

    def cells(self) -> list[RunConfig]:
        """Every run of the grid, smallest sizes first."""
        out = []
        for size, seed, group in self.cell_groups():
            run = dict(self.run)
            if self.tokens_per_param is not None:
                vocab = run.get("vocab_size", RunConfig.vocab_size)
                run["tokens"] = int(round(self.tokens_per_param * model_size(size).total_params(vocab)))
            tasks = tuple(self.copy(i, j) for i, j in group)
            try:
                out.append(RunConfig(**{**run, "size": size, "seed": seed, "tasks": tasks}))
            except TypeError as exc:
                raise ConfigError(f"sweep {self.name!r}: {exc}") from None
        return out

    def estimate_seconds(self, config: RunConfig, tokens_per_s=None, threads: int = 2) -> float:
        """Training time of a cell from measured tokens/s (nan if its size or device was never measured)."""
        rate = (tokens_per_s or MEASURED_TOKENS_PER_S.get(min(threads, 2), {})).get(config.size)
        if rate is None or (tokens_per_s is None and config.device != "cpu"):  # measured on CPU only
            return float("nan")
        return config.steps * config.global_batch * config.seq_len / rate * 1.1  # + evaluation


def artifact_config(config: RunConfig) -> dict:
    """What keys a run's artifact: its config and the version of the measures."""
    return {**config.to_dict(), "measures": MEASURES}


def cell_key(config: RunConfig) -> str:
    return artifacts.config_key(KIND, artifact_config(config))


def done(config: RunConfig) -> bool:
    return artifacts.find_artifact(KIND, artifact_config(config)) is not None


def find_run(config: RunConfig):
    """The folder of a finished run's artifact, or None."""
    return artifacts.find_artifact(KIND, artifact_config(config))


def load_runs(sweep: Sweep, produce: str | None = None) -> list:
    """The artifacts of every cell; a missing one is an :class:`~rarescale.artifacts.ArtifactError`."""
    return [artifacts.load_artifact(KIND, artifact_config(c), produce=produce) for c in sweep.cells()]


# --------------------------------------------------------------------------- results

def learned(accuracy, chance, margin: float = 0.5) -> np.ndarray:
    """A task counts as learned when held-out accuracy closes ``margin`` of the gap from chance to 1."""
    accuracy, chance = np.asarray(accuracy), np.asarray(chance)
    return accuracy >= chance + margin * (1 - chance)


def threshold_frequency(frequencies, accuracy, chance, margin: float = 0.5) -> float:
    """The learning threshold: the lowest frequency at or above which every frequency is learned.

    Frequencies are interpolated in log space between the last learned and the
    first not learned (accuracy crossing the ``margin`` level); ``nan`` when
    even the highest is not learned, the lowest frequency when all are.
    """
    f = np.asarray(frequencies, float)
    order = np.argsort(f)[::-1]
    f, acc = f[order], np.asarray(accuracy, float)[order]
    level = chance + margin * (1 - chance)
    ok = acc >= level
    if not ok[0]:
        return float("nan")
    k = int(np.argmin(ok)) if not ok.all() else len(f)
    if k == len(f):
        return float(f[-1])
    # interpolate log f linearly in accuracy between f[k-1] (learned) and f[k] (not)
    a0, a1 = acc[k - 1], acc[k]
    t = (a0 - level) / max(a0 - a1, 1e-12)
    return float(np.exp(np.log(f[k - 1]) + t * (np.log(f[k]) - np.log(f[k - 1]))))


def notebook_config(size, tasks, frequencies, tokens, seq_len, seed, device, corpus, run) -> RunConfig:
    """The :class:`RunConfig` of the runner notebook's parameters.

    ``tasks`` are TaskSpec fields; with ``frequencies`` each task is injected at
    each frequency (as a sweep's packed cell), without it each task names its own
    ``rate``.
    """
    run = dict(run or {})
    for name, value in (("tokens", tokens), ("seq_len", seq_len), ("device", device),
                        ("corpus", tuple(corpus or ()))):
        run[name] = value
    if frequencies:
        specs = [{k: v for k, v in t.items() if k != "rate"} for t in tasks]
        return Sweep.from_dict({"name": "notebook", "sizes": [size], "tasks": specs,
                                "frequencies": list(frequencies), "seeds": [seed],
                                "run": run}).cells()[0]
    injected = []
    for i, t in enumerate(tasks):
        t = dict(t)
        if "rate" not in t:
            raise ConfigError(f"tasks[{i}] needs a 'rate' when frequencies is empty.")
        rate = t.pop("rate")
        injected.append({"spec": t, "rate": rate})
    return RunConfig.from_dict({**run, "size": size, "seed": seed, "tasks": injected})


def cell_parameters(config: RunConfig) -> dict:
    """The runner notebook's parameters that rebuild exactly ``config``."""
    d = config.to_dict()
    tasks = [{**t["spec"], "rate": t["rate"]} for t in d.pop("tasks")]
    return {"size": d.pop("size"), "tasks": tasks, "frequencies": [], "tokens": d.pop("tokens"),
            "seq_len": d.pop("seq_len"), "seed": d.pop("seed"), "device": d.pop("device"),
            "corpus": list(d.pop("corpus")), "run": d}


def save_run(config: RunConfig, result: dict, arrays: dict, wall_time_s: float):
    """Write a finished run's artifact (atomically; keyed by the config's hash)."""
    return artifacts.save_artifact(KIND, artifact_config(config), result, arrays, seed=config.seed,
                                   wall_time_s=round(wall_time_s, 3))


@dataclass(frozen=True)
class LadderResults:
    """A sweep's final measures as arrays indexed [size, seed, task, frequency]."""

    sizes: tuple[str, ...]
    params: np.ndarray
    """Non-embedding parameters of each size."""
    seeds: tuple[int, ...]
    tasks: tuple[TaskSpec, ...]
    frequencies: np.ndarray
    """Descending."""
    accuracy: np.ndarray
    """Held-out accuracy, argmax over the task's label set."""
    accuracy_vocab: np.ndarray
    """Held-out accuracy, argmax over the whole vocabulary."""
    train_label_loss: np.ndarray
    """Label loss on the train split (the pool injections draw from)."""
    injected_label_loss: np.ndarray
    """Label loss on instances actually injected (nan where none was)."""
    chance: np.ndarray
    """[task]: accuracy of a uniform guess among the labels."""
    grad_cosine: np.ndarray
    forgetting_rise: np.ndarray
    """Rise of the injected instances' label loss over the background-only steps after training."""
    forgetting: tuple
    """[size][seed][task·frequency]: (steps, label loss at each), frequencies descending within a task."""
    probes: tuple
    """[size][seed]: probe accuracy [task·frequency, target, layer]."""
    probe_chance: tuple
    injected: np.ndarray
    requested: np.ndarray
    distinct: np.ndarray
    """Distinct train instances injected."""
    val_loss: np.ndarray
    """[size, seed]: final background validation loss."""
    tokens_per_s: np.ndarray
    """[size, seed]: training throughput of the run (evaluation excluded)."""
    wall_time_s: np.ndarray
    """[size, seed]: wall time of the runs (all cells of that size and seed), evaluation included."""
    tokens: np.ndarray
    """[size]: training tokens of each run."""

    def threshold(self, margin: float = 0.5) -> np.ndarray:
        """Learning threshold frequency [size, seed, task] (nan: not learned at any frequency)."""
        out = np.full(self.accuracy.shape[:3], np.nan)
        for s, r, t in np.ndindex(*out.shape):
            out[s, r, t] = threshold_frequency(self.frequencies, self.accuracy[s, r, t],
                                               self.chance[t], margin)
        return out


def cell_copies(sweep: Sweep):
    """Each cell with, for each of its injected copies, ``(task index, frequency index, copy)``."""
    return [(config, [(i, j, c) for c, (i, j) in enumerate(group)])
            for config, (*_, group) in zip(sweep.cells(), sweep.cell_groups())]


def ladder_results(sweep: Sweep, runs=None) -> LadderResults:
    """Gather a sweep's artifacts (loaded when ``runs`` is None) into arrays by
    [size, seed, task, frequency], frequencies descending."""
    runs = runs if runs is not None else load_runs(sweep)
    n_s, n_r, n_t, n_f = len(sweep.sizes), len(sweep.seeds), len(sweep.tasks), len(sweep.frequencies)
    rank = np.argsort(np.argsort(sweep.frequencies)[::-1])  # frequency index -> descending position
    shape = (n_s, n_r, n_t, n_f)
    fields = {k: np.full(shape, np.nan) for k in ("accuracy", "accuracy_vocab", "train_label_loss",
                                                  "injected_label_loss",
                                                  "grad_cosine", "forgetting_rise", "injected",
                                                  "requested", "distinct")}
    forgetting = [[[None] * (n_t * n_f) for _ in range(n_r)] for _ in range(n_s)]
    probes = [[[None] * (n_t * n_f) for _ in range(n_r)] for _ in range(n_s)]
    chance_p = [[[None] * (n_t * n_f) for _ in range(n_r)] for _ in range(n_s)]
    val_loss, tokens_per_s, wall = (np.zeros((n_s, n_r)) for _ in range(3))
    counts = np.zeros((n_s, n_r))
    runs_by_key = {r.key: r for r in runs}
    for cell, copies in cell_copies(sweep):
        s, r = sweep.sizes.index(cell.size), sweep.seeds.index(cell.seed)
        run = runs_by_key[cell_key(cell)]
        final, a = run.result["final"], run.arrays
        steps = np.asarray(run.result["forgetting_steps"])
        for i, j, c in copies:
            where = (s, r, i, rank[j])
            fields["accuracy"][where] = final["test_acc_labels"][c]
            fields["accuracy_vocab"][where] = final["test_acc_vocab"][c]
            fields["train_label_loss"][where] = final["train_label_loss"][c]
            fields["injected_label_loss"][where] = final["injected_label_loss"][c]
            fields["grad_cosine"][where] = final["grad_cosine"][c]
            fields["forgetting_rise"][where] = a["forgetting_loss"][c, -1] - a["forgetting_loss"][c, 0]
            fields["injected"][where] = run.result["injected_instances"][c]
            fields["requested"][where] = run.result["requested_instances"][c]
            fields["distinct"][where] = run.result["distinct_injected"][c]
            flat = i * n_f + rank[j]
            forgetting[s][r][flat] = a["forgetting_loss"][c]
            probes[s][r][flat] = a["probe_acc"][c]
            chance_p[s][r][flat] = a["probe_chance"][c]
        val_loss[s, r] += final["val_loss"]
        tokens_per_s[s, r] += run.result["tokens_per_s"]
        wall[s, r] += run.manifest.get("wall_time_s") or np.nan
        counts[s, r] += 1
    chance = np.array([1 / (2 if t.kind == "cmp" else (t.modulus or t.n_values)) for t in sweep.tasks])
    tokens = {c.size: c.steps * c.global_batch * c.seq_len for c in sweep.cells()}
    return LadderResults(
        sizes=sweep.sizes, params=np.array([model_size(s).non_embedding_params() for s in sweep.sizes]),
        seeds=sweep.seeds, tasks=sweep.tasks, frequencies=np.sort(np.asarray(sweep.frequencies, float))[::-1],
        chance=chance,
        forgetting=tuple(tuple(tuple((steps, np.asarray(c)) for c in per_seed) for per_seed in per_size)
                         for per_size in forgetting),
        probes=tuple(tuple(np.array(p) for p in row) for row in probes),
        probe_chance=tuple(tuple(np.array(p) for p in row) for row in chance_p),
        val_loss=val_loss / counts, tokens_per_s=tokens_per_s / counts, wall_time_s=wall,
        tokens=np.array([tokens[s] for s in sweep.sizes]), **fields)


def load_ladder(path) -> tuple[Sweep, LadderResults]:
    """A sweep from its YAML and its results; a missing cell names the command to run."""
    sweep = Sweep.from_yaml(path)
    produce = f"python -m runners.sweep {path}"
    return sweep, ladder_results(sweep, load_runs(sweep, produce=produce))


def threshold_summary(res: LadderResults, margin: float = 0.5) -> dict:
    """Per (size, task): the thresholds of the seeds, their geometric mean and spread.

    ``learned_all`` is true when every seed learned the task at some frequency;
    the mean is over the seeds that did.
    """
    thr = res.threshold(margin)
    out = {}
    for s, size in enumerate(res.sizes):
        for t in range(len(res.tasks)):
            seeds = thr[s, :, t]
            ok = np.isfinite(seeds)
            out[size, t] = {
                "seeds": seeds,
                "learned_all": bool(ok.all()),
                "n_learned": int(ok.sum()),
                "mean": float(np.exp(np.log(seeds[ok]).mean())) if ok.any() else float("nan"),
                "low": float(seeds[ok].min()) if ok.any() else float("nan"),
                "high": float(seeds[ok].max()) if ok.any() else float("nan"),
            }
    return out


def falls_with_size(values) -> bool:
    """True when a sequence (by increasing size) never rises and ends below where it starts."""
    v = np.asarray(values, float)
    if not np.isfinite(v).all() or len(v) < 2:
        return False
    return bool(np.all(np.diff(v) <= 0) and v[-1] < v[0])
