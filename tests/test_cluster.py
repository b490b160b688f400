"""The cluster path (C17): the Slurm submission, torchrun across nodes, submitit's jobs."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from rarescale.sweeps.grid import Sweep, cell_key
from runners.cluster import SlurmOptions, rendezvous, sbatch_script, submit, torchrun_command
from rarescale.validation import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_srun(tmp_path, monkeypatch):
    """submitit's Slurm executor looks for srun first: a stand-in on PATH, as there is no Slurm here."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "submitit"


def test_the_generated_slurm_script_asks_for_what_the_options_say(fake_srun):
    script = sbatch_script(SlurmOptions("gpu-long", nodes=4, gpus_per_node=8, cpus_per_task=48,
                                        time_min=720, account="rare"), fake_srun)
    for line in ("#SBATCH --partition=gpu-long", "#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8",
                 "#SBATCH --ntasks-per-node=1", "#SBATCH --cpus-per-task=48", "#SBATCH --time=720",
                 "#SBATCH --account=rare", "#SBATCH --signal=USR2@120"):
        assert line in script.splitlines(), line
    assert "srun" in script and "submitit.core._submit" in script
    for absent in ("--qos", "--mem", "--constraint", "--exclusive"):  # only when asked for
        assert f"#SBATCH {absent}" not in script


def test_site_options_reach_the_script_and_srun_gets_the_cpus(fake_srun):
    """qos, mem, constraint, exclusive, setup lines and any other #SBATCH parameter; and
    --cpus-per-task on the srun line, which Slurm 22.05-23.02 do not inherit from sbatch."""
    options = SlurmOptions("gpu", nodes=2, gpus_per_node=4, qos="high", mem="500G",
                           constraint="h100&ib", exclusive=True,
                           setup=("module load cuda/12.4", "source .venv/bin/activate"),
                           extra=(("reservation", "llm"), ("comment", "rarescale")))
    script = sbatch_script(options, fake_srun)
    lines = script.splitlines()
    for line in ("#SBATCH --qos=high", "#SBATCH --mem=500G", "#SBATCH --constraint='h100&ib'",  # quoted for the shell
                 "#SBATCH --exclusive", "#SBATCH --reservation=llm", "#SBATCH --comment=rarescale",
                 "#SBATCH --cpus-per-task=32", "module load cuda/12.4", "source .venv/bin/activate"):
        assert line in lines, line
    srun = next(line for line in lines if line.startswith("srun"))
    assert "--cpus-per-task=32" in srun
    assert lines.index("module load cuda/12.4") < lines.index(srun)  # setup runs first


def test_a_cell_longer_than_three_jobs_may_be_requeued_often_enough():
    from runners.cluster import cell_hours, requeues_needed

    assert requeues_needed(1.0, 24 * 60) == 3  # submitit's default, for a short cell
    assert requeues_needed(100.0, 24 * 60) == 6  # 125 h with the margin: 6 jobs
    config = next(c for c in Sweep.from_yaml(ROOT / "runners/configs/gpu_ladder.yaml").cells()
                  if c.size == "4B")
    options = SlurmOptions(nodes=3, gpus_per_node=8)
    hours = cell_hours(config, options)
    assert hours > 3 * 24  # a 4B cell on 3 nodes runs for days
    assert requeues_needed(hours, options.time_min) > 3


def test_submit_gives_submitit_the_requeues_the_longest_cell_needs(tmp_path, monkeypatch):
    import submitit

    from runners import cluster

    seen = {}

    class Recorder(submitit.AutoExecutor):
        def __init__(self, folder, cluster=None, **kwargs):
            seen.update(kwargs)
            super().__init__(folder, cluster="local")

        def update_parameters(self, **kwargs):  # the local executor takes no Slurm parameters
            seen.update(kwargs)

    monkeypatch.setattr(cluster.submitit, "AutoExecutor", Recorder)
    config = next(c for c in Sweep.from_yaml(ROOT / "runners/configs/gpu_ladder.yaml").cells()
                  if c.size == "4B")
    options = SlurmOptions(nodes=3, gpus_per_node=8)
    monkeypatch.setattr(Recorder, "submit", lambda self, job: type("Job", (), {"job_id": "1"})(),
                        raising=False)
    monkeypatch.setattr(Recorder, "batch", lambda self: __import__("contextlib").nullcontext())
    cluster.submit([(config, "k")], tmp_path, 8, 1, "slurm", options, wait=False)
    assert seen["slurm_max_num_timeout"] == cluster.requeues_needed(
        cluster.cell_hours(config, options), options.time_min) > 3


def test_the_signal_before_the_time_limit_makes_the_run_checkpoint(tmp_path):
    """A job's checkpoint() asks the run for a checkpoint at its next step and waits for it."""
    import threading

    from rarescale.pretrain.config import RunConfig
    from rarescale.pretrain.checkpoint import CHECKPOINT, request_checkpoint
    from rarescale.pretrain.train import train

    config = RunConfig(size="30K", vocab_size=256, seq_len=16, batch=4, tokens=4 * 16 * 400,
                       corpus_tokens=40_000, holdout=4, eval_points=2, eval_instances=4,
                       forgetting_steps=0, checkpoint_every=10 ** 6)
    answered = []
    asker = threading.Thread(target=lambda: answered.append(request_checkpoint(tmp_path, 60)))
    asker.start()
    train(config, tmp_path, progress=False, max_steps=60)
    asker.join()
    assert answered == [True]
    saved = torch.load(tmp_path / CHECKPOINT, weights_only=False)
    assert 0 < saved["state"]["step"] < 60  # written at the step the request arrived, not at the end


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


def test_cells_that_run_at_once_never_share_a_gpu():
    import threading

    from runners.cells import GpuSlots

    slots = GpuSlots(8, per_cell=2)
    assert slots.jobs == 4
    held, lock, overlaps = set(), threading.Lock(), []

    def cell():
        with slots.take() as gpus:
            with lock:
                overlaps.append(bool(set(gpus.split(",")) & held))
                held.update(gpus.split(","))
            time.sleep(0.01)
            with lock:
                held.difference_update(gpus.split(","))

    threads = [threading.Thread(target=cell) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(overlaps) == 12 and not any(overlaps)
    with pytest.raises(ValueError, match="2 GPUs a cell"):
        GpuSlots(1, per_cell=2)
