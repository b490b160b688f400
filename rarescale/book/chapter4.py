"""Chapter 4's figures (C18-C20), one function per figure, drawn from a
:class:`~rarescale.sweeps.trends.LadderResults` (or, for one run, its artifact).

Kept apart from :mod:`rarescale.book.plots` so that the pretraining figures can change without
changing the code the student sweeps of chapters 2, 3 and 5 are keyed by.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from rarescale.book.plots import PALETTE, _major_log_ticks_only, _task_colours
from rarescale.book.report import sci
from rarescale.sweeps import trends


def fig_olmo_run(artifact):
    """One pretraining run: validation loss, task label loss and held-out accuracy by step."""
    a, r = artifact.arrays, artifact.result
    steps = np.maximum(a["eval_step"], 1)
    tokens = steps * r["global_batch"] * artifact.config["seq_len"]
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.3), constrained_layout=True)
    axes[0].plot(tokens, a["val_loss"], marker="o", ms=3, color="k")
    axes[0].set(xscale="log", xlabel="training tokens", ylabel="validation loss (nats/token)",
                title="background")
    _major_log_ticks_only(axes[0])
    colours = _task_colours(np.arange(len(r["tasks"])))
    for i, name in enumerate(r["tasks"]):
        axes[1].plot(tokens, a["injected_label_loss"][:, i], color=colours[i], label=name)
        axes[2].plot(tokens, a["test_acc_labels"][:, i], color=colours[i], label=name)
        axes[2].plot(tokens, a["test_acc_vocab"][:, i], color=colours[i], ls="--", lw=0.8)
    axes[1].set(xscale="log", xlabel="training tokens", ylabel="label loss, injected instances (nats)",
                title="injected instances")
    _major_log_ticks_only(axes[1])
    axes[2].set(xscale="log", xlabel="training tokens", ylabel="held-out accuracy", ylim=(0, 1.02),
                title="held-out instances")
    _major_log_ticks_only(axes[2])
    axes[2].legend(fontsize=7, ncol=2)
    return fig


def _size_colours(params):
    """One colour per model size, dark (small) to orange (large), by log parameters."""
    x = np.log(np.asarray(params, float))
    return plt.get_cmap("plasma")(0.05 + 0.75 * (x - x.min()) / (np.ptp(x) or 1.0))


def _log_ticks(ax, axis: str = "x", at=None, label=lambda a: sci(a, 1)):
    """A log axis labelled at its powers of ten; where fewer than two of them fall in view, at
    ``at`` (the frequencies run, the budgets) instead, so that the axis can still be read."""
    _major_log_ticks_only(ax, axis)
    lo, hi = sorted(getattr(ax, f"get_{axis}lim")())
    if at is None or np.floor(np.log10(hi)) - np.ceil(np.log10(lo)) + 1 >= 2:
        return
    at = sorted({float(a) for a in np.asarray(at, float).ravel() if np.isfinite(a) and lo <= a <= hi})
    getattr(ax, f"set_{axis}ticks")(at, [label(a) for a in at])
    getattr(ax, f"{axis}axis").set_minor_locator(matplotlib.ticker.NullLocator())
    getattr(ax, f"set_{axis}lim")(lo, hi)


def _size_lines(ax, res, values, x, label_sizes=True, **kw):
    """A line per size (mean over seeds) and each seed as a faint dot; colour by size."""
    colours = _size_colours(res.params)
    for s, size in enumerate(res.sizes):
        for r in range(values.shape[1]):
            ax.plot(x, values[s, r], ls="none", marker="o", ms=3, alpha=0.35, color=colours[s])
        n = np.isfinite(values[s]).sum(axis=0)  # seeds run at each x (0: the task was not run there)
        mean = np.where(n > 0, np.nansum(values[s], axis=0) / np.maximum(n, 1), np.nan)
        ax.plot(x, mean, marker="o", ms=4, color=colours[s],
                label=f"{size} ({res.params[s]:,})" if label_sizes else None, **kw)


def fig_olmo_accuracy(ax, res, task: int, margin: float, vocab: bool = False,
                      reference: tuple[str, float] | None = None):
    """(a) Held-out accuracy against injection frequency, a line per size; chance dashed, the
    one-operand shortcut dotted, the learned level grey (C18). ``reference``: (name, frequency)
    of the task's natural occurrences in a corpus (Rcmp, Radd), drawn as a vertical line."""
    acc = res.accuracy_vocab if vocab else res.accuracy
    _size_lines(ax, res, acc[:, :, task], res.frequencies)
    if reference is not None:
        name, frequency = reference
        ax.axvline(frequency, color=PALETTE[2], lw=1.5, ls="-.", label=f"{name} in natural text")
    if not vocab:
        ax.axhline(res.chance[task], color="0.4", ls="--", lw=1, label="chance")
        ax.plot(res.frequencies, res.shortcut[0, 0, task], color="0.4", ls=":", lw=1.2,
                label="one-operand shortcut")
        ax.plot(res.frequencies, res.level(margin)[task], color="0.75", lw=3, zorder=0,
                label="learned level")
    ax.set(xscale="log", xlabel="injection frequency (instances per training token)",
           ylabel="held-out accuracy" + (" (argmax, whole vocabulary)" if vocab else " (argmax, labels)"),
           ylim=(-0.02, 1.02), title=res.tasks[task].title)
    _log_ticks(ax, "x", res.frequencies[res.ran[task]])  # under two decades matplotlib labels minor ticks too
    return ax


def fig_olmo_label_loss(ax, res, task: int):
    """(b) Label loss on the injected instances against frequency, a line per size (C18)."""
    _size_lines(ax, res, res.injected_label_loss[:, :, task], res.frequencies)
    ax.axhline(np.log(1 / res.chance[task]), color="0.4", ls="--", lw=1, label="uniform over labels")
    ax.set(xscale="log", yscale="log", xlabel="injection frequency (instances per training token)",
           ylabel="label loss on injected instances (nats)", title=res.tasks[task].title)
    _log_ticks(ax, "x", res.frequencies[res.ran[task]])
    _log_ticks(ax, "y", [c * 10.0 ** e for e in range(-4, 2) for c in (1, 2, 5)], label=lambda a: f"{a:g}")
    return ax


def fig_olmo_thresholds(ax, res, margin: float):
    """(c) Each size's learning threshold frequency against its non-embedding parameters."""
    thr = res.threshold(margin)
    for t, spec in enumerate(res.tasks):
        colour = PALETTE[t]
        for r in range(thr.shape[1]):
            ax.plot(res.params, thr[:, r, t], ls="none", marker="o", ms=4, alpha=0.45, color=colour)
        mean = np.exp(np.nanmean(np.log(thr[:, :, t]), axis=1)) if np.isfinite(thr[:, :, t]).any() \
            else np.full(len(res.params), np.nan)
        ax.plot(res.params, mean, color=colour, marker="s", ms=5, label=spec.title)
    ax.set(xscale="log", yscale="log", xlabel="non-embedding parameters",
           ylabel="threshold frequency (instances per token)")
    _major_log_ticks_only(ax)
    _major_log_ticks_only(ax, "y")
    ax.axhspan(res.frequencies.min() / 3, res.frequencies.min(), color="0.9", lw=0)
    ax.axhspan(res.frequencies.max(), res.frequencies.max() * 3, color="0.9", lw=0)
    return ax


def fig_olmo_exposure(ax, res, task: int, margin: float):
    """(b) Held-out accuracy against the distinct instances a run injected, a line per size across
    the frequencies (C18): at equal exposure, does a larger model learn more?"""
    colours = _size_colours(res.params)
    for s, size in enumerate(res.sizes):
        x, y = res.distinct[s, :, task], res.accuracy[s, :, task]
        ax.plot(x.ravel(), y.ravel(), ls="none", marker="o", ms=3, alpha=0.35, color=colours[s])
        ax.plot(x.mean(0), y.mean(0), marker="o", ms=4, color=colours[s],
                label=f"{size} ({res.params[s]:,})")
    ax.axhline(res.level(margin)[task].mean(), color="0.75", lw=3, zorder=0, label="learned level")
    distinct = res.distinct[:, :, task]
    spread = np.nanmax(distinct) / max(np.nanmin(distinct), 1)
    # a log axis where the counts span a factor of three or more; else (every run saw about as
    # many, as when each saw nearly all its train pairs) a linear one, whose ticks fall in view
    ax.set(xscale="log" if spread >= 3 else "linear", xlabel="distinct train instances injected",
           ylim=(-0.02, 1.02), ylabel="held-out accuracy (argmax, labels)", title=res.tasks[task].title)
    if spread >= 3:
        _major_log_ticks_only(ax)
    else:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4, integer=True))
    return ax


def fig_olmo_probes(axes, res, task: int, frequency: int):
    """(d) Probe selectivity (score minus control) by relative depth, a line per size, one panel
    per target (C19)."""
    colours = _size_colours(res.params)
    for k, (ax, target) in enumerate(zip(axes, res.probe_targets)):
        for s, size in enumerate(res.sizes):
            gap = np.mean([res.probe_score[s][r][task][frequency][k]
                           - res.probe_control[s][r][task][frequency][k]
                           for r in range(len(res.seeds))], axis=0)
            depth = np.arange(len(gap)) / (len(gap) - 1)
            ax.plot(depth, gap, marker="o", ms=3, color=colours[s], label=size)
        ax.axhline(0, color="0.4", ls="--", lw=1)
        measure = "R²" if res.probe_kinds[task][k] == "ordinal" else "accuracy"
        ax.set(xlabel="relative depth (0 = embeddings)", title=f"{target} ({measure})",
               ylabel=f"probe minus control ({measure})")
    return axes


def selectivity_sentence(res, task: int, frequency: int, layer) -> str:
    """C19's probes of one task at one frequency in words: per target, the range over sizes of
    the seed-mean probe score minus its control at ``layer``, and what its sign says."""
    means = np.array([res.selectivity(task, frequency, k, layer).mean(axis=1)
                      for k in range(len(res.probe_targets))])  # [target, size]
    ranges = "; ".join(f"{target} {m.min():+.3f} to {m.max():+.3f}" for target, m in zip(res.probe_targets, means))
    where = f"{'the best layer' if layer == 'best' else f'relative depth {float(layer):g}'}"
    if (means < 0).all():
        reading = "every probe scores below its control: no sign of the task"
    elif (means > 0).all():
        reading = "every probe scores above its control"
    else:
        reading = "the probes fall on both sides of their controls"
    return (f"For {res.titles[task]} at {sci(res.frequencies[frequency], 1)} per token, at {where}, "
            f"the probe minus its control ranges over the sizes: {ranges}: {reading}.")


def fig_olmo_interference(axes, res, task: int, frequency: int = 0):
    """(e) Gradient cosine over the blocks minus the shuffled-label null's, against frequency; and
    the forgetting curve at one frequency, at the same learning rate for every size (C20)."""
    _size_lines(axes[0], res, (res.cosine["body"] - res.cosine["null"])[:, :, task], res.frequencies)
    axes[0].axhline(0, color="0.4", lw=0.8)
    axes[0].set(xscale="log", xlabel="injection frequency (instances per training token)",
                ylabel="cos(task, background) − cos(null, background)",
                title="gradient interference (blocks, mean over training)")
    _log_ticks(axes[0], "x", res.frequencies[res.ran[task]])
    colours = _size_colours(res.params)
    steps = res.forgetting_steps
    curves = res.forgetting_curve_matched[:, :, task, frequency]  # [size, seed, step]
    for s, size in enumerate(res.sizes):
        axes[1].plot(steps, (curves[s] - curves[s, :, :1]).mean(0), marker="o", ms=3,
                     color=colours[s], label=size)
    axes[1].set_xscale("symlog", linthresh=1)
    axes[1].set_xticks(steps, [str(k) for k in steps])
    axes[1].axhline(0, color="0.4", lw=0.8)
    axes[1].set(xlabel="background-only steps after training", ylabel="rise of label loss (nats)",
                title=f"forgetting at {res.frequencies[frequency]:.2g} per token, "
                      + (f"lr {res.forgetting_lr:g}" if res.forgetting_lr else "each run's final lr"))
    return axes


def fig_capacity(axes, cap, task: int, margin: float):
    """(f) Capacity or speed (C4, C5): held-out accuracy at each token budget against tokens
    (left) and against the instances injected (right), a line per size; thin: the evaluations
    on the stable phase (learning rate still at its peak); dashed: each size's saturation fit."""
    from rarescale.sweeps.capacity import saturation_fit

    colours = _size_colours(cap.params)
    tokens = cap.tokens
    for s, size in enumerate(cap.sizes):
        acc = cap.accuracy[s, :, task]
        label = f"{size} ({cap.params[s]:,})"
        for ax, x in ((axes[0], np.broadcast_to(tokens, acc.shape)), (axes[1], cap.exposures[s, :, task])):
            ax.plot(x.ravel(), acc.ravel(), ls="none", marker="o", ms=3, alpha=0.35, color=colours[s])
            ax.plot(x.mean(0), acc.mean(0), marker="o", ms=5, color=colours[s], label=label)
        stable = cap.stable[s]
        keep = stable[0][task]["tokens"] > 0
        axes[0].plot(stable[0][task]["tokens"][keep],
                     np.mean([st[task]["accuracy"] for st in stable], axis=0)[keep],
                     color=colours[s], lw=0.8, alpha=0.5)
        level, scale = saturation_fit(tokens, acc.mean(0), float(cap.chance[task]))
        t = np.geomspace(tokens[0] / 4, tokens[-1] * 4, 200)
        axes[0].plot(t, level - (level - cap.chance[task]) * np.exp(-t / scale), ls="--", lw=1,
                     color=colours[s])
    for ax in axes:
        ax.axhline(cap.baseline[task], color="0.4", ls=":", lw=1.2,
                   label="shortcut or chance, the better")
        ax.axhline(cap.level(margin)[task], color="0.75", lw=3, zorder=0, label="learned level")
        ax.set(xscale="log", ylim=(0.3, 1.02), ylabel="held-out accuracy (argmax, labels)")
    _log_ticks(axes[0], "x", cap.tokens)
    _log_ticks(axes[1], "x", cap.exposures[:, :, task].mean(axis=1), label=lambda a: f"{a:,.0f}")
    axes[0].set(xlabel="training tokens (each budget decayed)",
                title=f"{cap.titles[task]} at {cap.frequencies[task]:.0e} per token")
    axes[1].set(xlabel="instances injected", title="the same against exposures")
    return axes


def fig_capacity_test(ax, test):
    """(h) The book's own: the capacity test (C4 against C5). The small size's held-out accuracy
    at each budget (each decayed on its branch; faint: each seed, solid: the mean) against the
    large size's seeds at the base budget (cosine), the margin below the large size's mean that
    counts as reaching it, and the small size's own cosine run at the base budget."""
    colours = plt.get_cmap("plasma")([0.05, 0.8])
    x = test.tokens
    for seed in test.small:
        ax.plot(x, seed, color=colours[0], lw=0.8, alpha=0.35, marker="o", ms=3)
    ax.plot(x, test.small.mean(0), color=colours[0], lw=2, marker="o", ms=6,
            label=f"{test.small_size}, each budget decayed (mean of {len(test.small)} seeds)")
    ax.plot(np.full(len(test.small_base_cosine), test.base_tokens * 0.93), test.small_base_cosine,
            ls="none", marker="s", mfc="none", ms=6, color=colours[0],
            label=f"{test.small_size} at the base budget, cosine (each seed)")
    ax.plot(np.full(len(test.large), test.base_tokens * 1.07), test.large, ls="none", marker="D",
            ms=6, color=colours[1], label=f"{test.large_size} at the base budget, cosine (each seed)")
    reach = test.large.mean() - test.registered.margin
    ax.axhspan(reach, test.large.mean(), color=colours[1], alpha=0.15, lw=0,
               label=f"within {test.registered.margin:g} of {test.large_size}'s mean: reaches it")
    ax.axhline(test.baseline, color="0.4", ls=":", lw=1.2, label="chance or one-operand rule, the better")
    ax.axvline(test.base_tokens * test.budget, color="0.6", ls="--", lw=1, label=f"registered budget ({test.budget:g}×)")
    ax.set(xscale="log", ylim=(0, 1.02), xlabel="training tokens of the budget",
           ylabel="held-out accuracy (argmax, labels)",
           title=f"{test.task} at {sci(test.frequency)} per token")
    ax.set_xticks(test.tokens, [f"{t / 1e6:.3g}M\n({m:g}×)" for t, m in zip(test.tokens, test.multiples)])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # the budgets are the ticks
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    return ax


def threshold_rows(res, margin: float) -> list[list[str]]:
    """The threshold table: per task and size, the mean threshold, the seeds' range and each seed."""
    summary, rows = trends.threshold_summary(res, margin), []
    for t, name in enumerate(res.titles):
        for s, size in enumerate(res.sizes):
            th = summary[size, t]
            seeds = ", ".join("not learned" if not np.isfinite(x) else sci(x) for x in th["seeds"])
            rows.append([name, size, f"{res.params[s]:,}",
                         sci(th["mean"]) if th["n_learned"] else "not learned",
                         f"{sci(th['low'])} – {sci(th['high'])}" if th["n_learned"] else "–", seeds])
    return rows


def seeds_learned_columns(res) -> list[str]:
    """The header of :func:`seeds_learned_rows`: task, size, then each frequency, highest first."""
    return ["task", "size"] + [sci(f, 1) for f in res.frequencies]


def seeds_learned_rows(res, margin: float) -> list[list[str]]:
    """C18's counts: per task and size, at each frequency, the seeds whose held-out accuracy
    reached the learned level ("3 of 5"); "–" where the task was not run at that frequency."""
    learned = res.learned(margin)  # [size, seed, task, frequency]
    n = learned.shape[1]
    return [[name, size] + [f"{int(learned[s, :, t, f].sum())} of {n}" if res.ran[t, f] else "–"
                            for f in range(len(res.frequencies))]
            for t, name in enumerate(res.titles) for s, size in enumerate(res.sizes)]


def seeds_learned_sentence(res, margin: float) -> str:
    """:func:`seeds_learned_rows` in words, per task: the seeds each size learns in at the
    frequencies where the sizes differ, and where they agree, which."""
    learned = res.learned(margin)
    n, parts = learned.shape[1], []
    for t, name in enumerate(res.titles):
        differ, agree = [], []
        for f in np.flatnonzero(res.ran[t]):
            counts = learned[:, :, t, f].sum(axis=1)
            at = sci(res.frequencies[f], 1)
            if np.ptp(counts) == 0:
                k = int(counts[0])
                agree.append(f"{at} ({'every seed learns' if k == n else 'no seed learns' if k == 0 else f'{k} seeds of each size learn'})")
            else:
                differ.append(f"at {at}, " + ", ".join(f"{size} {int(c)}" for size, c in zip(res.sizes, counts))
                              + f" of {n}")
        parts.append(f"{name}: " + "; ".join(differ + (["the sizes agree at " + " and ".join(agree)]
                                                      if agree else [])))
    return ". ".join(parts) + "."


def verdict_summary_sentence(found: list[dict]) -> str:
    """:func:`rarescale.sweeps.trends.verdicts` claim by claim: how many of its rows are supported,
    which, and the smallest Holm-adjusted p-value of the claim's family."""
    parts = []
    for claim in dict.fromkeys(v["claim"] for v in found):
        mine = [v for v in found if v["claim"] == claim]
        ok = [v["statement"] for v in mine if v["trend"].verdict == "supported"]
        best = np.nanmin([v["trend"].p_adjusted for v in mine])
        parts.append(f"{claim}: {len(ok)} of {len(mine)} rows supported"
                     + (": " + " and ".join(ok) if ok else f", the smallest adjusted p {best:.2f}"))
    return ". ".join(parts) + "."


def claim_rows_sentence(found: list[dict], claim: str) -> str:
    """One claim's rows of :func:`rarescale.sweeps.trends.verdicts` in words, where its figure
    stands: each trend's slope per decade with its 95% interval, its Holm-adjusted p and verdict."""
    return "; ".join(
        f"{v['statement']}: {v['trend'].interval()}, adjusted p "
        f"{trends._p_text(v['trend'].p_adjusted)}, **{v['trend'].verdict}**" if np.isfinite(v["trend"].p_adjusted) else
        f"{v['statement']}: undefined (a size with no value), **{v['trend'].verdict}**"
        for v in found if v["claim"] == claim) + "."


def verdict_contrast_sentence(found: list[dict], other: list[dict], name: str, other_name: str) -> str:
    """Where two sweeps' verdicts (:func:`rarescale.sweeps.trends.verdicts`) differ, claim by claim:
    how many rows each supports."""
    def n_supported(rows, claim):
        return sum(v["claim"] == claim and v["trend"].verdict == "supported" for v in rows)

    claims = list(dict.fromkeys(v["claim"] for v in found + other))
    differ = [c for c in claims if n_supported(found, c) != n_supported(other, c)]
    if not differ:
        return f"{name[0].upper() + name[1:]} and {other_name} support as many rows of each claim."
    return ("Where they differ: " + "; ".join(
        f"{c}, {n_supported(other, c)} row{'' if n_supported(other, c) == 1 else 's'} supported in {other_name} against "
        f"{n_supported(found, c)} in {name}" for c in differ) + ".")


def fig_olmo_learning_curves(ax, res, task: int, margin: float, seed: int = 0):
    """Held-out accuracy against training tokens, a line per (size, frequency): colour by
    frequency, solid for the largest size and dashed for the smallest; the learned level grey."""
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(res.frequencies)))
    tokens_per_step = res.tokens[0] / max(int(np.nanmax(
        [c["step"][-1] for s in res.curves for r in s for t in r for c in t if c is not None])), 1)
    for s, style in ((0, "--"), (len(res.sizes) - 1, "-")):
        for f, frequency in enumerate(res.frequencies):
            curve = res.curves[s][seed][task][f]
            if curve is None:
                continue
            ax.plot(np.maximum(curve["step"], 1) * tokens_per_step, curve["accuracy"], ls=style,
                    color=colours[f], lw=1.4, label=f"{res.sizes[s]}, {sci(frequency, 1)}")
    ran = np.isfinite(res.level(margin)[task])
    ax.axhline(np.nanmean(res.level(margin)[task][ran]), color="0.75", lw=3, zorder=0)
    ax.axhline(res.chance[task], color="0.4", ls=":", lw=1)
    ax.set(xscale="log", xlabel="training tokens", ylabel="held-out accuracy (argmax, labels)",
           ylim=(-0.02, 1.02), title=res.tasks[task].title)
    _major_log_ticks_only(ax)
    return ax


def _panels(results):
    """(results, task) for every task of every results in ``results`` (one or several sweeps)."""
    results = results if isinstance(results, (list, tuple)) else [results]
    return [(res, t) for res in results for t in range(len(res.tasks))]


def _panel_figure(results):
    """A row of panels, one per task of ``results``: the figure and its (axes, results, task)."""
    panels = _panels(results)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(10.5, 4.4 * len(panels)), 3.8),
                             constrained_layout=True)
    return fig, [(ax, res, t) for ax, (res, t) in zip(np.atleast_1d(axes), panels)]


def accuracy_by_frequency(results, margin: float, reference: dict | None = None):
    """Figure (a) for every task of ``results`` (one sweep's, or a list of sweeps'): one panel
    each (:func:`fig_olmo_accuracy`), with ``reference[kind]`` = (name, frequency) of the task's
    natural occurrences where given."""
    fig, panels = _panel_figure(results)
    for ax, res, t in panels:
        fig_olmo_accuracy(ax, res, t, margin=margin,
                          reference=(reference or {}).get(res.tasks[t].kind))
    entries = {}  # every panel's entries, once (each task has its own natural reference)
    for ax, _, _ in panels:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
        if len(panels) > 2:  # three panels and more: the axis label in fewer words, so they fit
            ax.set_xlabel("injection frequency (per training token)")
    fig.legend(list(entries.values()), list(entries), title="size (non-embedding params)", fontsize=7, title_fontsize=8,
               loc="outside right upper")  # beside the panels: it covers no data
    return fig


def learning_curves(results, margin: float, seed: int = 0):
    """:func:`fig_olmo_learning_curves` for every task of ``results``, a panel each."""
    fig, panels = _panel_figure(results)
    for ax, res, t in panels:
        fig_olmo_learning_curves(ax, res, t, margin=margin, seed=seed)
        ax.legend(title="size, frequency", fontsize=6, title_fontsize=7, ncol=2, loc="upper left")
    return fig


def pilot_choice_rows(choice: list[dict], crossing) -> list[list[str]]:
    """The pilot's table (:func:`rarescale.sweeps.design.pilot_choice`'s ``choice``): per task and frequency run, the learned level, each size's accuracy,
    the tokens at which it first reached the level (``crossing`` [size, seed, task, frequency]
    in tokens, nan: never; the median over the seeds that did, "–" where none did) and whether
    the rule chose the frequency."""
    rows = []
    for t, c in enumerate(choice):
        for i, (f, k) in enumerate(zip(c["frequencies"], c["index"])):
            reached = [crossing[s, :, t, k][np.isfinite(crossing[s, :, t, k])] for s in (0, -1)]
            rows.append([c["task"] if i == 0 else "", sci(f), f"{c['level'][i]:.3f}",
                         f"{c['small_accuracy'][i]:.3f}", f"{c['large_accuracy'][i]:.3f}",
                         *(f"{np.median(x) / 1e6:.2f}M" if x.size else "–" for x in reached),
                         ("chosen" if f in c["chosen"] else "") if c["learnable"]
                         else "not learned: replaced"])
    return rows


def pilot_choice_sentence(c: dict) -> str:
    """One task's choice in words, with the rule's branch (separating or largest gap)."""
    if not c["learnable"]:
        return f"{c['task']}: no size learns it at any frequency run, so it is replaced"
    freqs = ", ".join(sci(f) for f in c["chosen"])
    why = (f"{c['large']} learns and {c['small']} does not at "
           + ", ".join(sci(f) for f in c["separating"]) if c["how"] == "separating" else
           "no frequency separates the sizes, so the largest accuracy gaps are taken")
    return f"{c['task']} at {freqs} per token ({why})"


def capacity_choice_rows(choice: dict) -> list[list[str]]:
    """The capacity cell's table (:func:`rarescale.sweeps.design.capacity_choice`): per candidate,
    the seeds landed, each size's seeds learned and mean accuracy, and whether it qualifies."""
    return [[r["task"], sci(r["frequency"]), str(r["seeds"]),
             f"{r['small_learned']} of {r['seeds']}", f"{r['large_learned']} of {r['seeds']}",
             f"{r['small_accuracy']:.3f}", f"{r['large_accuracy']:.3f}",
             "chosen" if choice["chosen"] is r else ("qualifies" if r["qualifies"] else "no")]
            for r in choice["rows"]]


def capacity_choice_columns(choice: dict) -> list[str]:
    """The header of :func:`capacity_choice_rows`' table, naming the two sizes it compares."""
    small, large = choice["rows"][0]["small"], choice["rows"][0]["large"]
    return ["task", "frequency", "seeds", f"{small} learned", f"{large} learned",
            f"{small} accuracy", f"{large} accuracy", "capacity test"]


CAPACITY_TEST_COLUMNS = ["analysis", "gap (large − small)", "95% interval", "p (gap > 0)",
                         "p (gap < margin)", "verdict"]
"""The header of :func:`capacity_test_rows`' table."""


def capacity_test_rows(test) -> list[list[str]]:
    """The capacity test's table (:class:`rarescale.sweeps.capacity.CapacityTest`): the registered
    analysis, then each defensible alternative (another budget read, another margin), with the
    gap, its interval, both one-sided p-values and the verdict."""
    def row(name, g):
        return [name, f"{g.gap:+.3f}", f"[{g.low:+.3f}, {g.high:+.3f}]", f"{g.p_below:.3f}",
                f"{g.p_reaches:.3f}", g.verdict]

    registered = f"registered: small at {test.budget:g}×, margin {test.registered.margin:g}"
    return [row(registered, test.registered)] + [row(name, g) for name, g in test.alternatives]


def capacity_choice_sentence(choice: dict) -> str:
    """The capacity cell's choice in words: the cell, or why there is none."""
    c = choice["chosen"]
    if c is None:
        return f"No cell is chosen: {choice['how']}."
    said = f"The capacity test runs at {c['task']}, {sci(c['frequency'])} per token: {choice['how']}"
    gap = c["large_learned"] - c["small_learned"]
    tied = [r for r in choice["rows"] if r["qualifies"] and r is not c
            and r["large_learned"] - r["small_learned"] == gap]
    if tied:
        said += ("; " + ", ".join(f"{r['task']} at {sci(r['frequency'])} ({r['large']} {r['large_learned']} "
                                  f"of {r['seeds']}, {r['small']} {r['small_learned']})" for r in tied)
                 + f" qualifies too, with the same difference of {gap} seeds, and between equals "
                   "the rule takes the rarer frequency")
    return said + "."


def forgetting_direction_sentence(found: dict, alpha: float) -> str:
    """:func:`~rarescale.sweeps.trends.forgetting_direction` in words, whichever way it points."""
    falls, rises = found["falls"], found["rises"]
    head = (f"Over every task and frequency, the rise of the label loss at the matched learning rate "
            f"has a slope of {falls.interval()} (nats, against log₁₀ parameters)")
    if rises.verdict == "supported":
        return head + (f": larger models forget *more*, not less (one-sided p = {rises.p:.3f} for a "
                       "rise), against C20's claim.")
    if falls.verdict == "supported":
        return head + f": it falls with size (p = {falls.p:.3f}), as C20 claims."
    if falls.slope > 0:
        return head + (f": the estimate points against C20 (larger models forgetting more; one-sided "
                       f"p = {rises.p:.3f} for a rise), but no trend either way is shown at level "
                       f"{alpha:g}.")
    return head + ": no trend either way is shown."


def value_range(values, fmt: str = "{:.3f}") -> str:
    """``0.100 at every frequency run`` or ``0.095 to 0.110``: the finite values' range in words."""
    values = np.asarray(values, float)
    low, high = np.nanmin(values), np.nanmax(values)
    if fmt.format(low) == fmt.format(high):
        return f"{fmt.format(low)} at every frequency run"
    return f"{fmt.format(low)} to {fmt.format(high)}"
