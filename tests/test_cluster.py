"""The cluster path (C17): the Slurm submission, torchrun across nodes, submitit's jobs."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from rarescale.olmo.grid import Sweep, cell_key
from runners.cluster import SlurmOptions, rendezvous, sbatch_script, submit, torchrun_command
from rarescale.validation import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_the_generated_slurm_script_asks_for_what_the_options_say(tmp_path, monkeypatch):
    # submitit's Slurm executor looks for srun first: a stand-in on PATH, as there is no Slurm here
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    script = sbatch_script(SlurmOptions("gpu-long", nodes=4, gpus_per_node=8, cpus_per_gpu=6,
                                        time_min=720, account="rare"), tmp_path / "submitit")
    for line in ("#SBATCH --partition=gpu-long", "#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8",
                 "#SBATCH --ntasks-per-node=1", "#SBATCH --cpus-per-task=48", "#SBATCH --time=720",
                 "#SBATCH --account=rare", "#SBATCH --signal=USR2@120"):
        assert line in script.splitlines(), line
    assert "srun" in script and "submitit.core._submit" in script


def test_bad_slurm_options_are_one_line_errors():
    with pytest.raises(ConfigError, match="--nodes must be at least 1"):
        SlurmOptions(nodes=0)


def test_torchrun_across_nodes_meets_at_the_first_node():
    place = rendezvous(["gpu-a17", "gpu-a18", "gpu-b02"], node=2, num_nodes=3)
    assert place == {"nnodes": 3, "node_rank": 2, "rdzv_endpoint": "gpu-a17:29500"}
    cmd = torchrun_command("run.json", "work", 8, **place, run_id="abc")
    assert cmd[cmd.index("--nnodes") + 1] == "3" and cmd[cmd.index("--node_rank") + 1] == "2"
    assert cmd[cmd.index("--rdzv_endpoint") + 1] == "gpu-a17:29500" and "--standalone" not in cmd
    assert cmd[cmd.index("--nproc_per_node") + 1] == "8"
    alone = torchrun_command("run.json", "work", 2, **rendezvous(["n1"], 0, 1))
    assert "--standalone" in alone and "--nnodes" not in alone
    with pytest.raises(ValueError, match="rendezvous"):
        torchrun_command("run.json", "work", 8, nnodes=2)


TINY = {
    "name": "tiny_cluster", "sizes": ["30K"], "seeds": [0, 1], "frequencies": [1 / 64],
    "tasks": [{"kind": "cmp", "n_values": 10, "n_instances": 100}], "pack": True,
    "run": {"tokens": 32 * 8 * 40, "seq_len": 32, "batch": 8, "vocab_size": 512,
            "corpus_tokens": 200_000, "holdout": 16, "eval_points": 2, "eval_instances": 32,
            "forgetting_steps": 2, "checkpoint_every": 5},
}


def _env(tmp_path):
    return {**os.environ, "RARESCALE_ARTIFACTS": str(tmp_path / "artifacts"),
            "RARESCALE_DATA": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}


def test_submitit_local_executor_runs_a_tiny_sweep(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    cmd = [sys.executable, "-m", "runners.sweep", str(path), "--executor", "submitit-local",
           "--work-dir", str(tmp_path / "runs")]
    out = subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "submitted 2 cells (submitit-local)" in out.stdout
    again = subprocess.run(cmd + ["--dry-run"], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                           text=True, timeout=120)
    assert "2 cells, 2 done" in again.stdout


def test_submitit_job_killed_mid_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    for name, value in _env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    sweep = Sweep.from_dict({**TINY, "seeds": [0], "run": {**TINY["run"], "tokens": 32 * 8 * 400}})
    (config,) = sweep.cells()
    todo = [(config, cell_key(config))]
    work = tmp_path / "runs" / cell_key(config)
    submit(todo, tmp_path / "runs", nproc=1, threads=1, executor="submitit-local", wait=False)
    checkpoint = work / "checkpoint.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.5)
    assert checkpoint.exists(), "the job wrote no checkpoint"
    subprocess.run(["pkill", "-KILL", "-f", str(work)], check=False)  # the job and its kernel
    time.sleep(2)
    step = torch.load(checkpoint, weights_only=False)["state"]["step"]
    assert 0 < step < config.steps
    _, failures = submit(todo, tmp_path / "runs", nproc=1, threads=1, executor="submitit-local")
    assert failures == []
    assert f"resuming from step {step} of {config.steps}" in (work / "log.txt").read_text() + \
        (work / "olmo_pretrain.ipynb").read_text()
