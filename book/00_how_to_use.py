# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # How to use this book
#
# ## Overview
#
# This book follows *Why Larger Models Learn More* {cite:p}`huang2026larger` claim by claim.
# Every chapter of this book is a plain Python file in `book/`, in jupytext's percent format:
# `# %% [markdown]` cells hold the text, `# %%` cells hold short calls into the `rarescale`
# library. The book is built by executing each chapter, and every number in the text is
# computed by the code and inserted with MyST-NB's `glue`, never typed.
#
# This chapter runs one small, real computation end to end: the *random baseline* of the
# signal a width-$N$ encoder captures (claim C13, used in chapter 3). It shows the three
# habits of the book: a parameters cell a reader can override, a result cached as an
# artifact keyed by its config, and a figure and a number glued into the text.
#
# ## Re-executing a chapter with your own parameters
#
# The cell tagged `parameters` below lists what a reader may change. From the repository root,
#
# ```bash
# .venv/bin/python -m runners.execute book/00_how_to_use.py -p d 128 -p widths '[8, 32, 64]' -o out/
# ```
#
# writes the executed notebook to `out/00_how_to_use.ipynb` and the artifacts it made to
# `out/artifacts/`. An unknown parameter name is refused with exit code 2.
#
# ## Editing a chapter
#
# Open the `.py` file in any editor, or in Jupyter (with jupytext installed, a `.py` file opens
# as a notebook). The library holds the logic; a chapter cell only calls it.

# %% [markdown]
# ## The random baseline of captured signal (C13)
#
# For an encoder $U \in \mathbb{R}^{d \times N}$ with orthonormal columns and a task covariance
# $C$, the captured signal is $S(U) = \mathrm{tr}(U^\top C U) / \mathrm{tr}(C)$. For $U$ drawn
# uniformly from the Stiefel manifold, $\mathbb{E}[S] = N/d$ whatever $C$ is, because
# $\mathbb{E}[U U^\top] = (N/d)\, I_d$.
#
# The parameters are the input dimension, the widths, the rank of the task, and the Monte
# Carlo sample size:

# %% tags=["parameters"]
d = 64  # input dimension
widths = [1, 2, 4, 8, 16, 32, 48, 64]  # encoder widths N to check
rank = 8  # rank of the task covariance C
samples = 2000  # random encoders per width
seed = 0  # seed of the random covariance and encoders

# %%
import matplotlib.pyplot as plt
import numpy as np

from rarescale.book import plots
from rarescale.linear import stiefel
from rarescale.book.report import glue

# %% [markdown]
# The check runs once per config and is cached under `artifacts/`; a rebuild with the same
# parameters loads it.

# %%
check = stiefel.random_baseline(d, widths, rank, samples, seed).arrays
z = np.abs(check["mean"] - check["closed_form"]) / np.maximum(check["sem"], 1e-300)
z[check["sem"] == 0] = 0.0  # at N = d every encoder captures everything
glue("c13_max_abs_error", float(np.max(np.abs(check["mean"] - check["closed_form"]))), display=False)
glue("c13_max_z", float(z.max()), display=False)
glue("c13_samples", samples, display=False)

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.6))
plots.fig_random_baseline(ax, check)
glue("fig_c13_baseline", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_c13_baseline
# :name: fig-c13-baseline
#
# Signal captured by uniformly random encoders against their width (the book's own check of C13's
# baseline), with the closed form
# $N/d$ (line) and the Monte Carlo mean (points).
# ```
#
# With {glue:text}`c13_samples` random encoders per width, the largest gap between the Monte
# Carlo mean and $N/d$ is {glue:text}`c13_max_abs_error:.4f`, which is
# {glue:text}`c13_max_z:.2f` standard errors: the baseline that chapter 3 normalises against
# is the closed form, not an estimate.
