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
# # Reproducibility: what was computed, where and when
#
# Every number in this book is computed when the book is built, either by executing a chapter
# or by reading an artifact that a heavier run left behind. This page says which is which. The
# first table is MyST-NB's record of this build: how long each chapter took to execute, and
# whether it was executed afresh or served from the execution cache.
#
# ```{nb-exec-table}
# ```
#
# ## The artifacts the book reads
#
# Each artifact carries a manifest: its full config (whose hash is its key), the seed, the code
# version of the repository that made it, the wall time, the libraries and the machine. The
# table lists every artifact this build read, from those manifests. *Current* says whether its
# key matches today's code: a light result whose code digest is today's digest of the code that
# makes it, a pretraining run whose measures version is today's. A chapter never reads a stale
# artifact silently, since a changed digest is a different key; this column shows that the
# artifacts the book shows are the ones today's code asks for.

# %% tags=["parameters"]
artifact_log = ""  # the build's list of artifacts read; "": $RARESCALE_ARTIFACT_LOG, else every artifact

# %% tags=["remove-input"]
import os
from pathlib import Path

import numpy as np
from IPython.display import HTML

from rarescale.book import inventory
from rarescale.store.artifacts import REPO_ROOT
from rarescale.book.report import glue, glue_text, html_table

log = artifact_log or os.environ.get("RARESCALE_ARTIFACT_LOG")
rows = inventory.inventory(inventory.read_paths(Path(log) if log else None))
rows.sort(key=lambda r: (r["kind"], r.get("created", "")))


def machine(r):
    m = r["machine"]
    return f"{m['machine']}, {m['cpus']} CPUs" if m else "not recorded"


source = inventory.made_by(rows)
table = [[r["kind"], r["key"][:8], source[r["key"]].replace(", ", " "),
          "missing" if r["missing"] else r["created"][:10],
          "" if r["missing"] else r["code_version"].split("+g")[-1],
          "" if r["missing"] or r["wall_time_s"] is None else f"{r['wall_time_s'] / 60:.1f}",
          "" if r["missing"] else machine(r),
          {True: "yes", False: "NO", None: "not checked"}[r["current"]]] for r in rows]
glue("n_artifacts", len(rows))
glue("n_dirty", sum(inventory.unreproducible(r) for r in rows))
glue("n_stale", sum(r["current"] is False for r in rows))
glue("pretraining_hours", sum(r["wall_time_s"] or 0 for r in rows if r["kind"] == "olmo_run") / 3600)
glue("n_gpu_runs", sum(r["device"].startswith("cuda") for r in rows))
HTML(html_table(["kind", "key", "made by", "created", "commit", "wall time (min)",
                 "machine", "current"], table,
                caption="Every artifact this build read (its key's first 8 digits; the commit that made it)"))

# %% [markdown]
# The build read {glue:text}`n_artifacts` artifacts, of which {glue:text}`n_stale` do not match
# today's code. *Made by* is the sweep file whose cell a pretraining run is, or the module whose
# code keys a light result. A commit ending in `-dirty` means a working tree with
# uncommitted changes ({glue:text}`n_dirty` of those read), before the store began to refuse
# such results: now a result of changed code is not recorded in `artifacts/` at all, and one
# recorded elsewhere lists the changed files in its manifest, so that every committed result
# is reproducible from the commit it names. The pretraining runs of chapter 4 took {glue:text}`pretraining_hours:.1f` hours
# of wall time on a CPU ({glue:text}`n_gpu_runs` of the artifacts read were made on a GPU); they
# are committed because `make book` never trains a language model. Everything else is
# recomputed by `make book` when it is missing, in minutes. To redo a pretraining run, run its
# sweep on a CPU, `python -m runners.sweep runners/configs/<sweep>.yaml --jobs 2`, where
# `<sweep>` is one of the `cpu_*` files: the ladder, its capacity and packing checks, the
# pilot's two stages, the main sweep and the capacity design (`--dry-run` first prints the time
# it will take); or the GPU grids of chapter 4 on a GPU.
#
# ## The environment
#
# The packages that decide the numbers, as pinned in `requirements.txt`, and as recorded in
# the manifests of the artifacts read:

# %% tags=["remove-input"]
names = ("torch", "transformers", "numpy", "jupyter-book", "scipy", "myst-nb")
pins = inventory.pinned(names, REPO_ROOT / "requirements.txt")
seen = {}
for r in rows:
    for name, version in r["libraries"].items():
        seen.setdefault(name, set()).add(version)
machines = sorted({machine(r) for r in rows if not r["missing"]})
glue_text("machines", "; ".join(machines) or "none recorded")
HTML(html_table(["package", "pinned", "in the artifacts' manifests"],
                [[n, pins.get(n, "–"), ", ".join(sorted(seen.get(n.replace("-", "_"), seen.get(n, set()))))
                  or "–"] for n in names]))

# %% [markdown]
# The artifacts came from: {glue:md}`machines`. Artifacts made before the manifests recorded
# the machine say "not recorded".

# %% [markdown]
# ## The corpus bytes
#
# Chapter 4's runs train on natural text that `make corpus` builds from three Debian
# documentation packages on the machine at hand. Another machine may carry other versions of
# those packages, and then the same file holds other bytes: a run records the SHA-256 of the
# token files it trained on, a sweep refuses to add cells on bytes other than its landed cells'
# (`--allow-corpus-change` overrides it), and a run does not resume on other bytes. Runs made
# before runs recorded it are assigned the build of the session that made them
# (`book/data/olmo_run_corpora.json` says how). Per sweep:

# %% tags=["remove-input"]
corpus_rows = inventory.corpus_builds(rows)
glue("n_corpus_builds", len({r[2] for r in corpus_rows}))
glue_text("mixed_sweeps", ", ".join(sorted({r[0] for r in corpus_rows
                                       if sum(q[0] == r[0] for q in corpus_rows) > 1
                                       and len({q[2] for q in corpus_rows if q[0] == r[0]}) > 1}))
     or "none")
HTML(html_table(["sweep", "token file", "sha256", "Debian packages of the build", "runs", "known"],
                corpus_rows, caption="The corpus builds the pretraining runs read trained on"))

# %% [markdown]
# The runs read trained on {glue:text}`n_corpus_builds` build(s) of the corpus. Sweeps whose
# cells span more than one: {glue:md}`mixed_sweeps`. The builds share their sources, their
# tokenizer and their split rule; they differ by the documentation changes of a package's
# point release, and chapter 4 says where a comparison crosses builds.
