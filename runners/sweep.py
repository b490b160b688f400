"""Run a grid of pretraining runs: ``python -m runners.sweep runners/configs/cpu_ladder.yaml``.

Each cell of the grid (see :mod:`rarescale.olmo.grid`) is one execution of
``runners/olmo_pretrain.py`` through papermill, in its own process. A cell
whose artifact exists (same config hash) is skipped; an interrupted cell
resumes from the checkpoint in its work folder; a failed cell is reported with
its log and the others go on. The executed notebook is kept beside the artifact
(``run.ipynb``) as the run's record.

Options: ``--jobs N`` runs N cells at once (threads split between them);
``--device cuda`` trains on the GPU; ``--launcher torchrun --nproc N`` trains
each cell data parallel; ``--dry-run`` checks every input (the grid, the
corpus files, the work folder) and prints the plan with a time estimate from
measured tokens/s. Exit codes: 0 all done, 1 a cell failed or is being run by
another sweep, 2 bad input.

The sweep owns its cells: each runs in its own process group, which the sweep
stops when it is stopped (SIGINT, SIGTERM, SIGHUP); a cell whose sweep was
killed outright stops by itself. A cell's work folder is locked while it runs,
so a second sweep over the same grid skips the cells the first one is running.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import yaml

from rarescale import artifacts
from rarescale.artifacts import REPO_ROOT
from rarescale.locks import wait_for_lock
from rarescale.olmo import grid, throughput
from rarescale.olmo.data import check_corpus
from rarescale.validation import ConfigError, writable_dir
from runners import cluster

BUSY_WAIT_S = 30.0
"""How long a cell waits for its work folder when another sweep holds it (a killed sweep's
cells take a second or two to stop) before it is skipped as busy."""
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


def describe(config) -> str:
    tasks = sorted({t.spec.kind for t in config.tasks})
    rates = sorted({t.rate for t in config.tasks}, reverse=True)
    return (f"{config.size} seed {config.seed} [{'+'.join(tasks)} at "
            f"{', '.join(f'{r:.1g}' for r in rates)}]")


def plan(sweep: grid.Sweep) -> list[tuple]:
    """(config, key, done) for every cell."""
    return [(c, grid.cell_key(c), grid.find_run(c) is not None) for c in sweep.cells()]


def print_plan(sweep: grid.Sweep, cells, jobs: int = 1, threads: int = 2, out=sys.stdout,
               gpu: str = "H100", utilisation: float = throughput.DEFAULT_MFU) -> float:
    """Print every cell with its steps, tokens and state; return the CPU seconds left.

    A GPU cell's estimate is in GPU-hours, from its model FLOPs at ``utilisation`` of
    ``gpu``'s bf16 peak (:mod:`rarescale.olmo.throughput`)."""
    total, gpu_total = 0.0, 0.0
    print(f"sweep {sweep.name}: {len(cells)} cells, {sum(d for *_, d in cells)} done", file=out)
    for config, key, done in cells:
        if config.device != "cpu":
            hours = throughput.gpu_hours(config, gpu, utilisation)
            gpu_total += 0 if done else hours
            state = "done" if done else f"~{hours:,.1f} GPU-h"
        else:
            est = sweep.estimate_seconds(config, threads=threads)
            total += 0 if done or np.isnan(est) else est
            state = "done" if done else f"~{est / 60:.1f} min"
        print(f"  {key[:10]}  {describe(config):60s} {config.steps:6d} steps  "
              f"{config.steps * config.global_batch * config.seq_len:>15,} tokens  {state}", file=out)
    if gpu_total:
        print(f"estimated GPU time for the cells to run: {gpu_total:,.1f} {gpu}-hours at "
              f"{100 * utilisation:.0f}% model FLOPs utilisation ({gpu_total / 24:,.1f} GPU-days)",
              file=out)
    if all(c.device != "cpu" for c, *_ in cells):
        return total
    unknown = sum(1 for c, _, d in cells if not d and np.isnan(sweep.estimate_seconds(c, threads=threads)))
    print(f"estimated time for the cells to run: about {total / 60 / jobs:.1f} min, {jobs} at a "
          f"time with {threads} thread(s) each (from tokens/s measured on a 2-core CPU)"
          + (f"; {unknown} cells of sizes or devices never measured here are not counted"
             if unknown else ""), file=out)
    return total


def run_cell(config, key: str, work_root: Path, threads: int, nproc: int,
             keep_checkpoints: bool, compile_model: bool = False,
             place: dict | None = None) -> tuple[str, Path, float]:
    """Execute one cell through papermill; return (status, log path, seconds).

    The status is ``"done"``, ``"failed"`` or ``"busy"`` (another sweep is running it).
    ``place`` is the node's share of a multi-node run (:func:`runners.cluster.rendezvous`).
    """
    work = work_root / key
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    with wait_for_lock(work / ".sweep.lock", BUSY_WAIT_S) as taken:
        if not taken:
            return "busy", log, 0.0
        params = {"config": config.to_dict(), "work_dir": str(work), "nproc": nproc,
                  "compile_model": compile_model, "artifact_root": str(artifacts.artifact_root()),
                  **(place or {})}
        cmd = [sys.executable, "-m", "runners.execute", "runners/olmo_pretrain.py", "-o", str(work)]
        for name, value in params.items():
            # as YAML, which runners.execute reads (JSON would write 3e-05, a string to YAML)
            cmd += ["-p", name, yaml.safe_dump(value, default_flow_style=True, width=10 ** 9).strip()
                    .removesuffix("\n...")]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "RARESCALE_PARENT_PID": str(os.getpid())}
        start = time.perf_counter()
        with open(log, "a") as f:
            f.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {describe(config)}\n")
            f.flush()
            # its own process group, so that stopping the sweep stops the kernel it starts too
            child = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                                     start_new_session=True)
            with _children_lock:
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
        shutil.copy2(work / "olmo_pretrain.ipynb", path / "run.ipynb")  # the run's record
        if not keep_checkpoints:
            (work / "checkpoint.pt").unlink(missing_ok=True)
        return "done", log, seconds


def stop_children(signum=None, frame=None):
    """Stop every running cell's process group (SIGTERM, then SIGKILL after 10 s); exit on a signal."""
    with _children_lock:
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


def check_inputs(sweep: grid.Sweep, todo, work_dir: Path) -> Path:
    """What a run would trip over, checked before it starts: the corpus files of the cells to
    run (present, of the right width for the vocabulary), the work folder and the artifact
    folder (writable). Returns the sweep's work folder."""
    for config in {c.corpus: c for c in todo}.values():
        check_corpus(config)
    work_root = writable_dir(work_dir.resolve() / sweep.name, "--work-dir")
    writable_dir(artifacts.artifact_root() / grid.KIND, "artifacts")
    return work_root


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path, help="a sweep YAML (runners/configs/*.yaml)")
    parser.add_argument("--jobs", type=int, default=1, help="cells run at once (default 1)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="override the sweep's device")
    parser.add_argument("--launcher", choices=["none", "torchrun"], default="none")
    parser.add_argument("--nproc", type=int, default=1, help="processes per cell with torchrun")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per process (default: cores / (jobs × nproc))")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "runs",
                        help="checkpoints and logs (default runs/ in the repository)")
    parser.add_argument("--keep-checkpoints", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile each model (GPU)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument("--executor", choices=["local", "slurm", "submitit-local"], default="local",
                        help="local: cells in this process's thread pool (default); slurm: one "
                             "Slurm job array through submitit (runners.cluster); submitit-local: "
                             "the same jobs as local processes")
    parser.add_argument("--partition", default=None, help="Slurm partition")
    parser.add_argument("--account", default=None, help="Slurm account")
    parser.add_argument("--nodes", type=int, default=1, help="nodes per cell (Slurm; torchrun across them)")
    parser.add_argument("--gpus-per-node", type=int, default=8, help="GPUs per node (Slurm)")
    parser.add_argument("--time-min", type=int, default=24 * 60,
                        help="time limit of a job, minutes; a cell past it is requeued and resumes")
    parser.add_argument("--gpu", choices=sorted(throughput.PEAK_BF16_FLOPS), default="H100",
                        help="GPU of the dry run's GPU-hours (default H100)")
    parser.add_argument("--mfu", type=float, default=throughput.DEFAULT_MFU,
                        help=f"model FLOPs utilisation the GPU-hours assume (default "
                             f"{throughput.DEFAULT_MFU})")
    args = parser.parse_args(argv)
    try:
        if args.jobs < 1 or args.nproc < 1 or (args.threads is not None and args.threads < 1):
            raise ConfigError("--jobs, --nproc and --threads must be at least 1.")
        if not 0 < args.mfu <= 1:
            raise ConfigError(f"--mfu must be in (0, 1]. Got {args.mfu} instead.")
        slurm = cluster.SlurmOptions(args.partition, args.nodes, args.gpus_per_node,
                                     time_min=args.time_min, account=args.account)
        sweep = grid.Sweep.from_yaml(args.config)
        if args.device:
            sweep = dataclasses.replace(sweep, run={**sweep.run, "device": args.device})
        cells = plan(sweep)
        nproc = args.nproc if args.launcher == "torchrun" else 1
        if args.executor == "slurm":  # torchrun on each node, a process per GPU
            nproc = args.gpus_per_node if sweep.run.get("device", "cpu") != "cpu" else nproc
        threads = args.threads or max(1, (os.cpu_count() or 1) // (args.jobs * nproc))
        if args.dry_run:  # the plan first, then what would stop a real run
            estimate = print_plan(sweep, cells, args.jobs, threads, gpu=args.gpu,
                                  utilisation=args.mfu)
        work_root = check_inputs(sweep, [c for c, _, done in cells if not done], args.work_dir)
        if args.dry_run:
            return 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    estimate = print_plan(sweep, cells, args.jobs, threads)
    # longest first, so that parallel jobs finish together
    todo = sorted(((c, k) for c, k, d in cells if not d),
                  key=lambda ck: -np.nan_to_num(sweep.estimate_seconds(ck[0], threads=threads)))
    if not todo:
        print("every cell is done: nothing to run")
        return 0
    if args.executor != "local":
        jobs, failures = cluster.submit(todo, work_root, nproc, threads, args.executor, slurm,
                                        args.keep_checkpoints, args.compile)
        print(f"submitted {len(jobs)} cells ({args.executor}): jobs {', '.join(map(str, jobs))}; "
              f"submitit's logs under {work_root / 'submitit'}/", flush=True)
        for key, error in failures:
            print(f"cell {key[:10]} FAILED: {error}", file=sys.stderr)
        return 1 if failures else 0
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_children)
    failed, busy, start, done_s = [], [], time.perf_counter(), 0.0
    print(f"running {len(todo)} cells, {args.jobs} at a time; logs under {work_root}/", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_cell, c, k, work_root, threads, nproc, args.keep_checkpoints,
                               args.compile): (c, k)
                   for c, k in todo}
        for n, future in enumerate(as_completed(futures), 1):
            config, key = futures[future]
            status, log, seconds = future.result()
            done_s += np.nan_to_num(sweep.estimate_seconds(config, threads=threads))
            left = max(estimate - done_s, 0) / args.jobs
            if status == "failed":
                failed.append(log)
                status = f"FAILED (log: {log})"
            elif status == "busy":
                busy.append(key)
                status = "skipped: another sweep is running it"
            print(f"[{n}/{len(todo)}] {describe(config)}: {status} in {seconds:.0f} s; "
                  f"elapsed {(time.perf_counter() - start) / 60:.1f} min, ~{left / 60:.0f} min left",
                  flush=True)
    if failed:
        print(f"{len(failed)} of {len(todo)} cells failed; see their logs above", file=sys.stderr)
    if busy:
        print(f"{len(busy)} cells are being run by another sweep; run this one again when it is done",
              file=sys.stderr)
    return 1 if failed or busy else 0


if __name__ == "__main__":
    sys.exit(main())
