"""Nothing stale, nothing lost, every bad input one line: one test per defect found by breaking
the book (stale code keys, a blind execution cache, racing writers, relative paths, corpora of
the wrong width, leaked temporaries and orphaned cells, uneven errors)."""

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import PYTHON, REPO
from rarescale.store import artifacts
from rarescale.store.artifacts import code_digest
from rarescale.validation import ConfigError


# --------------------------------------------------------------------------- 1. stale code

def _package_copy(tmp_path):
    root = tmp_path / "rarescale"
    shutil.copytree(REPO / "rarescale", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("module, old, new", [
    ("advisor/__init__.py", "new[k] = frequency", "new[k] = 0.5 * frequency"),
    ("book/experiments.py", "grad[c] = np.linalg.norm(", "grad[c] = 2 * np.linalg.norm("),
    ("counts.py", "np.geomspace(1, steps, evals - 1)", "np.geomspace(1, steps, evals)"),
])
def test_1_an_edit_anywhere_in_the_code_a_sweep_runs_gives_it_a_new_key(tmp_path, module, old, new):
    root = _package_copy(tmp_path)
    before = code_digest("rarescale.book.experiments", package_dir=root)
    source = (root / module).read_text()
    assert old in source, f"{module} no longer holds {old!r}"
    (root / module).write_text(source.replace(old, new))
    assert code_digest("rarescale.book.experiments", package_dir=root) != before


def test_1_the_sweeps_are_keyed_by_the_closure_of_their_imports():
    from rarescale.book import experiments

    files = {p.name for p in artifacts.code_files("rarescale.book.experiments")}
    assert {"__init__.py", "counts.py", "interference.py", "student.py", "theory.py"} <= files
    assert "plots.py" not in files and "figures.py" not in files  # no drawing in a sweep's key
    assert "olmo" not in {p.parent.name for p in artifacts.code_files("rarescale.book.experiments")}
    assert experiments._code() == code_digest("rarescale.book.experiments")


# --------------------------------------------------------------------------- 2. the book cache

def test_2_the_book_cache_notices_a_changed_or_vanished_artifact(tmp_path, monkeypatch):
    from runners.book_cache import changed_artifacts, main

    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    build = tmp_path / "book" / "_build"
    (build / ".jupyter_cache").mkdir(parents=True)
    (tmp_path / "book" / "rarescale").mkdir()
    log = build / "artifacts-read.log"
    main([str(tmp_path / "book")])  # first build of this root: a stamp is written
    (build / ".jupyter_cache").mkdir(exist_ok=True)
    monkeypatch.setenv("RARESCALE_ARTIFACT_LOG", str(log))  # a build reads two artifacts
    a = artifacts.save_artifact("demo", {"x": 1}, {"acc": [0.9]}, {"y": np.arange(4)})
    b = artifacts.save_artifact("demo", {"x": 2}, {"acc": [0.8]}, {"y": np.arange(4)})
    artifacts.load_artifact("demo", {"x": 1})
    artifacts.load_artifact("demo", {"x": 2})
    assert changed_artifacts(log) == []
    assert main([str(tmp_path / "book")]) == 0 and (build / ".jupyter_cache").exists()  # unchanged

    # the same key re-saved with other results, outside a build
    monkeypatch.delenv("RARESCALE_ARTIFACT_LOG")
    artifacts.save_artifact("demo", {"x": 1}, {"acc": [0.0]}, {"y": np.arange(4)})
    monkeypatch.setenv("RARESCALE_ARTIFACT_LOG", str(log))
    assert changed_artifacts(log) == [str(a.path.resolve())]
    main([str(tmp_path / "book")])
    assert not (build / ".jupyter_cache").exists() and not log.exists()

    # a flipped byte, and a deleted artifact
    artifacts.load_artifact("demo", {"x": 2})
    data = bytearray((b.path / "arrays.npz").read_bytes())
    data[-1] ^= 1
    (b.path / "arrays.npz").write_bytes(bytes(data))
    assert changed_artifacts(log) == [str(b.path.resolve())]
    log.write_text("")
    artifacts.load_artifact("demo", {"x": 1})
    shutil.rmtree(a.path)
    assert changed_artifacts(log) == [str(a.path.resolve())]


# --------------------------------------------------------------------------- 3. racing corpus writers

def test_3_concurrent_corpus_generation_writes_once_and_whole(tmp_path):
    from rarescale.pretrain.corpus import write_synthetic_web

    path = tmp_path / "data" / "web.bin"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "web.bin.tmp-999-dead").write_bytes(b"left by a killed writer")
    script = textwrap.dedent(f"""
        from rarescale.pretrain.corpus import write_synthetic_web
        write_synthetic_web({str(path)!r}, 200_000, vocab_size=512, seed=0)
    """)
    procs = [subprocess.Popen([PYTHON, "-c", script], cwd=REPO, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    alone = write_synthetic_web(tmp_path / "alone.bin", 200_000, vocab_size=512, seed=0)
    assert path.read_bytes() == alone.read_bytes()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["web.bin", "web.bin.lock"]


# --------------------------------------------------------------------------- 4. relative paths

@pytest.mark.slow
def test_4_a_notebook_reads_relative_paths_from_where_the_command_was_run(tmp_path, subprocess_env):
    nb = tmp_path / "reads.py"
    nb.write_text(textwrap.dedent("""\
        # %% tags=["parameters"]
        path = "missing.txt"

        # %%
        assert open(path).read() == "here", path
    """))
    (tmp_path / "here.txt").write_text("here")
    out = subprocess.run([PYTHON, "-m", "runners.execute", str(nb), "-p", "path", "here.txt",
                          "-o", str(tmp_path / "out")], cwd=tmp_path, env=subprocess_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_4_default_run_folders_are_per_config_and_git_ignored():
    from rarescale.sweeps import grid
    from rarescale.pretrain.config import RunConfig

    a, b = RunConfig(size="30K"), RunConfig(size="30K", seed=1)
    assert grid.run_folder(a) != grid.run_folder(b)
    assert grid.run_folder(a).is_relative_to(REPO / "runs")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(grid.run_folder(a) / "checkpoint.pt")],
                             cwd=REPO)
    assert ignored.returncode == 0


def test_4_a_foreign_checkpoint_names_its_absolute_path(tmp_path, monkeypatch):
    from rarescale.pretrain.checkpoint import CHECKPOINT
    from rarescale.pretrain.train import train
    from test_olmo_train import tiny

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    train(tiny(), "work", progress=False, max_steps=4)
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'work' / CHECKPOINT} belongs to a different"):
        train(tiny(seed=1), "work", progress=False, max_steps=4)


# --------------------------------------------------------------------------- 5. atomic replacement

WRITER = """
import sys
import numpy as np
from rarescale.store import artifacts
errors = 0
for i in range({n}):
    try:
        artifacts.save_artifact("race", {{"k": 1}}, {{"i": i}}, {{"x": np.full(2000, i)}})
    except Exception as exc:
        errors += 1
        print(type(exc).__name__, exc, file=sys.stderr)
print(errors)
"""
READER = """
import sys
from rarescale.store import artifacts
errors = 0
for i in range({n}):
    try:
        a = artifacts.load_artifact("race", {{"k": 1}})
        assert (a.arrays["x"] == a.result["i"]).all()
    except Exception as exc:
        errors += 1
        print(type(exc).__name__, exc, file=sys.stderr)
print(errors)
"""


def test_5_two_writers_and_a_reader_of_one_key_never_fail(tmp_path, subprocess_env):
    env = {**subprocess_env, "RARESCALE_ARTIFACTS": str(tmp_path / "artifacts")}
    artifacts_root = tmp_path / "artifacts"
    subprocess.run([PYTHON, "-c", WRITER.format(n=1)], env=env, check=True, capture_output=True)
    procs = [subprocess.Popen([PYTHON, "-c", code], env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for code in (WRITER.format(n=150), WRITER.format(n=150), READER.format(n=1500))]
    outs = [p.communicate(timeout=600) for p in procs]
    for out, err in outs:
        assert out.strip() == "0", err[-2000:]
    kinds = artifacts_root / "race"
    assert [p.name for p in kinds.iterdir() if not p.name.endswith(".lock")] == \
        [artifacts.config_key("race", {"k": 1})]  # no .tmp- or .old- folder left


# --------------------------------------------------------------------------- 6. corpus width

def test_6_a_corpus_of_the_wrong_width_is_refused_before_training(tmp_path):
    from rarescale.pretrain.corpus import TokenCorpus

    tokens = np.random.default_rng(0).integers(1, 500, size=20_000)
    wide = tmp_path / "wide.bin"
    tokens.astype(np.uint32).tofile(wide)
    with pytest.raises(ConfigError, match="every second token 0: it looks like a uint32 file"):
        TokenCorpus([wide], 64, "uint16", vocab_size=512)
    assert TokenCorpus([wide], 64, "uint32", vocab_size=512).sequence(0).tolist() == tokens[:64].tolist()
    narrow = tmp_path / "narrow.bin"
    tokens.astype(np.uint16).tofile(narrow)
    with pytest.raises(ConfigError, match=r"holds token \d+ >= vocab_size 512"):
        TokenCorpus([narrow], 64, "uint32", vocab_size=512)
    npy = tmp_path / "tokens.npy"
    np.save(npy, tokens.astype(np.uint32))
    corpus = TokenCorpus([npy], 64, "uint16", vocab_size=512)  # the header, not the option, says uint32
    assert corpus.sequence(1).tolist() == tokens[64:128].tolist()
    np.save(tmp_path / "grid.npy", tokens.reshape(100, 200).astype(np.uint16))
    with pytest.raises(ConfigError, match="must hold a flat integer array"):
        TokenCorpus([tmp_path / "grid.npy"], 64, vocab_size=512)


# --------------------------------------------------------------------------- 7. leaks and orphans

def test_7_a_run_removes_temporaries_a_killed_run_left(tmp_path, monkeypatch):
    from rarescale.pretrain.checkpoint import CHECKPOINT
    from rarescale.pretrain.train import train
    from test_olmo_train import tiny

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    work = tmp_path / "work"
    work.mkdir()
    (work / f"{CHECKPOINT}.tmp4242").write_bytes(b"half a checkpoint")
    (work / f"{CHECKPOINT}.tmp-4243-abcd").write_bytes(b"half a checkpoint")
    (work / f"{CHECKPOINT}.sha256.tmp-4244-abcd").write_text("half a digest")
    train(tiny(checkpoint_every=2), work, progress=False, max_steps=4)
    assert sorted(p.name for p in work.iterdir() if not p.name.startswith(".")) == \
        [CHECKPOINT, CHECKPOINT + ".sha256"]


def test_7_a_truncated_checkpoint_is_one_line(tmp_path, monkeypatch):
    from rarescale.pretrain.checkpoint import CHECKPOINT
    from rarescale.pretrain.train import train
    from test_olmo_train import tiny

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    train(tiny(), tmp_path / "w", progress=False, max_steps=4)
    data = (tmp_path / "w" / CHECKPOINT).read_bytes()
    (tmp_path / "w" / CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="does not match its checksum") as info:
        train(tiny(), tmp_path / "w", progress=False, max_steps=6)
    assert "\n" not in str(info.value)
    (tmp_path / "w" / (CHECKPOINT + ".sha256")).unlink()  # a checkpoint without digests
    with pytest.raises(ConfigError, match="is unreadable .*; delete it to start the run over") as info:
        train(tiny(), tmp_path / "w", progress=False, max_steps=6)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------ what still broke (issue 31)

def test_31_2_a_damaged_checkpoint_is_refused_naming_it(tmp_path, monkeypatch):
    """16 bytes XORed in the middle of a checkpoint used to resume silently."""
    from rarescale.pretrain.checkpoint import CHECKPOINT
    from rarescale.pretrain.train import train
    from test_olmo_train import tiny

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    train(tiny(), tmp_path / "w", progress=False, max_steps=4)
    path = tmp_path / "w" / CHECKPOINT
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 16] = bytes(b ^ 0xFF for b in data[mid:mid + 16])
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=rf"{CHECKPOINT} does not match its checksum") as info:
        train(tiny(), tmp_path / "w", progress=False, max_steps=6)
    assert str(path.resolve()) in str(info.value) and "\n" not in str(info.value)


def test_31_2_a_kill_while_a_checkpoint_is_swapped_leaves_one_that_resumes(tmp_path, monkeypatch):
    """The digests list the old and the new checkpoint while the file is swapped."""
    from rarescale.pretrain import checkpoint
    from rarescale.pretrain.train import train
    from test_olmo_train import tiny

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    work = tmp_path / "w"
    train(tiny(), work, progress=False, max_steps=4)
    old = (work / checkpoint.CHECKPOINT).read_bytes()
    real_replace = checkpoint.os.replace

    def killed(src, dst):  # the digests are written, the checkpoint never swapped in
        if str(dst).endswith(checkpoint.CHECKPOINT):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checked(work / checkpoint.CHECKPOINT, lambda tmp: Path(tmp).write_bytes(b"new"))
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    assert (work / checkpoint.CHECKPOINT).read_bytes() == old
    assert len((work / (checkpoint.CHECKPOINT + ".sha256")).read_text().split()) == 2
    result, _ = train(tiny(), work, progress=False)  # resumes from the old one
    assert result["steps"] == tiny().steps


def _fake_finished(monkeypatch, tmp_path, cells):
    """A run that grid.find_run finds finished (its artifact folder), and a Popen that must not run."""
    done = tmp_path / "artifact"
    done.mkdir()
    monkeypatch.setattr(cells.grid, "find_run", lambda config: done)

    def no_run(*a, **k):
        raise AssertionError("the cell was started")

    monkeypatch.setattr(cells.subprocess, "Popen", no_run)
    return done


def test_31_3_a_cell_finished_by_another_sweep_while_waiting_is_not_run_again(tmp_path, monkeypatch):
    from rarescale.pretrain.config import RunConfig
    from runners import cells

    done = _fake_finished(monkeypatch, tmp_path, cells)
    (tmp_path / "key").mkdir()
    (tmp_path / "key" / "olmo_pretrain.ipynb").write_text("{}")
    (tmp_path / "key" / "checkpoint.pt").write_text("x")
    status, _, _ = cells.run_cell(RunConfig(size="30K"), "key", tmp_path, 1, 1, False)
    assert status == "done elsewhere"
    assert (done / "run.ipynb").read_text() == "{}" and not (tmp_path / "key" / "checkpoint.pt").exists()


def test_31_10_no_cell_starts_once_the_sweep_is_stopping(tmp_path, monkeypatch):
    from rarescale.pretrain.config import RunConfig
    from runners import cells

    _fake_finished(monkeypatch, tmp_path, cells)
    monkeypatch.setattr(cells.grid, "find_run", lambda config: None)  # not done: it would start
    monkeypatch.setattr(cells, "_stopping", cells.threading.Event())
    cells.stop_children()  # what a signal handler calls first (no signal: it does not exit)
    status, _, _ = cells.run_cell(RunConfig(size="30K"), "key", tmp_path, 1, 1, False)
    assert status == "stopped"


def test_31_11_a_done_cell_without_its_record_is_repaired_by_the_next_sweep(tmp_path, monkeypatch,
                                                                           subprocess_env):
    """A kill between saving a run and copying its notebook left the record missing for good."""
    from rarescale.sweeps import grid
    from runners import cells, sweep
    from test_olmo_sweep import TINY, write

    grid_file = write(tmp_path, TINY)
    runs = {}
    for config in grid.Sweep.from_yaml(grid_file).cells():
        folder = tmp_path / "artifacts" / grid.cell_key(config)
        folder.mkdir(parents=True)
        runs[grid.cell_key(config)] = folder
        work = tmp_path / "runs" / "tiny" / grid.cell_key(config)
        work.mkdir(parents=True)
        (work / "olmo_pretrain.ipynb").write_text('{"cells": []}')
        (work / "checkpoint.pt").write_text("x")
    monkeypatch.setattr(grid, "find_run", lambda config: runs[grid.cell_key(config)])
    monkeypatch.setattr(cells.grid, "find_run", lambda config: runs[grid.cell_key(config)])
    assert sweep.main([str(grid_file), "--work-dir", str(tmp_path / "runs")]) == 0
    for key, folder in runs.items():
        assert (folder / "run.ipynb").read_text() == '{"cells": []}'
        assert not (tmp_path / "runs" / "tiny" / key / "checkpoint.pt").exists()


def test_7_a_work_folder_in_use_is_skipped_not_shared(tmp_path, monkeypatch):
    from rarescale.store.locks import exclusive
    from rarescale.pretrain.config import RunConfig
    from runners import cells

    monkeypatch.setattr(cells, "BUSY_WAIT_S", 0.5)
    (tmp_path / "key").mkdir()
    with exclusive(tmp_path / "key" / ".sweep.lock"):
        status, _, _ = cells.run_cell(RunConfig(size="30K"), "key", tmp_path, 1, 1, False)
    assert status == "busy"


def _cell_processes(sweep_pid: int):
    """Processes a sweep started (its cells and their kernels): they carry its pid in their environment."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("RARESCALE_PARENT_PID") == str(sweep_pid):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_7_stopping_a_sweep_stops_its_cells(tmp_path, subprocess_env, how):
    import signal

    from test_olmo_sweep import TINY, sweep_cmd, write

    env = {**subprocess_env, "RARESCALE_DATA": str(tmp_path / "data"),
           "RARESCALE_ARTIFACTS": str(tmp_path / "artifacts")}
    grid_file = write(tmp_path, {**TINY, "run": {**TINY["run"], "tokens": 16 * 8 * 4000}})
    work = tmp_path / "runs"
    proc = subprocess.Popen(sweep_cmd(grid_file, "--work-dir", str(work)), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list(work.glob("tiny/*/checkpoint.pt")) and time.time() < deadline:
        time.sleep(0.2)
    assert len(_cell_processes(proc.pid)) >= 2, "no cell (runner and kernel) was running"
    proc.send_signal(getattr(signal, how))
    proc.wait(timeout=60)
    deadline = time.time() + 30
    while _cell_processes(proc.pid) and time.time() < deadline:
        time.sleep(0.5)
    assert not _cell_processes(proc.pid), "a cell outlived its sweep"


@pytest.mark.parametrize("change, message", [
    ({"seed": 10 ** 20}, r"RunConfig\.seed must be at most 4,294,967,295"),
    ({"vocab_size": 10 ** 11}, r"RunConfig\.vocab_size must be at most 16,777,216"),
    ({"corpus_tokens": 10 ** 14}, r"RunConfig\.corpus_tokens must be at most 10,000,000,000"),
    ({"eval_points": 10 ** 12}, r"RunConfig\.eval_points must be at most 10,000"),
    ({"micro_batch": 3}, r"RunConfig\.micro_batch 3 does not divide the batch of 8 sequences"),
])
def test_31_7_values_a_kernel_tripped_over_are_refused_by_the_config(change, message):
    from test_olmo_train import tiny

    with pytest.raises(ConfigError, match=message):
        tiny(**change)


def test_31_7_an_uncreatable_work_dir_is_one_line(tmp_path):
    from rarescale.pretrain.train import train
    from test_olmo_train import tiny

    with pytest.raises(ConfigError, match=r"work_dir: cannot create /dev/null/x \(Not a directory\)"):
        train(tiny(), "/dev/null/x", progress=False)


def test_31_7_a_cuda_sweep_on_a_machine_without_one_fails_its_dry_run(tmp_path, monkeypatch, capsys):
    import torch

    from runners import sweep
    from test_olmo_sweep import TINY, write

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    grid_file = write(tmp_path, {**TINY, "run": {**TINY["run"], "device": "cuda"}})
    assert sweep.main([str(grid_file), "--dry-run", "--work-dir", str(tmp_path / "runs")]) == 1
    assert "check failed: device: the cells use CUDA and this machine has no GPU" in capsys.readouterr().out
    assert sweep.main([str(grid_file), "--work-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_31_13_every_cpu_size_has_an_estimate_and_no_venv_is_one_line(tmp_path):
    from rarescale.sweeps import grid
    from rarescale.pretrain.model import LADDER

    sweep = grid.Sweep.from_dict({"name": "t", "sizes": ["12K"], "frequencies": [1e-3],
                                  "tasks": [{"kind": "cmp", "n_values": 8, "n_instances": 64}],
                                  "run": {"vocab_size": 256, "seq_len": 16, "batch": 8, "tokens": 12800}})
    for size in [s for s in LADDER if LADDER[s].non_embedding_params() < 5e6]:
        config = dataclasses.replace(sweep.cells()[0], size=size)
        for threads in (1, 2):
            assert np.isfinite(sweep.estimate_seconds(config, threads=threads)), (size, threads)
    # a Python without the project's packages: one line naming the command to run instead
    code = ("import importlib.util, runpy, sys; real = importlib.util.find_spec; "
            "importlib.util.find_spec = lambda m, *a: None if m == 'submitit' else real(m, *a); "
            "sys.argv = ['runners.sweep', 'x.yaml']; runpy.run_module('runners.sweep', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "submitit is not installed for" in out.stderr and "make venv" in out.stderr


def test_31_4_a_full_disk_on_the_output_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import errno

    import papermill

    from runners import execute

    def full(nb, out, **kw):
        Path(out).write_text('{"cells": [')  # half a notebook, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(papermill, "execute_notebook", full)
    out = tmp_path / "out"
    assert execute.main(["book/00_how_to_use.py", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert list(out.iterdir()) == []  # no notebook, no temporary


def test_31_7_a_run_without_tasks_is_refused_by_the_runner_with_exit_2(tmp_path, subprocess_env):
    out = subprocess.run([PYTHON, "-m", "runners.execute", "runners/olmo_pretrain.py", "-o",
                          str(tmp_path / "out"), "-p", "config", "{size: 30K, tasks: []}"],
                         cwd=REPO, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "config.tasks is empty" in out.stderr, out.stderr[-2000:]
