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
# # What this book found
#
# This page gathers, per section of the paper {cite:p}`huang2026larger`, what the chapters
# reproduced and what they did not, at what scale, what runs against the paper, and what a GPU
# run of the grids this book ships would settle. Every verdict on it is a row of the front
# page's ledger, computed by the same function from the same artifacts
# (`rarescale.book.ledger.findings`); the claims link to the sections that check them there.

# %% tags=["remove-input"]
from IPython.display import HTML

from rarescale.book import ledger
from rarescale.book.report import glue, glue_text, html_table
from rarescale.book import chapter4
from rarescale.sweeps import trends
from rarescale.pretrain import throughput
from rarescale.sweeps.grid import Sweep
from rarescale.store.artifacts import REPO_ROOT
from rarescale.verdicts import ALPHA

rows = ledger.ledger()
found = ledger.findings(rows)
for i, section in enumerate(found):
    glue_text(f"section_{i}", ledger.findings_sentence(section))
    glue_text(f"scale_{i}", "; ".join(section["scales"]))
HTML(html_table(["section of the paper"] + list(ledger.VERDICTS),
                [[s["section"]] + [", ".join(s["claims"][v]) or "–" for v in ledger.VERDICTS]
                 for s in found],
                caption="The ledger's rows by section of the paper and verdict"))

# %% [markdown]
# ## Section 2: two scaling regimes (C1–C5)
#
# Chapter 1 rests on closed forms of the Chinchilla loss law and on a refit of the runs behind
# it. {glue:md}`section_0` Scale: {glue:md}`scale_0`. These are statements about a fitted law,
# so they reproduce where the algebra does; what they cannot say is whether a real small model
# plateaus, which is section 4's question.
#
# ## Section 3: capacity and interference in a linear model (C6–C14)
#
# Chapters 2 and 3 train linear students of every width on a mixture of tasks and compare them
# with the theory's rankings, bounds and widths. {glue:md}`section_1` Scale: {glue:md}`scale_1`.
# This is where the paper's mechanism is tested most directly, on students small enough to
# train many times over.
#
# ## Section 4: rare tasks in pretraining (C15–C20)
#
# Chapter 4 pretrains OLMo-2 models on this book's CPU with tasks injected at controlled
# frequencies. {glue:md}`section_2` Scale: {glue:md}`scale_2`. Its verdicts come from a main
# sweep that a pilot designed (one task at one frequency per run, on natural text, five seeds)
# and from a capacity test with the small size trained {glue:text}`capacity_budget:g` times
# longer. Its models are far
# smaller than the paper's and train on far fewer tokens, so a claim not shown there is not
# refuted.
#
# ## What runs against the paper

# %% tags=["remove-input"]
params4 = ledger.chapter_parameters("04_olmo_validation")
sweep, res = trends.load_ladder(REPO_ROOT / params4["sweep_file"])
glue("capacity_budget", Sweep.from_yaml(REPO_ROOT / params4["capacity_test_file"]).analysis.budget)
forgetting = chapter4.forgetting_direction_sentence(trends.forgetting_direction(res), ALPHA)
glue_text("forgetting", forgetting[0].lower() + forgetting[1:])
differs = [r for r in rows if r.verdict == ledger.DIFFERS]
glue_text("differs", "; ".join(f"{r.claim}: {r.measured}" for r in differs) if differs else
          "no row of the ledger differs from the paper's number")

# %% [markdown]
# Where the book measured one of the paper's numbers: {glue:md}`differs`. Where a measured
# trend points the other way, the chapters say so. C20's forgetting in chapter 4's main sweep:
# {glue:md}`forgetting` The packed ladder that preceded it estimated a rise with size too
# (chapter 4's last sections give it).
#
# ## What a GPU run would settle

# %% tags=["remove-input"]
costs = throughput.grid_costs([REPO_ROOT / f"runners/configs/{name}.yaml"
                               for name in ("gpu_small", "gpu_ladder", "gpu_ladder_matched")])
glue("mfu_pct", 100 * throughput.DEFAULT_MFU)
HTML(html_table(["sweep file", "sizes", "largest budget (B tokens)", "H100 GPU-hours"],
                [[f"runners/configs/{c['name']}.yaml", c["sizes"], f"{c['tokens_b']:.1f}",
                  f"{c['hours']:,.1f}"] for c in costs],
                caption=f"The GPU grids this book ships, at {100 * throughput.DEFAULT_MFU:.0f}% of "
                        "an H100's bf16 peak"))

# %% [markdown]
# The same runner trains the grids above (chapter 4's last section says how, on one GPU or a
# Slurm cluster). `gpu_ladder` is the paper's grid of sizes and steps: run, its artifacts turn
# chapter 4's C18–C20 verdicts into statements at the paper's scale. `gpu_ladder_matched` gives
# every size the same tokens, the design that separates a larger model's capacity from the
# extra data its steps bring (C4, C5); `gpu_small` fits one GPU. The GPU-hours assume
# {glue:text}`mfu_pct:.0f`% utilisation; the dry run (`python -m runners.sweep FILE --dry-run
# --gpu H100`) prints them per cell.
