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
# # One pretraining run with injected tasks (C16–C20)
#
# Trains one OLMo-2 model of the ladder on a corpus with tasks injected at controlled
# frequencies, and writes the run's artifact (kind `olmo_run`): evaluation curves, final loss
# and accuracy per task and frequency, probes (C19), gradient interference and forgetting
# (C20), the realised injection counts, and the manifest. The run is one parameter, `config`:
# the fields of `rarescale.pretrain.config.RunConfig`, passed on unchanged to the training loop.
# Run it with papermill, or for a whole grid with
# `python -m runners.sweep runners/configs/cpu_ladder.yaml`, which keeps this executed
# notebook beside the artifact as the run's record:
#
#     python -m runners.execute runners/olmo_pretrain.py -o out/ \
#         -p config '{size: 250K, tokens: 2000000, seq_len: 64,
#                     tasks: [{spec: {kind: cmp, n_values: 20, n_instances: 400}, rate: 1.0e-3}]}'
#
# Relative paths (the corpus, `work_dir`) are read from the folder the command was run in. A
# run resumes from `work_dir/checkpoint.pt` when it was interrupted.

# %% tags=["parameters"]
config = {  # RunConfig fields; the rest take their defaults
    "size": "250K",  # a rung of rarescale.pretrain.model.LADDER
    "tasks": [{"spec": {"kind": "cmp", "n_values": 20, "n_instances": 400}, "rate": 1.0e-3}],
    "tokens": 1_000_000,  # training tokens
    "seq_len": 64,
}
nproc = 1  # > 1: data parallel through torchrun in a subprocess
nnodes = 1  # > 1: torchrun across nodes (a Slurm job: runners.cluster sets the next two)
node_rank = 0  # this node's index
rdzv_endpoint = ""  # host:port of the first node, for the rendezvous
compile_model = None  # compile the loss and backward: True, False, or None (where it pays)
work_dir = ""  # checkpoints; "": runs/olmo_pretrain/<run key> in the repository (git-ignored)
artifact_root = ""  # where the artifact goes; "": the repository's artifacts/

# %%
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML

from rarescale.store import artifacts
from rarescale.sweeps import grid
from rarescale.pretrain.config import RunConfig
from rarescale.pretrain.train import train
from rarescale.validation import ConfigError
from rarescale.book.chapter4 import fig_olmo_run
from rarescale.book.report import html_table
from runners.cluster import torchrun_command

if artifact_root:
    os.environ[artifacts.ROOT_ENV] = str(Path(artifact_root).resolve())
run = RunConfig.from_dict(config, "config")
try:  # before training, not after: a result its recorded commit cannot reproduce is not kept
    artifacts.check_recordable()
except artifacts.ArtifactError as exc:
    raise ConfigError(str(exc)) from None
if not run.tasks:  # what this runner measures is the injected tasks
    raise ConfigError("config.tasks is empty: a run of this runner injects at least one task (C16).")
work = Path(work_dir or grid.run_folder(run)).resolve()
print(f"{run.size}: {run.model.non_embedding_params():,} non-embedding parameters, "
      f"{run.steps} steps of {run.global_batch} × {run.seq_len} tokens, "
      f"peak lr {run.peak_lr:.3g}; tasks: {', '.join(t.name for t in run.tasks)}; work folder {work}")

# %%
start = time.perf_counter()
if nproc > 1 or nnodes > 1:  # DDP: torchrun runs the loop in nproc processes on each node
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(torchrun_command(run.to_file(work / "run.json"), work, nproc, nnodes, node_rank,
                                    rdzv_endpoint, grid.cell_key(run), compile_model), check=True)
    result = json.loads((work / "result.json").read_text())
    with np.load(work / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
else:
    result, arrays = train(run, work, compile=compile_model)
artifact = grid.save_run(run, result, arrays, wall_time_s=time.perf_counter() - start)
print(f"artifact: {artifact.path}")

# %% [markdown]
# ## The run
#
# Background validation loss, then per injected task its label loss on train instances and its
# held-out accuracy (argmax over the task's label set; dashed: over the whole vocabulary).

# %%
fig = fig_olmo_run(artifact)
plt.show()

# %%
final = result["final"]
rows = [[name, f"{rate:.2g}", n, f"{final['train_label_loss'][i]:.3f}",
         f"{final['test_acc_labels'][i]:.3f}", f"{final['test_acc_vocab'][i]:.3f}",
         f"{result['chance_labels'][i]:.3f}", f"{final['grad_cosine'][i]:+.3f}"]
        for i, (name, rate, n) in enumerate(zip(result["tasks"], [t.rate for t in run.tasks],
                                                 result["injected_instances"]))]
HTML(html_table(["task", "frequency", "injected", "train label loss", "test acc (labels)",
            "test acc (vocab)", "chance", "grad cosine"], rows,
           caption=f"{run.size}, seed {run.seed}: final values after "
                   f"{result['tokens_trained']:,} tokens"))
