"""One cell of a sweep, executed through papermill in its own process group.

Shared by the local sweep (:mod:`runners.sweep`) and the cluster jobs (:mod:`runners.cluster`),
which both import it; neither imports the other's cells.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from rarescale.sweeps import grid
from rarescale.store import artifacts
from rarescale.store.artifacts import REPO_ROOT
from rarescale.store.locks import wait_for_lock

BUSY_WAIT_S = 30.0
"""How long a cell waits for its work folder when another sweep holds it (a killed sweep's
cells take a second or two to stop) before it is skipped as busy."""
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()
_stopping = threading.Event()
"""Set by :func:`stop_children`: from then on no cell starts (under ``_children_lock``)."""


def describe(config) -> str:
    tasks = sorted({t.spec.kind for t in config.tasks})
    rates = sorted({t.rate for t in config.tasks}, reverse=True)
    return (f"{config.size} seed {config.seed} [{'+'.join(tasks)} at "
            f"{', '.join(f'{r:.1g}' for r in rates)}]")


def run_cell(config, key: str, work_root: Path, threads: int, nproc: int,
             keep_checkpoints: bool, compile_model: bool | None = None,
             place: dict | None = None, gpus: str | None = None) -> tuple[str, Path, float]:
    """Execute one cell through papermill; return (status, log path, seconds).

    The status is ``"done"``, ``"failed"``, ``"busy"`` (another sweep is running it),
    ``"done elsewhere"`` (another sweep finished it while this one waited: it is not run
    again) or ``"stopped"`` (the sweep is shutting down: it was not started).
    ``place`` is the node's share of a multi-node run (:func:`runners.cluster.rendezvous`);
    ``gpus`` the GPUs this cell may use (``CUDA_VISIBLE_DEVICES``), when cells share a machine.
    """
    work = work_root / key
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    with wait_for_lock(work / ".sweep.lock", BUSY_WAIT_S) as taken:
        if not taken:
            return "busy", log, 0.0
        done = grid.find_run(config)
        if done is not None:  # finished by another sweep while this one waited
            repair_record(config, work, path=done)
            return "done elsewhere", log, 0.0
        params = {"config": config.to_dict(), "work_dir": str(work), "nproc": nproc,
                  "compile_model": compile_model, "artifact_root": str(artifacts.artifact_root()),
                  **(place or {})}
        cmd = [sys.executable, "-m", "runners.execute", "runners/olmo_pretrain.py", "-o", str(work)]
        for name, value in params.items():
            # as YAML, which runners.execute reads (JSON would write 3e-05, a string to YAML)
            cmd += ["-p", name, yaml.safe_dump(value, default_flow_style=True, width=10 ** 9).strip()
                    .removesuffix("\n...")]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "RARESCALE_PARENT_PID": str(os.getpid()),
               **({"CUDA_VISIBLE_DEVICES": gpus} if gpus is not None else {})}
        start = time.perf_counter()
        with open(log, "a") as f:
            f.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {describe(config)}\n")
            f.flush()
            with _children_lock:  # never after stop_children took its snapshot
                if _stopping.is_set():
                    return "stopped", log, 0.0
                # its own process group, so that stopping the sweep stops the kernel it starts too
                child = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=f,
                                         stderr=subprocess.STDOUT, start_new_session=True)
                _children.add(child)
            try:
                code = child.wait()
            finally:
                with _children_lock:
                    _children.discard(child)
        seconds = time.perf_counter() - start
        path = grid.find_run(config)
        if code != 0 or path is None:
            return "failed", log, seconds
        repair_record(config, work, keep_checkpoints, path)
        return "done", log, seconds


def repair_record(config, work: Path, keep_checkpoints: bool = False, path: Path | None = None) -> bool:
    """Finish what a cell does after its run is saved: copy the executed notebook beside the
    artifact (the run's record, written atomically) and remove the cell's checkpoints. Also what
    a sweep does for a done cell a kill left without its record. ``path``: the run's artifact,
    where the caller has found it. True if the record is there."""
    from rarescale.store.files import write_atomically

    path = grid.find_run(config) if path is None else path
    if path is None:
        return False
    record, executed = path / "run.ipynb", work / "olmo_pretrain.ipynb"
    if not record.is_file() and executed.is_file():
        write_atomically(record, lambda tmp: shutil.copy2(executed, tmp))
    if not keep_checkpoints and record.is_file():  # a finished cell's checkpoints
        (work / "checkpoint.pt").unlink(missing_ok=True)
        (work / "checkpoint.pt.sha256").unlink(missing_ok=True)
        shutil.rmtree(work / "checkpoint.dcp", ignore_errors=True)
    return record.is_file()


def stop_children(signum=None, frame=None):
    """Stop every running cell's process group (SIGTERM, then SIGKILL after 10 s); exit on a
    signal. No cell starts once this has begun."""
    with _children_lock:
        _stopping.set()
        children = list(_children)
    for child in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
    if signum is not None:
        print(f"stopped by signal {signum}: {len(children)} running cells stopped; "
              "run the sweep again to resume them", file=sys.stderr)
        os._exit(128 + signum)


class GpuSlots:
    """The machine's GPUs split among the cells that run at once: each cell takes ``per_cell``
    of them for its run and gives them back, so that ``--jobs N`` cells never share a GPU."""

    def __init__(self, n_gpus: int, per_cell: int):
        import queue

        if n_gpus < per_cell:
            raise ValueError(f"{per_cell} GPUs a cell, but {n_gpus} on this machine")
        self.free = queue.Queue()
        for k in range(n_gpus // per_cell):
            self.free.put(",".join(str(g) for g in range(k * per_cell, (k + 1) * per_cell)))

    @property
    def jobs(self) -> int:
        return self.free.qsize()

    @contextlib.contextmanager
    def take(self):
        gpus = self.free.get()
        try:
            yield gpus
        finally:
            self.free.put(gpus)
