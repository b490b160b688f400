"""A grid's results (C18-C20): arrays by size, thresholds, trends and chapter 4's verdicts.

:func:`load_ladder` gathers the artifacts of a :class:`~rarescale.sweeps.grid.Sweep`
into :class:`LadderResults`, arrays indexed ``[size, seed, task, frequency]``
with frequencies descending. The rest reads them: the learned level, each
size's learning threshold, whether a measure falls or rises with size, and the
verdict rows of chapter 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rarescale.sweeps.grid import Sweep, cell_key, load_runs
from rarescale.pretrain.model import model_size
from rarescale.pretrain.tasks import TaskSpec
from rarescale.verdicts import ALPHA, adjust_family, holm, size_trend


def learned_level(baseline, margin: float):
    """The accuracy a task must reach to count as learned: ``margin`` of the gap from ``baseline``
    to 1. The baseline is the better of chance and the best one-operand rule (C18's shortcut)."""
    baseline = np.asarray(baseline, float)
    return baseline + margin * (1 - baseline)


def below_chance_p(accuracy: float, n: int, chance: float) -> float:
    """One-sided exact binomial p-value that guessing at ``chance`` scores at most ``accuracy``
    on ``n`` held-out instances: small when a run answers the held-out pairs by a rule that is
    wrong on them, not at random."""
    from scipy.stats import binom

    return float(binom.cdf(int(round(accuracy * n)), n, chance))


def below_chance(accuracy, n: int, chance: float, alpha: float = ALPHA) -> dict:
    """Which runs score below guessing: :func:`below_chance_p` for each finite accuracy in
    ``accuracy`` (any shape; nan: not run), Holm-adjusted over them as one family. Returns
    ``p`` and ``p_adjusted`` (the shape of ``accuracy``) and ``below`` (adjusted p at or under
    ``alpha``): picking the lowest run and testing it alone would ignore the others."""
    acc = np.asarray(accuracy, float)
    p = np.full(acc.shape, np.nan)
    ran = np.isfinite(acc)
    p[ran] = [below_chance_p(a, n, chance) for a in acc[ran]]
    q = holm(p.ravel()).reshape(acc.shape)
    return {"p": p, "p_adjusted": q, "below": np.isfinite(q) & (q <= alpha)}


def threshold_frequency(frequencies, accuracy, level) -> float:
    """The learning threshold: the lowest frequency at or above which every frequency is learned.

    ``level`` is the learned level (a number, or one per frequency). Frequencies
    are interpolated in log space between the last learned and the first not
    learned (in the margin of accuracy over the level); ``nan`` when even the
    highest is not learned, the lowest frequency when all are.
    """
    f = np.asarray(frequencies, float)
    order = np.argsort(f)[::-1]
    level = np.broadcast_to(np.asarray(level, float), f.shape)[order]
    f, over = f[order], np.asarray(accuracy, float)[order] - level
    ok = over >= 0
    if not ok[0]:
        return float("nan")
    k = int(np.argmin(ok)) if not ok.all() else len(f)
    if k == len(f):
        return float(f[-1])
    # interpolate log f linearly in (accuracy - level) between f[k-1] (learned) and f[k] (not)
    t = over[k - 1] / max(over[k - 1] - over[k], 1e-12)
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
    accuracy_hard: np.ndarray
    """Held-out accuracy on the shortcut-hard instances (those the best one-operand rule misses)."""
    shortcut: np.ndarray
    """Test accuracy of the best one-operand rule of each copy (the same at every size and seed)."""
    train_label_loss: np.ndarray
    """Label loss on the train split (the pool injections draw from)."""
    injected_label_loss: np.ndarray
    """Label loss on instances actually injected (nan where none was)."""
    cosine: dict
    """Gradient cosine with the background, mean over the evaluations after step 0: ``"all"``
    weights, the blocks (``"body"``), embeddings and output (``"io"``), and the blocks for the
    shuffled-label null (``"null"``)."""
    forgetting_rise: np.ndarray
    """Rise of the injected instances' label loss over the background-only steps, at each run's
    own final learning rate."""
    forgetting_rise_matched: np.ndarray
    """The same at one learning rate for every size (``forgetting_lr``)."""
    forgetting_lr: float
    last_step_lr: np.ndarray
    """[size]: each size's final learning rate."""
    forgetting_steps: np.ndarray
    """Background-only steps at which the forgetting curves were measured."""
    forgetting_curve: np.ndarray
    """[size, seed, task, frequency, step]: label loss on injected instances over those steps."""
    forgetting_curve_matched: np.ndarray
    curves: tuple
    """[size][seed][task][frequency]: per evaluation ``step``, ``injected``, ``distinct``, ``accuracy``."""
    probe_score: tuple
    """[size][seed][task][frequency]: probe score [target, layer] (layers differ by size)."""
    probe_control: tuple
    """The same probes on the control task (a random relabelling of the values)."""
    probe_kinds: tuple
    """[task][target]: "classes" (accuracy) or "ordinal" (R²)."""
    probe_targets: tuple
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
    def baseline(self) -> np.ndarray:
        """[task, frequency]: the better of chance and the best one-operand rule."""
        return np.maximum(self.chance[:, None], self.shortcut[0, 0])

    @property
    def titles(self) -> list[str]:
        return [t.title for t in self.tasks]

    @property
    def ran(self) -> np.ndarray:
        """[task, frequency]: whether the task was run at the frequency (a sweep may give each
        task its own frequencies; the arrays hold nan where it was not)."""
        return np.isfinite(self.accuracy).any(axis=(0, 1))

    def frequency_index(self, frequency: float, task: int | None = None, exact: bool = False) -> int:
        """The index of the frequency of the grid nearest ``frequency`` (in log); with ``task``,
        the nearest of those that task was run at; ``exact``: that frequency itself, or a
        ValueError naming it."""
        distance = np.abs(np.log(self.frequencies / frequency))
        if task is not None:
            distance = np.where(self.ran[task], distance, np.inf)
        j = int(np.argmin(distance))
        if exact and not (np.isfinite(distance[j]) and np.isclose(self.frequencies[j], frequency, rtol=1e-9)):
            where = f" for {self.titles[task]}" if task is not None else ""
            raise ValueError(f"frequency {frequency:g} is not one the sweep ran{where}")
        return j

    def level(self, margin: float) -> np.ndarray:
        """[task, frequency]: the learned level."""
        return learned_level(self.baseline, margin)

    def learned(self, margin: float) -> np.ndarray:
        """[size, seed, task, frequency]: held-out accuracy at or above the learned level."""
        return self.accuracy >= self.level(margin)[None, None]

    def threshold(self, margin: float) -> np.ndarray:
        """Learning threshold frequency [size, seed, task] (nan: not learned at any frequency)."""
        out = np.full(self.accuracy.shape[:3], np.nan)
        level = self.level(margin)
        ran = self.ran
        for s, r, t in np.ndindex(*out.shape):
            f = ran[t]
            out[s, r, t] = threshold_frequency(self.frequencies[f], self.accuracy[s, r, t, f], level[t, f])
        return out

    def selectivity(self, task: int, frequency: int, target: int, layer="best") -> np.ndarray:
        """[size, seed]: probe score minus its control at ``layer`` (C19): a relative depth (the
        nearest layer: 0 the embeddings, 1 the last block), or ``"best"``, the best layer's."""
        def one(s, r):
            gap = (np.asarray(self.probe_score[s][r][task][frequency][target])
                   - np.asarray(self.probe_control[s][r][task][frequency][target]))
            return gap.max() if layer == "best" else gap[int(round(float(layer) * (len(gap) - 1)))]

        return np.array([[one(s, r) for r in range(len(self.seeds))] for s in range(len(self.sizes))])

    def best_probe(self, task: int, frequency: int, target: int) -> np.ndarray:
        """[size, seed]: the best layer's probe score (C19)."""
        return np.array([[np.max(self.probe_score[s][r][task][frequency][target])
                          for r in range(len(self.seeds))] for s in range(len(self.sizes))])


def _nested(n_s, n_r, n_t, n_f):
    return [[[[None] * n_f for _ in range(n_t)] for _ in range(n_r)] for _ in range(n_s)]


def _frozen(nested):
    return tuple(tuple(tuple(tuple(f) for f in t) for t in r) for r in nested)


def ladder_results(sweep: Sweep, runs) -> LadderResults:
    """Gather a sweep's artifacts into arrays by [size, seed, task, frequency], frequencies descending."""
    n_s, n_r, n_t, n_f = len(sweep.sizes), len(sweep.seeds), len(sweep.tasks), len(sweep.frequencies)
    rank = np.argsort(np.argsort(sweep.frequencies)[::-1])  # frequency index -> descending position
    shape = (n_s, n_r, n_t, n_f)
    from_final = {"accuracy": "test_acc_labels", "accuracy_vocab": "test_acc_vocab",
                  "accuracy_hard": "test_acc_hard", "train_label_loss": "train_label_loss",
                  "injected_label_loss": "injected_label_loss"}
    from_result = {"injected": "injected_instances", "requested": "requested_instances",
                   "distinct": "distinct_injected", "shortcut": "shortcut_accuracy"}
    cosines = {"all": "grad_cosine", "body": "grad_cosine_body", "io": "grad_cosine_io",
               "null": "grad_cosine_null_body"}
    fields = {k: np.full(shape, np.nan) for k in (*from_final, *from_result, "forgetting_rise",
                                                  "forgetting_rise_matched")}
    cosine = {k: np.full(shape, np.nan) for k in cosines}
    curves, score, control = _nested(*shape), _nested(*shape), _nested(*shape)
    forgetting = {k: [] for k in ("forgetting_loss", "forgetting_loss_matched")}
    val_loss, tokens_per_s, wall, counts = (np.zeros((n_s, n_r)) for _ in range(4))
    last_lr = np.zeros(n_s)
    runs_by_key = {r.key: r for r in runs}
    steps, kinds, forgetting_lr = None, {}, None
    for cell, copies in sweep.cell_copies():
        s, r = sweep.sizes.index(cell.size), sweep.seeds.index(cell.seed)
        run = runs_by_key[cell_key(cell)]
        result, final, a = run.result, run.result["final"], run.arrays
        steps, forgetting_lr = np.asarray(result["forgetting_steps"]), result["forgetting_lr"]
        last_lr[s] = result["last_step_lr"]
        after = a["eval_step"] > 0  # interference averaged over training, not at initialisation
        for i, j, c in copies:
            where = (s, r, i, rank[j])
            for name, key in from_final.items():
                fields[name][where] = final[key][c]
            for name, key in from_result.items():
                fields[name][where] = result[key][c]
            for name, key in cosines.items():
                cosine[name][where] = a[key][after, c].mean()
            for name, key in (("forgetting_rise", "forgetting_loss"),
                              ("forgetting_rise_matched", "forgetting_loss_matched")):
                fields[name][where] = a[key][c, -1] - a[key][c, 0]
                forgetting[key].append((where, a[key][c]))
            curves[s][r][i][rank[j]] = {"step": a["eval_step"], "injected": a["injected"][:, c],
                                        "distinct": a["distinct"][:, c],
                                        "accuracy": a["test_acc_labels"][:, c]}
            score[s][r][i][rank[j]] = a["probe_score"][c]
            control[s][r][i][rank[j]] = a["probe_control"][c]
            kinds[i] = tuple(result["probe_kinds"][c])
        val_loss[s, r] += final["val_loss"]
        tokens_per_s[s, r] += result["tokens_per_s"]
        wall[s, r] += run.manifest.get("wall_time_s") or np.nan
        counts[s, r] += 1
    tokens = {c.size: c.tokens_trained for c in sweep.cells()}
    curve_arrays = {}
    for key, items in forgetting.items():
        curve_arrays[key] = np.full(shape + (len(steps),), np.nan)
        for where, curve in items:
            curve_arrays[key][where] = curve
    return LadderResults(
        forgetting_curve=curve_arrays["forgetting_loss"],
        forgetting_curve_matched=curve_arrays["forgetting_loss_matched"],
        sizes=sweep.sizes, params=np.array([model_size(s).non_embedding_params() for s in sweep.sizes]),
        seeds=sweep.seeds, tasks=sweep.tasks,
        frequencies=np.sort(np.asarray(sweep.frequencies, float))[::-1], cosine=cosine,
        forgetting_lr=forgetting_lr, last_step_lr=last_lr, forgetting_steps=steps,
        curves=_frozen(curves), probe_score=_frozen(score), probe_control=_frozen(control),
        probe_kinds=tuple(kinds.get(i, ()) for i in range(n_t)), probe_targets=("v1", "v2", "label"),
        val_loss=val_loss / counts, tokens_per_s=tokens_per_s / counts, wall_time_s=wall,
        tokens=np.array([tokens[s] for s in sweep.sizes]), **fields)


def load_ladder(path) -> tuple[Sweep, LadderResults]:
    """A sweep from its YAML and its results; a missing cell names the command to run."""
    sweep = Sweep.from_yaml(path)
    produce = f"python -m runners.sweep {path}"
    return sweep, ladder_results(sweep, load_runs(sweep, produce=produce))


def threshold_summary(res: LadderResults, margin: float) -> dict:
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

def arrow(values, fmt: str = "{:.2f}") -> str:
    """``0.40 → 0.61 → 0.94``: a measure from the smallest size to the largest; "–" for a size
    where it is undefined (no seed has a value)."""
    return " → ".join(fmt.format(v) if np.isfinite(v) else "–" for v in values)


def _p_text(p: float) -> str:
    return f"{p:.3f}" if np.isfinite(p) else "–"


# --------------------------------------------------------------------------- chapter 4's verdicts

def log_threshold(res: LadderResults, margin: float) -> np.ndarray:
    """[size, seed, task]: log₁₀ of the learning threshold; a seed that learned the task at no
    frequency counts as one grid step (the ratio of its two highest) above the highest
    frequency the task was run at."""
    thr = res.threshold(margin)
    above = np.array([np.log10(f[0] * f[0] / f[1]) if len(f) > 1 else np.log10(f[0])
                      for f in (res.frequencies[r] for r in res.ran)])
    return np.where(np.isfinite(thr), np.log10(thr), above[None, None])


def learned_fraction(res: LadderResults, margin: float) -> np.ndarray:
    """[size, seed, task]: the share of the frequencies the task was run at at which it is learned."""
    ran = res.ran[None, None]
    return (res.learned(margin) & ran).sum(axis=3) / ran.sum(axis=3)


def learned_by_size(res: LadderResults, margin: float) -> np.ndarray:
    """[size, task, frequency]: learned in the seed mean of the accuracy."""
    return res.accuracy.mean(axis=1) >= res.level(margin)[None]


def crossing_steps(res: LadderResults, margin: float) -> np.ndarray:
    """[size, seed, task, frequency]: the first evaluation step at which held-out accuracy
    reaches the learned level (C18); nan where the run never did, or was not run."""
    level = res.level(margin)
    out = np.full(res.accuracy.shape, np.nan)
    for s, r, t, f in np.ndindex(*out.shape):
        curve = res.curves[s][r][t][f]
        if curve is not None:
            hit = np.flatnonzero(np.asarray(curve["accuracy"]) >= level[t, f])
            if hit.size:
                out[s, r, t, f] = curve["step"][hit[0]]
    return out


def forgetting_where_learned(res: LadderResults, margin: float, matched: bool = True):
    """[size, seed, task]: the mean rise of the label loss over the frequencies the size learned."""
    rise = res.forgetting_rise_matched if matched else res.forgetting_rise
    learned = learned_by_size(res, margin)[:, None]  # [size, 1, task, frequency]
    n = learned.sum(-1)
    return np.where(n > 0, np.where(learned, rise, 0.0).sum(-1) / np.maximum(n, 1), np.nan)


def interference(res: LadderResults) -> np.ndarray:
    """[size, seed, task]: the task's gradient cosine with the background over the blocks, minus
    the shuffled-label null's, mean over frequencies and over training (C20). Negative: a
    background step raises the task's loss more than it raises a label-free copy's."""
    gap = np.where(res.ran[None, None], res.cosine["body"] - res.cosine["null"], 0.0)
    return gap.sum(axis=3) / res.ran.sum(axis=1)[None, None]


def forgetting_direction(res: LadderResults) -> dict:
    """C20's forgetting, both ways: the seed-level rise of the label loss over the background-only
    steps at the matched learning rate, mean over every task and frequency run, against size;
    ``falls`` tests the claimed direction (larger models forget less), ``rises`` the other."""
    import warnings

    with warnings.catch_warnings():  # a task not run at a frequency: nan, left out of the mean
        warnings.simplefilter("ignore", RuntimeWarning)
        rise = np.nanmean(res.forgetting_rise_matched, axis=(2, 3))  # [size, seed]
    return {"falls": size_trend(rise, res.params, -1), "rises": size_trend(rise, res.params, +1)}


FAMILIES = ("C18", "C19", "C20")
"""Each claim's trend tests form one family, adjusted together (Holm)."""


def verdicts(res: LadderResults, analysis, sizes=None) -> list[dict]:
    """Chapter 4's verdicts at the sweep's ``analysis`` (:class:`~rarescale.sweeps.grid.Analysis`):
    per claim, each trend with size (:func:`rarescale.verdicts.size_trend`), its p-value adjusted
    within its claim (Holm), and the seed means by size. ``sizes``: the indices of the sizes to
    use (default all; the robustness table leaves each out in turn)."""
    keep = list(range(len(res.sizes))) if sizes is None else list(sizes)
    params, out = res.params[keep], []
    margin = analysis.margin

    def add(claim, statement, values, direction, fmt="{:.2f}", note=""):
        trend = size_trend(np.asarray(values)[keep], params, direction)
        out.append({"claim": claim, "statement": statement, "trend": trend,
                    "means": arrow(trend.means, fmt) + note})

    thresholds, fraction = log_threshold(res, margin), learned_fraction(res, margin)
    for t, name in enumerate(res.titles):
        add("C18", f"the learning threshold falls with size ({name}; log₁₀ instances per token)",
            thresholds[:, :, t], -1)
        add("C18", f"larger sizes learn more of the frequencies ({name}; share learned)",
            fraction[:, :, t], +1)
        add("C18", f"accuracy on shortcut-hard instances rises with size ({name}; mean over "
            "frequencies)", np.nanmean(res.accuracy_hard[:, :, t], axis=-1), +1)
    layer = "best layer" if analysis.layer == "best" else f"depth {analysis.layer:g}"
    for t, name in enumerate(res.titles):
        for k, target in enumerate(res.probe_targets):
            add("C19", f"probe selectivity for {target} rises with size ({name}; "
                f"{'R²' if res.probe_kinds[t][k] == 'ordinal' else 'accuracy'} minus control, {layer})",
                res.selectivity(t, res.frequency_index(analysis.probe_frequency, t), k, analysis.layer), +1)
    for t, name in enumerate(res.titles):
        add("C20", f"interference falls with size ({name}; cosine over the blocks minus the "
            "null's, rises toward 0)", interference(res)[:, :, t], +1, fmt="{:+.3f}")
        add("C20", f"forgetting falls with size, at one learning rate ({name}; nats, at the "
            "frequencies each size learned)", forgetting_where_learned(res, margin)[:, :, t], -1)
    for family in FAMILIES:
        mine = [v for v in out if v["claim"] == family]
        for v, adjusted in zip(mine, adjust_family([v["trend"] for v in mine], family)):
            v["trend"] = adjusted
    return out


def alternatives(res: LadderResults, analysis) -> list[tuple[str, object, list]]:
    """The defensible alternatives to ``analysis``, each as (what changed, the analysis, the
    sizes kept): the learned margin 0.3, 0.5, 0.7; each probe frequency; each layer rule; and
    each size left out."""
    import dataclasses

    every = list(range(len(res.sizes)))
    out = [("as registered", analysis, every)]
    out += [(f"margin {m:g}", dataclasses.replace(analysis, margin=m), every)
            for m in (0.3, 0.5, 0.7) if m != analysis.margin]
    out += [(f"probe frequency {f:.0e}", dataclasses.replace(analysis, probe_frequency=float(f)), every)
            for f in res.frequencies if not np.isclose(f, analysis.probe_frequency)]
    out += [(f"layer {'best' if l == 'best' else f'depth {l:g}'}", dataclasses.replace(analysis, layer=l),
             every) for l in ("best", 0.25, 0.5, 0.75, 1.0) if l != analysis.layer]
    out += [(f"without {size}", analysis, [j for j in every if j != i]) for i, size in enumerate(res.sizes)]
    return out


def robustness(res: LadderResults, analysis) -> dict:
    """The specification curve: every verdict under every alternative (:func:`alternatives`),
    and per family the share of alternatives under which each row's verdict is the registered
    one. Returns ``{"rows": [(alternative, claim, statement, verdict)], "agree": {family: share}}``."""
    registered = verdicts(res, analysis)
    rows, agree = [], {f: [] for f in FAMILIES}
    for label, alt, sizes in alternatives(res, analysis):
        found = registered if label == "as registered" else verdicts(res, alt, sizes)
        for v, base in zip(found, registered):
            rows.append((label, v["claim"], base["statement"], v["trend"].verdict))
            if label != "as registered":
                agree[v["claim"]].append(v["trend"].verdict == base["trend"].verdict)
    return {"rows": rows, "agree": {f: float(np.mean(a)) if a else float("nan")
                                    for f, a in agree.items()},
            "n_alternatives": len(alternatives(res, analysis)) - 1}


def robustness_rows(robust: dict) -> list[list[str]]:
    """The specification curve as a table: per alternative, the rows supported in each family."""
    table = {}
    for label, claim, _, verdict in robust["rows"]:
        counts = table.setdefault(label, {f: [0, 0] for f in FAMILIES})
        counts[claim][0] += verdict == "supported"
        counts[claim][1] += 1
    return [[label] + [f"{n} of {m}" for n, m in (counts[f] for f in FAMILIES)]
            for label, counts in table.items()]


def verdict_rows(found: list[dict]) -> list[list[str]]:
    """The verdict table's rows: claim, statement, slope per decade with its 95% interval,
    verdict, and the seed means from the smallest size to the largest."""
    return [[v["claim"], v["statement"], v["trend"].interval(), _p_text(v["trend"].p),
             _p_text(v["trend"].p_adjusted), v["trend"].ordering(), v["trend"].verdict, v["means"]]
            for v in found]
