"""Nothing stale, nothing lost, every bad input one line: one test per defect found by breaking
the book (stale code keys, a blind execution cache, racing writers, relative paths, corpora of
the wrong width, leaked temporaries and orphaned cells, uneven errors)."""

import os
import shutil
import subprocess
import sys
import textwrap
import time

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
    from runners.book_cache import changed_artifacts, library_digest, main

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
    assert library_digest(tmp_path / "book")  # the library side still works


# --------------------------------------------------------------------------- 3. racing corpus writers

def test_3_concurrent_corpus_generation_writes_once_and_whole(tmp_path):
    from rarescale.olmo.corpus import write_synthetic_web

    path = tmp_path / "data" / "web.bin"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "web.bin.tmp-999-dead").write_bytes(b"left by a killed writer")
    script = textwrap.dedent(f"""
        from rarescale.olmo.corpus import write_synthetic_web
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
    from rarescale.olmo import grid
    from rarescale.olmo.config import RunConfig

    a, b = RunConfig(size="30K"), RunConfig(size="30K", seed=1)
    assert grid.run_folder(a) != grid.run_folder(b)
    assert grid.run_folder(a).is_relative_to(REPO / "runs")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(grid.run_folder(a) / "checkpoint.pt")],
                             cwd=REPO)
    assert ignored.returncode == 0


def test_4_a_foreign_checkpoint_names_its_absolute_path(tmp_path, monkeypatch):
    from rarescale.olmo.train import CHECKPOINT, train
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
    from rarescale.olmo.corpus import TokenCorpus

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
    from rarescale.olmo.train import CHECKPOINT, train
    from test_olmo_train import tiny

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    work = tmp_path / "work"
    work.mkdir()
    (work / f"{CHECKPOINT}.tmp4242").write_bytes(b"half a checkpoint")
    (work / f"{CHECKPOINT}.tmp-4243-abcd").write_bytes(b"half a checkpoint")
    train(tiny(checkpoint_every=2), work, progress=False, max_steps=4)
    assert sorted(p.name for p in work.iterdir() if not p.name.startswith(".")) == [CHECKPOINT]


def test_7_a_truncated_checkpoint_is_one_line(tmp_path, monkeypatch):
    from rarescale.olmo.train import CHECKPOINT, train
    from test_olmo_train import tiny

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    train(tiny(), tmp_path / "w", progress=False, max_steps=4)
    data = (tmp_path / "w" / CHECKPOINT).read_bytes()
    (tmp_path / "w" / CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="is unreadable .*; delete it to start the run over") as info:
        train(tiny(), tmp_path / "w", progress=False, max_steps=6)
    assert "\n" not in str(info.value)


def test_7_a_work_folder_in_use_is_skipped_not_shared(tmp_path, monkeypatch):
    from rarescale.store.locks import exclusive
    from rarescale.olmo.config import RunConfig
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
