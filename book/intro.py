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
# # Why larger models learn more
#
# This book reproduces, and extends, *Why Larger Models Learn More: Effects of Capacity,
# Interference, and Rare-Task Retention* {cite:p}`huang2026larger`. Every chapter is an executable notebook: its
# figures and every number quoted in its text are computed by the `rarescale` library when the
# book is built, or read from cached artifacts of heavier runs.
#
# The paper's argument, claim by claim, is followed with stable claim IDs (C1, C2, …). A claim ID
# in a chapter heading is the same ID as in the library's docstrings and in the tests, so one
# claim can be followed from the text to the code that computes it and the test that checks it.
#
# Chapters 1–3 reproduce sections 2 and 3 of the paper at the scale of this machine (2 CPU
# cores). Chapter 4 follows section 4, pretraining OLMo-2 models with tasks injected at
# controlled frequencies: it reads the artifacts of sweeps of runs made on this CPU, with the
# same runners that train the paper-like grid on GPUs. Chapter 5 goes beyond the paper. The
# last pages list the references, and what was computed where, when and with what.
#
# ## The paper's claims at a glance
#
# Each row is one of the paper's claims or figures: what the paper says, what this book
# measured, the verdict, and at what scale it was checked; the claim links to the section
# that checks it. Every verdict is computed by the same function as the chapter's own table
# of claims at its end (`rarescale.book.ledger`), from the same artifacts. *Reproduced*: the check
# passes (a closed form against numerics within a stated tolerance, or a statistical claim's
# 95% interval on the claimed side); *partly*: some of a claim's checks pass; *not shown*:
# none does at this scale, which is not a refutation; *setup*: a construction of the paper's,
# built as described. The ledger is also published with the book, as `ledger.json` (linked
# under the table), for comparing reproductions.

# %% tags=["remove-input"]
from IPython.display import HTML

from rarescale.book import ledger
from rarescale.book.report import glue

rows = ledger.ledger()
for verdict in ledger.VERDICTS:
    glue(f"n_{verdict.replace(' ', '_')}", sum(r.verdict == verdict for r in rows))
glue("n_rows", len(rows))
HTML(ledger.html(rows) + '<p>The ledger as JSON: <a href="../ledger.json">ledger.json</a></p>')

# %% [markdown]
# Of the {glue:text}`n_rows` rows, {glue:text}`n_reproduced` are reproduced,
# {glue:text}`n_partly` partly, {glue:text}`n_not_shown` not shown,
# {glue:text}`n_differs` differ from the paper's number, and {glue:text}`n_setup` are
# constructions. Each row is one test: a *check* of a closed form against numerics, a
# *replication* of a statistical claim (its test adjusted with the others of its claim), a
# *comparison* of our number with the paper's, or a *setup*.
#
# The paper's thesis at the book's smallest scale: a student of each width keeps the features
# of highest utility, so a wider one learns rarer tasks, in the order the ranking predicts.

# %% tags=["remove-input"]
import matplotlib.pyplot as plt

fig = ledger.headline_figure()
glue("fig_headline", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_headline
# :name: fig-headline
#
# What each width learns (the paper's Figure 2a, as chapter 2 draws it): per-task loss, normalised to 1 for an
# untrained model, against encoder width; solid: students trained from data (mean over
# seeds), dashed: the utility ranking's prediction. Rarer tasks, darker, are learned only
# by wider students.
# ```
#
# ## Contents
#
# ```{tableofcontents}
# ```
