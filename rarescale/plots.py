"""Figures of the book: one function per figure, shared by the chapters and the tests.

Each function draws on the axes it is given and returns them, so a chapter
cell is ``fig, ax = plt.subplots(); fig_x(ax, ...)``.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

# Okabe-Ito: a colour-blind-safe qualitative palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

plt.rcParams.update({
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "font.size": 10, "axes.labelsize": 10, "legend.fontsize": 9,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "figure.dpi": 110,
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


def fig_scaling_regimes(ax, law, n_large: float, eps: float = 0.0, data_multiples=(0.1, 1, 10)):
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
        ax.plot(N, scaling.loss(N, m * d_large, law), color="0.6", lw=0.8, ls=":",
                label="fixed data $D$ = " + ", ".join(f"{m:g}" for m in data_multiples)
                + r" $\times D^*(N_L)$" if i == 0 else None)
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
    ax.legend(frameon=False, loc="upper right", fontsize=8)
    return ax


def _task_colours(values, log: bool = False, cmap="viridis"):
    """One colour per task from a sequential, colour-blind-safe map ordered by ``values``."""
    values = np.log(np.asarray(values, dtype=float)) if log else np.asarray(values, dtype=float)
    span = np.ptp(values) or 1.0
    return plt.get_cmap(cmap)(0.92 * (values - values.min()) / span)


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
        ax.plot(widths, mean, "o-", color=colours[k], ms=3, lw=1.2,
                label=label_fmt.format(colour_by[k]))
        ax.plot(widths, predicted[:, k], "--", color=colours[k], lw=1, alpha=0.8)
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
