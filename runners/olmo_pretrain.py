# ---
# jupyter:
#   jupytext:
#     formats: py:percent
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
# (C20), the realised injection counts, and the manifest. Run it with papermill, or for a whole
# grid with `python -m runners.sweep runners/configs/cpu_ladder.yaml`, which keeps this
# executed notebook beside the artifact as the run's record:
#
#     python -m runners.execute runners/olmo_pretrain.py -p size 250K -p tokens 2000000 -o out/
#
# A run resumes from `work_dir/checkpoint.pt` when it was interrupted.

# %% tags=["parameters"]
size = "250K"  # a rung of rarescale.olmo.model.LADDER
tasks = [{"kind": "cmp", "n_values": 20, "n_instances": 400}]  # TaskSpec fields; "rate" optional
frequencies = [1.0e-3]  # each task at each frequency (own tokens); [] when tasks carry "rate"
tokens = 1_000_000  # training tokens
seq_len = 64
seed = 0
device = "cpu"  # or "cuda"
corpus = []  # token files in OLMo's format; []: the generated synthetic web
run = {}  # any other RunConfig field (batch, lr, vocab_size, eval_points, ...)
nproc = 1  # > 1: data parallel through torchrun in a subprocess
compile_model = False  # torch.compile the model (helps on GPU; slower on CPU)
work_dir = "runs/olmo_pretrain"  # checkpoints and logs
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
import yaml
from IPython.display import HTML

from rarescale import artifacts
from rarescale.olmo import sweep
from rarescale.olmo.train import train
from rarescale.plots import fig_olmo_run
from rarescale.report import html_table

if artifact_root:
    os.environ[artifacts.ROOT_ENV] = str(Path(artifact_root).resolve())
config = sweep.notebook_config(size=size, tasks=tasks, frequencies=frequencies, tokens=tokens,
                               seq_len=seq_len, seed=seed, device=device, corpus=corpus, run=run)
work = Path(work_dir)
print(f"{config.size}: {config.model.non_embedding_params():,} non-embedding parameters, "
      f"{config.steps} steps of {config.global_batch} × {config.seq_len} tokens, "
      f"peak lr {config.peak_lr:.3g}; tasks: {', '.join(t.name for t in config.tasks)}")

# %%
start = time.perf_counter()
if nproc > 1:  # DDP: torchrun runs the same loop in nproc processes; rank 0 writes the result
    work.mkdir(parents=True, exist_ok=True)
    (work / "run.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(config.to_dict()))))
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(nproc), "-m", "rarescale.olmo",
                    str(work / "run.yaml"), str(work)] + (["--compile"] if compile_model else []),
                   check=True)
    result = json.loads((work / "result.json").read_text())
    with np.load(work / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
else:
    result, arrays = train(config, work, compile=compile_model)
artifact = sweep.save_run(config, result, arrays, wall_time_s=time.perf_counter() - start)
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
        for i, (name, rate, n) in enumerate(zip(result["tasks"], [t.rate for t in config.tasks],
                                                 result["injected_instances"]))]
HTML(html_table(["task", "frequency", "injected", "train label loss", "test acc (labels)",
            "test acc (vocab)", "chance", "grad cosine"], rows,
           caption=f"{config.size}, seed {config.seed}: final values after "
                   f"{result['tokens_trained']:,} tokens"))
