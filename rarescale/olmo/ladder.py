"""A grid's results (C18-C20): arrays by size, thresholds, trends and chapter 4's verdicts.

:func:`load_ladder` gathers the artifacts of a :class:`~rarescale.olmo.grid.Sweep`
into :class:`LadderResults`, arrays indexed ``[size, seed, task, frequency]``
with frequencies descending. The rest reads them: the learned level, each
size's learning threshold, whether a measure falls or rises with size, and the
verdict rows of chapter 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rarescale.olmo.grid import Sweep, cell_key, load_runs
from rarescale.olmo.model import model_size
from rarescale.olmo.tasks import TaskSpec
from rarescale.report import sci


def learned_level(chance, margin: float = 0.5):
    """The accuracy a task must reach to count as learned: ``margin`` of the gap from chance to 1."""
    chance = np.asarray(chance, float)
    return chance + margin * (1 - chance)


def threshold_frequency(frequencies, accuracy, chance, margin: float = 0.5) -> float:
    """The learning threshold: the lowest frequency at or above which every frequency is learned.

    Frequencies are interpolated in log space between the last learned and the
    first not learned (accuracy crossing the ``margin`` level); ``nan`` when
    even the highest is not learned, the lowest frequency when all are.
    """
    f = np.asarray(frequencies, float)
    order = np.argsort(f)[::-1]
    f, acc = f[order], np.asarray(accuracy, float)[order]
    level = learned_level(chance, margin)
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
    grad_cosine: np.ndarray
    forgetting_rise: np.ndarray
    """Rise of the injected instances' label loss over the background-only steps after training."""
    forgetting_steps: np.ndarray
    """Background-only steps at which the forgetting curves were measured."""
    forgetting: tuple
    """[size][seed][task][frequency]: label loss at each of ``forgetting_steps``."""
    probes: tuple
    """[size][seed][task][frequency]: probe accuracy [target, layer] (layers differ by size)."""
    probe_chance: tuple
    """[size][seed][task][frequency]: majority-class accuracy [target]."""
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

    @property
    def chance(self) -> np.ndarray:
        """[task]: accuracy of a uniform guess among the labels."""
        return np.array([t.chance for t in self.tasks])

    @property
    def titles(self) -> list[str]:
        return [t.title for t in self.tasks]

    def frequency_index(self, frequency: float) -> int:
        """The index of the frequency of the grid nearest ``frequency`` (in log)."""
        return int(np.argmin(np.abs(np.log(self.frequencies / frequency))))

    def threshold(self, margin: float = 0.5) -> np.ndarray:
        """Learning threshold frequency [size, seed, task] (nan: not learned at any frequency)."""
        out = np.full(self.accuracy.shape[:3], np.nan)
        for s, r, t in np.ndindex(*out.shape):
            out[s, r, t] = threshold_frequency(self.frequencies, self.accuracy[s, r, t],
                                               self.chance[t], margin)
        return out

    def best_probe(self, task: int, frequency: int, target: int) -> np.ndarray:
        """[size]: best-layer probe accuracy for ``target``, mean over seeds (C19)."""
        return np.array([np.mean([self.probes[s][r][task][frequency][target].max()
                                  for r in range(len(self.seeds))]) for s in range(len(self.sizes))])


def _nested(n_s, n_r, n_t, n_f):
    return [[[[None] * n_f for _ in range(n_t)] for _ in range(n_r)] for _ in range(n_s)]


def _frozen(nested):
    return tuple(tuple(tuple(tuple(f) for f in t) for t in r) for r in nested)


def ladder_results(sweep: Sweep, runs) -> LadderResults:
    """Gather a sweep's artifacts into arrays by [size, seed, task, frequency], frequencies descending."""
    n_s, n_r, n_t, n_f = len(sweep.sizes), len(sweep.seeds), len(sweep.tasks), len(sweep.frequencies)
    rank = np.argsort(np.argsort(sweep.frequencies)[::-1])  # frequency index -> descending position
    shape = (n_s, n_r, n_t, n_f)
    fields = {k: np.full(shape, np.nan) for k in ("accuracy", "accuracy_vocab", "train_label_loss",
                                                  "injected_label_loss", "grad_cosine",
                                                  "forgetting_rise", "injected", "requested",
                                                  "distinct")}
    from_final = {"accuracy": "test_acc_labels", "accuracy_vocab": "test_acc_vocab",
                  "train_label_loss": "train_label_loss", "injected_label_loss": "injected_label_loss",
                  "grad_cosine": "grad_cosine"}
    from_result = {"injected": "injected_instances", "requested": "requested_instances",
                   "distinct": "distinct_injected"}
    forgetting, probes, probe_chance = _nested(*shape), _nested(*shape), _nested(*shape)
    val_loss, tokens_per_s, wall, counts = (np.zeros((n_s, n_r)) for _ in range(4))
    runs_by_key = {r.key: r for r in runs}
    steps = None
    for cell, copies in sweep.cell_copies():
        s, r = sweep.sizes.index(cell.size), sweep.seeds.index(cell.seed)
        run = runs_by_key[cell_key(cell)]
        final, a = run.result["final"], run.arrays
        steps = np.asarray(run.result["forgetting_steps"])
        for i, j, c in copies:
            where = (s, r, i, rank[j])
            for name, key in from_final.items():
                fields[name][where] = final[key][c]
            for name, key in from_result.items():
                fields[name][where] = run.result[key][c]
            fields["forgetting_rise"][where] = a["forgetting_loss"][c, -1] - a["forgetting_loss"][c, 0]
            forgetting[s][r][i][rank[j]] = a["forgetting_loss"][c]
            probes[s][r][i][rank[j]] = a["probe_acc"][c]
            probe_chance[s][r][i][rank[j]] = a["probe_chance"][c]
        val_loss[s, r] += final["val_loss"]
        tokens_per_s[s, r] += run.result["tokens_per_s"]
        wall[s, r] += run.manifest.get("wall_time_s") or np.nan
        counts[s, r] += 1
    tokens = {c.size: c.tokens_trained for c in sweep.cells()}
    return LadderResults(
        sizes=sweep.sizes, params=np.array([model_size(s).non_embedding_params() for s in sweep.sizes]),
        seeds=sweep.seeds, tasks=sweep.tasks,
        frequencies=np.sort(np.asarray(sweep.frequencies, float))[::-1],
        forgetting_steps=steps, forgetting=_frozen(forgetting), probes=_frozen(probes),
        probe_chance=_frozen(probe_chance), val_loss=val_loss / counts,
        tokens_per_s=tokens_per_s / counts, wall_time_s=wall,
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


# --------------------------------------------------------------------------- trends

def falls_with_size(values) -> bool:
    """True when a sequence (by increasing size) never rises and ends below where it starts."""
    v = np.asarray(values, float)
    if not np.isfinite(v).all() or len(v) < 2:
        return False
    return bool(np.all(np.diff(v) <= 0) and v[-1] < v[0])


def rises_with_size(values, slack: float = 0.02, gain: float = 0.05) -> bool:
    """Never falls by more than ``slack`` from one size to the next, and gains ``gain`` in all."""
    v = np.asarray(values, float)
    return bool(np.isfinite(v).all() and np.all(np.diff(v) >= -slack) and v[-1] > v[0] + gain)


def arrow(values, fmt: str = "{:.2f}") -> str:
    """``0.40 → 0.61 → 0.94``: a measure from the smallest size to the largest."""
    return " → ".join(fmt.format(v) for v in values)


# --------------------------------------------------------------------------- chapter 4's verdicts

VERDICT = {True: "supported", False: "not shown"}


def threshold_means(res: LadderResults, margin: float = 0.5) -> np.ndarray:
    """[size, task]: geometric-mean threshold over seeds; nan where a seed never learned the task."""
    summary = threshold_summary(res, margin)
    return np.array([[summary[size, t]["mean"] if summary[size, t]["learned_all"] else np.nan
                      for t in range(len(res.tasks))] for size in res.sizes])


def threshold_rows(res: LadderResults, margin: float = 0.5) -> list[list[str]]:
    """The threshold table: per task and size, the mean threshold, the seeds' range and each seed."""
    summary, rows = threshold_summary(res, margin), []
    for t, name in enumerate(res.titles):
        for s, size in enumerate(res.sizes):
            th = summary[size, t]
            seeds = ", ".join("not learned" if not np.isfinite(x) else sci(x) for x in th["seeds"])
            rows.append([name, size, f"{res.params[s]:,}",
                         sci(th["mean"]) if th["n_learned"] else "not learned",
                         f"{sci(th['low'])} – {sci(th['high'])}" if th["n_learned"] else "–", seeds])
    return rows


def threshold_verdict(res: LadderResults, task: int, margin: float = 0.5) -> str:
    """A sentence on whether ``task``'s threshold falls with size, with the numbers."""
    means, name = threshold_means(res, margin)[:, task], res.titles[task]
    defined = np.isfinite(means)
    if falls_with_size(means):
        return (f"for {name} the threshold falls with size, from {sci(means[0])} at {res.sizes[0]} "
                f"to {sci(means[-1])} at {res.sizes[-1]}, {means[0] / means[-1]:.1f}× lower")
    if not defined.all():
        where = ", ".join(f"{size} {sci(m)}" for size, m in zip(res.sizes, means) if np.isfinite(m))
        return (f"for {name} not every size learns the task in every seed, so no trend across all "
                f"sizes can be read ({int(defined.sum())} of {len(means)} sizes have a threshold in "
                f"every seed{': ' + where if where else ''})")
    return (f"for {name} the threshold does not fall monotonically with size "
            f"({', '.join(sci(m) for m in means)} from smallest to largest)")


def learned_fraction(res: LadderResults, margin: float = 0.5) -> np.ndarray:
    """[size, task]: the share of the grid's frequencies at which the seed-mean accuracy is learned."""
    level = learned_level(res.chance, margin)
    return (res.accuracy.mean(axis=1) >= level[None, :, None]).mean(axis=2)


def forgetting_rise(res: LadderResults, frequency: int) -> np.ndarray:
    """[size, task]: seed-mean rise of the label loss over the background-only steps."""
    return res.forgetting_rise.mean(axis=1)[:, :, frequency]


def verdict_rows(res: LadderResults, margin: float, probe_frequency: int,
                 forgetting_frequency: int) -> list[list[str]]:
    """Chapter 4's verdict table: claim, what the ladder would show, verdict, numbers."""
    names, rows = res.titles, []
    thresholds, fraction = threshold_means(res, margin), learned_fraction(res, margin)
    for t, name in enumerate(names):
        rows.append(["C18", f"learning threshold falls with size ({name})",
                     VERDICT[falls_with_size(thresholds[:, t])], threshold_verdict(res, t, margin)])
    for t, name in enumerate(names):
        rows.append(["C18", f"larger sizes learn more of the frequencies ({name})",
                     VERDICT[falls_with_size(-fraction[:, t])],
                     "fraction of frequencies learned: " + arrow(fraction[:, t])])
    for t, name in enumerate(names):
        for k, target in ((0, "v1"), (2, "label")):
            best = res.best_probe(t, probe_frequency, k)
            rows.append(["C19", f"best-layer probe for {target} improves with size ({name})",
                         VERDICT[rises_with_size(best)], "held-out probe accuracy: " + arrow(best)])
    rise = forgetting_rise(res, forgetting_frequency)
    rows.append(["C20", "forgetting falls with size",
                 VERDICT[all(falls_with_size(rise[:, t]) for t in range(len(names)))],
                 "; ".join(f"{n}: {rise[0, t]:.2f} → {rise[-1, t]:.2f} nats" for t, n in enumerate(names))])
    mean_abs_cos = np.abs(res.grad_cosine.mean(axis=1)).mean(axis=(1, 2))
    rows.append(["C20", "gradient cosine closer to zero with size", VERDICT[falls_with_size(mean_abs_cos)],
                 "mean |cos| by size: " + arrow(mean_abs_cos, "{:.3f}")])
    return rows
