"""Figures of the book: one function per figure, shared by the chapters and the tests.

Each function draws on the axes it is given and returns them, so a chapter
cell is ``fig, ax = plt.subplots(); fig_x(ax, ...)``.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
from matplotlib import patheffects
import numpy as np

# Okabe-Ito: a colour-blind-safe qualitative palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

# Figures are drawn 5.5 to 7.6 in wide and shown in a ~670 px column, so 11/10 pt labels and
# ticks render at >= 9 pt; at 200 dpi every image is at least 1,000 px wide (sharp on a
# high-density screen, and when a reader zooms).
plt.rcParams.update({
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "font.size": 11, "axes.labelsize": 11, "legend.fontsize": 9,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "figure.dpi": 200,
    "axes.spines.top": False, "axes.spines.right": False,
})


def _register_png_formatter() -> None:
    """Make figures display (and glue) as PNG in a kernel whatever the backend.

    Under a non-inline backend (``MPLBACKEND=Agg``, as in CI) IPython has no PNG
    formatter for figures and a glued figure would render as ``<Figure size ...>``.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        select_figure_formats(shell, {"png"}, bbox_inches="tight")


_register_png_formatter()


def fig_random_baseline(ax, check: dict):
    """Figure for C13's baseline: Monte Carlo ``E[S(U)]`` of random encoders against ``N/d``."""
    w = check["widths"]
    ax.plot(w, check["closed_form"], "-", color=PALETTE[7], lw=1, label="closed form $N/d$")
    ax.errorbar(w, check["mean"], yerr=2 * check["sem"], fmt="o", ms=4,
                color=PALETTE[0], label="Monte Carlo (±2 s.e.)")
    ax.set_xlabel("encoder width $N$ (columns)")
    ax.set_ylabel(r"signal captured $S(U)$ (fraction of $\mathrm{tr}\,C$)")
    ax.legend(frameon=False)
    return ax


REGIME_DATA_MULTIPLES = (0.1, 1, 10)
"""The fixed-data curves of :func:`fig_scaling_regimes`, as multiples of ``D*(N_L)``."""


def fig_scaling_regimes(ax, law, n_large: float, eps: float = 0.0, data_multiples=REGIME_DATA_MULTIPLES):
    """Figure for C2-C5 (paper Figure 1): the two scaling regimes around a large model ``N_L``.

    Draws the compute-optimal loss ``L*(N)``, the asymptotic loss ``L(N, ∞)``,
    iso-data curves ``L(N, D)`` at multiples of ``D*(N_L)``, the target
    ``L*(N_L) + ε``, and shades the models that can recover the target with data
    (``N_s* ≤ N < N_L``) and those that cannot (``N < N_s*``).
    """
    from rarescale import scaling

    n_small = float(scaling.largest_small_model(n_large, eps, law))
    N = np.logspace(np.log10(n_small) - 1.5, np.log10(n_large) + 1.0, 300)
    d_large = float(scaling.compute_optimal_tokens(n_large, law))
    for i, m in enumerate(data_multiples):
        fixed = scaling.loss(N, m * d_large, law)
        ax.plot(N, fixed, color="0.6", lw=0.8, ls=":",
                label=r"fixed data $D$ (a multiple of $D^*(N_L)$, at left)" if i == 0 else None)
        ax.annotate(f"{m:g}×", (N[0], fixed[0]), xytext=(3, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=7, color="0.35")
    ax.plot(N, scaling.compute_optimal_loss(N, law), color=PALETTE[0], lw=2,
            label=r"compute-optimal $L^*(N)$")
    ax.plot(N, scaling.asymptotic_loss(N, law), color=PALETTE[3], lw=2, ls="--",
            label=r"asymptotic $L(N, \infty)$")
    target = float(scaling.compute_optimal_loss(n_large, law)) + eps
    ax.axhline(target, color="k", lw=0.8)
    ax.annotate(r"$L^*(N_L)$" + (f" + {eps:g}" if eps else ""), (N[-1], target),
                xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom", fontsize=9)
    ax.axvspan(N[0], n_small, color=PALETTE[1], alpha=0.18, lw=0,
               label="learning requires model scaling")
    ax.axvspan(n_small, n_large, color=PALETTE[5], alpha=0.18, lw=0,
               label="compute optimal / data scaling suffices")
    for x, name in ((n_small, r"$N_s^*$"), (n_large, r"$N_L$")):
        ax.axvline(x, color="k", lw=0.8, ls="-.")
        ax.annotate(name, (x, 1.0), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=10)
    ax.set_xscale("log")
    ax.set_xlim(N[0], N[-1])
    top = float(scaling.compute_optimal_loss(N[0], law))
    ax.set_ylim(law.E - 0.02, top + 0.05 * (top - law.E))
    ax.set_xlabel("model size $N$ (parameters)")
    ax.set_ylabel("loss (nats per token)")
    # beside the panel: inside, the N_L line and the curves run through it
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize=8)
    return ax


def fig_chinchilla_refit(ax, N, D, L, full, boot: dict, band: int = 300, all_runs=None):
    """Figure for C1 on real data: Hoffmann et al.'s runs (loss against compute, coloured by
    model size) with the refitted compute-optimal frontier and its 95% bootstrap band;
    ``all_runs`` = (N, D, L) of every run, those not in the fit marked with a cross."""
    from rarescale import scaling

    C = 6 * N * D
    points = ax.scatter(C, L, c=np.log10(N), cmap="viridis", s=10, alpha=0.8)
    if all_runs is not None:
        fitted = set(zip(N.tolist(), D.tolist(), L.tolist()))
        out = [(n, d, l) for n, d, l in zip(*(np.asarray(a).tolist() for a in all_runs))
               if (n, d, l) not in fitted]
        if out:
            n, d, l = map(np.array, zip(*out))
            ax.scatter(6 * n * d, l, marker="x", s=30, color=PALETTE[3], lw=1.2,
                       label=f"left out of the fit ({len(out)} runs)")
    grid = np.geomspace(C.min() / 2, C.max() * 2, 80)

    def frontier(law):
        return scaling.compute_optimal_loss(scaling.optimal_params(grid, law), law)

    keys = ("E", "A", "B", "alpha", "beta")
    curves = np.array([frontier(scaling.LossLaw(**{k: boot[k][i] for k in keys}))
                       for i in range(min(band, len(boot["E"])))])
    low, high = np.percentile(curves, [2.5, 97.5], axis=0)
    ax.fill_between(grid, low, high, color=PALETTE[1], alpha=0.3, lw=0, label="95% bootstrap band")
    ax.plot(grid, frontier(full), color=PALETTE[1], lw=1.5, label="refit: compute-optimal loss")
    ax.set(xscale="log", xlabel="training compute 6ND (FLOP)",
           ylabel="final loss (nats per token)")  # a linear loss axis: its range is within a decade
    _major_log_ticks_only(ax)
    ax.figure.colorbar(points, ax=ax, label="log₁₀ parameters")
    ax.legend(frameon=False, fontsize=8)
    return ax


COLOUR_SPAN = (0.0, 0.82)
"""The part of the sequential map the tasks' colours use: dark purple to green, not the pale
yellow end that disappears on a white page."""


def _task_colours(values, log: bool = False, cmap="viridis"):
    """One colour per task from a sequential, colour-blind-safe map, ordered by ``values`` and
    spaced by rank: tasks whose frequencies crowd together on a log scale (the rarest ones) still
    get colours as far apart as any other neighbours. ``log`` is accepted for the callers that
    colour by frequency; ranks are the same either way."""
    values = np.asarray(values, dtype=float)
    rank = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    low, high = COLOUR_SPAN
    position = low + (high - low) * rank / max(len(values) - 1, 1)
    return plt.get_cmap(cmap)(position)


def fig_task_loss_vs_width(ax, widths, loss, predicted, colour_by, label_fmt="π = {:.3f}",
                           legend_title="task frequency", log_colours: bool = True):
    """Figure for C8 (paper Figure 2a): per-task normalised loss against width.

    ``loss`` is (widths, seeds, K): the mean over seeds is drawn with points and
    the spread across seeds as a band; ``predicted`` (widths, K) is the optimal
    width-``N`` model's loss (dashed). Tasks are coloured by ``colour_by``
    (frequency on a log scale, or complexity in the Appendix-D variant).
    """
    widths = np.asarray(widths)
    colours = _task_colours(colour_by, log=log_colours)
    for k in range(loss.shape[-1]):
        mean = loss[:, :, k].mean(1)
        ax.fill_between(widths, loss[:, :, k].min(1), loss[:, :, k].max(1), color=colours[k],
                        alpha=0.2, lw=0)
        ax.plot(widths, mean, "o-", color=colours[k], ms=3, lw=1.0, alpha=0.85,
                label=label_fmt.format(colour_by[k]))
        # the prediction on top of the data, with a white edge so that it shows where they agree
        ax.plot(widths, predicted[:, k], "--", color=colours[k], lw=1.6, zorder=3,
                path_effects=[patheffects.withStroke(linewidth=2.8, foreground="white")])
    ax.set_xscale("log", base=2)
    ax.set_xlabel("encoder width $N$")
    ax.set_ylabel(r"task loss / $\mathrm{tr}\,C_k$")
    ax.set_ylim(-0.03, 1.05)
    ax.legend(frameon=False, fontsize=8, title=legend_title, title_fontsize=8,
              loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def fig_total_loss_vs_width(ax, widths, total, predicted):
    """Figure for C7-C8 (paper Figure 2b): residual mixture loss against width.

    ``total`` is (widths, seeds) measured, ``predicted`` (widths,) the sum of
    the utilities left out, ``Σ_{i>N} ν_(i)``.
    """
    widths = np.asarray(widths)
    ax.plot(widths, predicted, "--", color=PALETTE[7], lw=1.2, label=r"predicted $\sum_{i>N}\nu_{(i)}$")
    ax.errorbar(widths, total.mean(1), yerr=[total.mean(1) - total.min(1), total.max(1) - total.mean(1)],
                fmt="o", ms=4, color=PALETTE[0], label="trained students (mean, seed range)")
    ax.set_xscale("log", base=2)
    # symlog: at full width every feature is kept and the residual is (numerically) zero
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_ylim(0, None)
    ax.set_xlabel("encoder width $N$")
    ax.set_ylabel("residual mixture loss")
    ax.legend(frameon=False)
    return ax


def fig_gradient_bound(ax, eval_steps, grad, bound, widths, show):
    """Figure for C10: the common-task gradient norm under its bound, along training.

    ``grad`` and ``bound`` are (C, E) for slices of ``widths`` (C,); one seed of
    each width in ``show`` is drawn (solid: measured, dashed: bound).
    """
    steps = np.asarray(eval_steps)[1:]  # step 0 is before any update
    colours = _task_colours(np.arange(len(show)) + 1.0)
    for colour, n in zip(colours, show):
        c = int(np.flatnonzero(np.asarray(widths) == n)[0])
        ax.plot(steps, grad[c, 1:], "-", color=colour, lw=1.5, label=f"N = {n}")
        ax.plot(steps, bound[c, 1:], "--", color=colour, lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(r"$\|\sum_{k\in S} g_k\|_F$ (solid), bound (dashed)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def fig_signal_vs_width(ax, widths, signal, common, residual, n_c):
    """Figure for C11/C13 (paper Figure 3): normalised signal of frequent and rare tasks,
    and the frequent tasks' remaining residual, against width, ``N_c`` marked.

    ``signal`` is (widths, seeds, K) normalised signal ``Ŝ``; ``common`` the
    indices of the frequent tasks; ``residual`` (widths, seeds) their residual as
    a fraction of ``tr(M_S)``.
    """
    widths = np.asarray(widths)
    K = signal.shape[-1]
    common = sorted(np.asarray(common).tolist())
    rare = [k for k in range(K) if k not in common]
    # the frequent tasks in one blue (the text treats them as a block); each rare task its own
    # colour, as in the stability ladder's figure, since the text names them one by one
    rare_colours = dict(zip(rare, [PALETTE[3], PALETTE[1], PALETTE[4], PALETTE[2], PALETTE[5]] * K))
    for k in range(K):
        frequent = k in common
        ax.plot(widths, signal[:, :, k].mean(1), "o-" if frequent else "s-",
                color=PALETTE[0] if frequent else rare_colours[k], ms=3, lw=1.2, alpha=0.9,
                label=(f"frequent tasks ({', '.join(str(j + 1) for j in common)})" if k == common[0] else None)
                if frequent else f"rare task {k + 1}")
    ax.plot(widths, residual.mean(1), "k--", lw=1.5, label="frequent residual $R_S / \\mathrm{tr}\\,M_S$")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(n_c, color="k", lw=0.8, ls="-.")
    ax.annotate("$N_c$", (n_c, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom")
    ax.set_xlabel("encoder width $N$")
    ax.set_ylabel(r"normalised signal $\hat S_k$")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def fig_stability_ladder(ax, common_eigs, rare):
    """Figure for C12: the ladder of common eigenvalues ``μ_i`` and the rare utilities ``ν_r``.

    ``rare`` maps a label to ``(ν_r, N_r*)``; a rare direction is stable from
    the width ``N_r*`` where the ladder first drops below its utility.
    """
    mu = np.sort(np.asarray(common_eigs))[::-1]
    i = np.arange(1, len(mu) + 1)
    ax.step(i, mu, where="mid", color=PALETTE[0], lw=2, label=r"common eigenvalues $\mu_i$")
    colours = [PALETTE[3], PALETTE[1], PALETTE[4], PALETTE[2], PALETTE[5]]
    for colour, (label, (nu, n_star)) in zip(colours, rare.items()):
        ax.axhline(nu, color=colour, ls="--", lw=1.2, label=f"{label}: $N_r^* = {n_star}$")
        ax.plot([n_star], [nu], "o", color=colour)
    ax.set_yscale("log")
    ax.set_xlabel("index $i$ (width)")
    ax.set_ylabel("utility")
    ax.legend(frameon=False, fontsize=8)
    return ax


def fig_injection_final(ax, deltas, widths, signal):
    """Figure for C14 (paper Figure 4a): final rare signal against the gap Δ, a curve per width.

    ``signal`` is (widths, deltas, seeds) normalised rare signal at the end of training.
    """
    colours = _task_colours(np.asarray(widths, dtype=float))
    for colour, n, s in zip(colours, widths, signal):
        ax.errorbar(deltas, s.mean(-1), yerr=[s.mean(-1) - s.min(-1), s.max(-1) - s.mean(-1)],
                    fmt="o-", color=colour, ms=4, lw=1.2, capsize=2, label=f"N = {n}")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(r"steps between injections $\Delta$")
    ax.set_ylabel(r"final rare signal $\hat S_r$")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def fig_injection_trace(ax, eval_steps, signal, widths, injections, model=None):
    """Figure for C14 (paper Figure 4b): rare signal over training, injections marked.

    ``signal`` is (C, E) normalised rare signal for ``widths`` (C,); ``model``
    maps a width to (steps, Ŝ) segments of the two-direction model (dashed).
    """
    colours = _task_colours(np.asarray(widths, dtype=float))
    for step in injections:
        ax.axvline(step, color="0.85", lw=0.6, zorder=0)
    for colour, n, s in zip(colours, widths, signal):
        ax.plot(eval_steps, s, "-", color=colour, lw=1.3, label=f"N = {n}")
        for steps, values in (model or {}).get(int(n), []):
            ax.plot(steps, values, "--", color="k", lw=0.9)
    if model:
        ax.plot([], [], "--", color="k", lw=0.9, label="two-direction model")
    ax.set_xlabel("training step (grey: injections)")
    ax.set_ylabel(r"rare signal $\hat S_r$")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def fig_resampling(axes, frequencies, rare_loss, others, predicted_rare, predicted_others,
                   threshold_frequency, original_frequency, widen=None, learned_threshold=0.1):
    """Figure for chapter 5: up-weighting a rare task at a fixed width.

    Left: the rare task's normalised loss against its frequency (points: trained,
    mean and seed range; line: predicted), the advisor's threshold and the
    original frequency marked. Right: the other tasks' loss (original weights)
    against the same axis; ``widen`` is ``(label, loss)`` of the alternative of
    keeping the frequency and widening the model.
    """
    f = np.asarray(frequencies)
    for ax, measured, predicted, ylabel in (
            (axes[0], rare_loss, predicted_rare, "rare task loss / tr $C_r$"),
            (axes[1], others, predicted_others, "other tasks' loss (original weights)")):
        ax.plot(f, predicted, "-", color=PALETTE[7], lw=1, label="predicted (C8)")
        ax.errorbar(f, measured.mean(1), yerr=[measured.mean(1) - measured.min(1),
                                               measured.max(1) - measured.mean(1)],
                    fmt="o", color=PALETTE[0], ms=4, label="trained, fixed width")
        ax.axvline(threshold_frequency, color=PALETTE[3], ls="--", lw=1.2, label="advisor threshold")
        ax.axvline(original_frequency, color="0.5", ls=":", lw=1.2, label="original frequency")
        ax.set_xscale("log")
        ticks = [t for t in (0.01, 0.03, 0.1, 0.3, 1.0) if f.min() / 1.5 <= t <= f.max() * 1.5]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylabel(ylabel)
    axes[-1].set_xlabel("frequency of the rare task")
    axes[0].axhline(learned_threshold, color="0.7", lw=0.8)
    if widen is not None:
        axes[1].axhline(widen[1], color=PALETTE[2], lw=1.2, label=widen[0])
    axes[1].legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return axes


def _major_log_ticks_only(ax, axis="x"):
    from matplotlib.ticker import NullFormatter

    getattr(ax, f"{axis}axis").set_minor_formatter(NullFormatter())


def fig_direction_signal(ax, widths, signal, test):
    """C12's test: each rare direction's signal ‖Uᵀv‖² against width, mean over seeds (dots:
    seeds), with its full-M predicted width (solid) and the common-only rule's (dotted)."""
    signal = np.asarray(signal)
    colours = _task_colours(np.arange(signal.shape[-1], dtype=float) + 1)
    for i in range(signal.shape[-1]):
        for r in range(signal.shape[1]):
            ax.plot(widths, signal[:, r, i], ls="none", marker="o", ms=3, alpha=0.35, color=colours[i])
        ax.plot(widths, signal[:, :, i].mean(1), marker="o", ms=4, color=colours[i],
                label=f"rare direction {i + 1}")
        ax.axvline(test["full"][i], color=colours[i], lw=1.2)
        ax.axvline(test["common_only"][i], color=colours[i], lw=1.2, ls=":")
    ax.axhline(0.5, color="0.6", ls="--", lw=1)
    ax.set(xlabel="encoder width N", ylabel="signal of the rare direction, ‖Uᵀv‖²", ylim=(-0.02, 1.02))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)  # beside the data, which fill the panel
    return ax
