"""Figures of the book: one function per figure, shared by the chapters and the tests.

Each function draws on the axes it is given and returns them, so a chapter
cell is ``fig, ax = plt.subplots(); fig_x(ax, ...)``.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt

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
