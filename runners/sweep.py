"""Run a grid of pretraining runs: ``python -m runners.sweep runners/configs/cpu_ladder.yaml``.

Each cell of the grid (see :mod:`rarescale.sweeps.grid`) is one execution of
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
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from rarescale.store import artifacts
from rarescale.store.artifacts import REPO_ROOT
from rarescale.sweeps import grid
from rarescale.pretrain import throughput
from rarescale.pretrain.data import check_corpus, corpus_checksums
from rarescale.validation import ConfigError, MissingFile, read_yaml, writable_dir
from runners import cluster
from runners.cells import GpuSlots, describe, repair_record, run_cell, stop_children


def plan(sweep: grid.Sweep) -> list[tuple]:
    """(config, key, done) for every cell."""
    return [(c, grid.cell_key(c), grid.find_run(c) is not None) for c in sweep.cells()]


def print_plan(sweep: grid.Sweep, cells, jobs: int = 1, threads: int = 2, out=None,
               gpu: str = "H100", utilisation: float = throughput.DEFAULT_MFU) -> float:
    """Print every cell with its steps, tokens and state; return the CPU seconds left.

    A GPU cell's estimate is in GPU-hours, from its model FLOPs at ``utilisation`` of
    ``gpu``'s bf16 peak (:mod:`rarescale.pretrain.throughput`)."""
    out = out or sys.stdout
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


def check_inputs(sweep: grid.Sweep, todo, work_dir: Path, corpus_change: bool = False) -> Path:
    """What a run would trip over, checked before it starts: the corpus files of the cells to
    run (present, of the right width for the vocabulary, and the bytes the sweep's landed cells
    trained on unless ``corpus_change``), the work folder and the artifact folder (writable).
    Returns the sweep's work folder."""
    for config in {c.corpus: c for c in todo}.values():
        check_corpus(config)
    changes = [] if corpus_change else grid.corpus_changes(sweep, todo, corpus_checksums)
    if changes:
        raise ConfigError(f"{changes[0]}; its new cells would train on other bytes than its "
                          "landed ones (--allow-corpus-change runs them anyway, and the grid then "
                          "mixes two corpora, which the chapters report).")
    work_root = writable_dir(work_dir.resolve() / sweep.name, "--work-dir")
    writable_dir(artifacts.artifact_root() / grid.KIND, "artifacts")
    return work_root


def would_write(path: Path, field: str) -> None:
    """That ``path`` could be created and written, without creating it (a dry run writes nothing)."""
    path = path.resolve()
    existing = next(p for p in [path, *path.parents] if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"{field}: {existing} is not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{field}: {existing} is not writable.")


def placement_checks(sweep: grid.Sweep, cells, processes_per_node: int, nodes: int,
                     gpu: str) -> tuple[list[str], list[str]]:
    """What each size needs of the processes a cell runs on: (lines of the per-size plan,
    failures). A size's batch must divide among ``nodes × processes_per_node`` processes; the
    plan names the node counts that divide it, and, on a GPU, the micro-batch the memory model
    gives on ``gpu`` (:mod:`rarescale.pretrain.memory`)."""
    from rarescale.pretrain import memory, sharding

    lines, failures = [], []
    first = {}
    for config, *_ in cells:
        first.setdefault(config.size, config)
    world = nodes * processes_per_node
    for size, config in first.items():
        batch = config.global_batch
        ok_nodes = [n for n in range(1, 65) if batch % (n * processes_per_node) == 0]
        line = (f"  {size:>5}: batch {batch:5d}, nodes that divide it ({processes_per_node} "
                f"process(es) each): {', '.join(map(str, ok_nodes[:8])) or 'none'}")
        if config.device != "cpu" and batch % world == 0:
            mem = memory.GPU_MEMORY[gpu]
            n = config.model.total_params(config.padded_vocab)  # the rule train() applies
            sharded = world > 1 and (config.shard or not sharding.state_fits(n, mem))
            micro = memory.micro_batch(config, world, mem, sharded)
            state = memory.state_bytes(config, world, sharded) / 2 ** 30
            line += (f"; on {world} {gpu}: {batch // world} sequences a process, micro-batch "
                     f"{micro}, state {state:,.1f} GiB{' (sharded)' if sharded else ''}")
            if not memory.fits(config, world, mem, sharded):
                failures.append(f"{size}: one sequence of {config.seq_len} tokens beside its "
                                f"training state does not fit a {gpu}")
        lines.append(line)
        if batch % world:
            failures.append(f"{size}: batch {batch} does not divide among {world} processes "
                            f"({nodes} node(s) × {processes_per_node}); nodes that do: "
                            f"{', '.join(map(str, ok_nodes[:8])) or 'none'}")
    return lines, failures


def device_failures(cells, executor: str) -> list[str]:
    """A sweep run here (``--executor local``) whose cells use CUDA needs a GPU here."""
    if executor != "local" or all(c.device == "cpu" for c, *_ in cells):
        return []
    import torch

    if not torch.cuda.is_available():
        return ["device: the cells use CUDA and this machine has no GPU (run them where one is, "
                "or --device cpu)"]
    wanted = [int(c.device.split(":")[1]) for c, *_ in cells if ":" in c.device]
    if wanted and max(wanted) >= torch.cuda.device_count():
        return [f"device: cuda:{max(wanted)} asked, this machine has {torch.cuda.device_count()} GPU(s)"]
    return []


def dry_run(sweep: grid.Sweep, cells, work_dir: Path, processes_per_node: int, nodes: int,
            gpu: str, executor: str = "local", corpus_change: bool = False) -> int:
    """Every check a run would trip over, after the plan: each failure one line, exit 1 if any."""
    lines, failures = placement_checks(sweep, cells, processes_per_node, nodes, gpu)
    failures += device_failures(cells, executor)
    print(f"per size, on {nodes} node(s) of {processes_per_node} process(es):")
    print("\n".join(lines))
    todo = [c for c, _, done in cells if not done]
    for config in {c.corpus: c for c in todo}.values():
        try:
            check_corpus(config)
        except MissingFile as exc:  # not here yet: the plan stands; other corpus errors are input errors
            failures.append(f"corpus: {exc}")
    if not corpus_change and not any(f.startswith("corpus:") for f in failures):
        failures += [f"corpus: {line}" for line in grid.corpus_changes(sweep, todo, corpus_checksums)]
    would_write(work_dir / sweep.name, "--work-dir")
    would_write(artifacts.artifact_root() / grid.KIND, "artifacts")
    for failure in failures:
        print(f"check failed: {failure}")
    print(f"{len(failures)} check(s) failed" if failures else "every check passed")
    return 1 if failures else 0


def arguments() -> argparse.ArgumentParser:
    """The sweep's command line."""
    parser = argparse.ArgumentParser(prog="python -m runners.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path, help="a sweep YAML (runners/configs/*.yaml)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="cells run at once (default: on a CPU one a core, each on one thread, "
                             "the faster layout measured here; on GPUs one)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="override the sweep's device")
    parser.add_argument("--launcher", choices=["none", "torchrun"], default="none")
    parser.add_argument("--nproc", type=int, default=1, help="processes per cell with torchrun")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per process (default: cores / (jobs × nproc))")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "runs",
                        help="checkpoints and logs (default runs/ in the repository)")
    parser.add_argument("--keep-checkpoints", action="store_true")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="compile each run's loss and backward (default: where it pays, on a CPU)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument("--allow-corpus-change", action="store_true",
                        help="run cells on corpus bytes other than the sweep's landed cells' "
                             "(a rebuilt corpus from other package versions)")
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
    parser.add_argument("--qos", default=None, help="Slurm quality of service")
    parser.add_argument("--mem", default=None, help="Slurm memory per node (500G; 0: all of it)")
    parser.add_argument("--constraint", default=None, help="Slurm node features (h100&ib)")
    parser.add_argument("--exclusive", action="store_true", help="Slurm: whole nodes only")
    parser.add_argument("--cpus-per-task", type=int, default=None,
                        help="Slurm CPUs of each node's task (default 8 per GPU)")
    parser.add_argument("--setup", action="append", default=[],
                        help="a shell line the job runs first (repeatable): 'module load cuda'")
    parser.add_argument("--sbatch", action="append", default=[], metavar="NAME=VALUE",
                        help="any other #SBATCH parameter (repeatable): --sbatch reservation=llm")
    parser.add_argument("--gpu", choices=sorted(throughput.PEAK_BF16_FLOPS), default="H100",
                        help="GPU of the dry run's GPU-hours (default H100)")
    parser.add_argument("--mfu", type=float, default=throughput.DEFAULT_MFU,
                        help=f"model FLOPs utilisation the GPU-hours assume (default "
                             f"{throughput.DEFAULT_MFU})")
    return parser


def sweep_device(args) -> str:
    """The device a sweep's cells train on: ``--device``, else the YAML's ``run.device``."""
    if args.device:
        return args.device
    try:
        return (read_yaml(args.config, "sweep file") or {}).get("run", {}).get("device", "cpu")
    except (ConfigError, AttributeError):  # read again, and reported, by the sweep's own load
        return "cpu"


def slurm_options(args) -> cluster.SlurmOptions:
    """The Slurm request from the command line (``--sbatch NAME=VALUE`` pairs checked here)."""
    extra = []
    for item in args.sbatch:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--sbatch {item!r} must be NAME=VALUE.")
        extra.append((name.strip().removeprefix("--"), value.strip()))
    return cluster.SlurmOptions(args.partition, args.nodes, args.gpus_per_node,
                                cpus_per_task=args.cpus_per_task, time_min=args.time_min,
                                account=args.account, qos=args.qos, mem=args.mem,
                                constraint=args.constraint, exclusive=args.exclusive,
                                setup=tuple(args.setup), extra=tuple(extra))


def run_locally(sweep: grid.Sweep, todo, work_root: Path, args, threads: int, nproc: int,
                estimate: float) -> int:
    """Run the cells ``todo`` in this process's thread pool, ``--jobs`` at a time, each on its
    own GPUs where they use GPUs; report each as it ends. Exit code 1 if any failed or was busy."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_children)
    failed, busy, start, done_s = [], [], time.perf_counter(), 0.0
    print(f"running {len(todo)} cells, {args.jobs} at a time; logs under {work_root}/", flush=True)
    slots = None
    if args.jobs > 1 and any(c.device != "cpu" for c, _ in todo):  # each cell its own GPUs
        import torch

        slots = GpuSlots(torch.cuda.device_count(), nproc)
        if slots.jobs < args.jobs:
            print(f"error: --jobs {args.jobs} cells of {nproc} GPU(s) each need "
                  f"{args.jobs * nproc} GPUs; this machine has {torch.cuda.device_count()}",
                  file=sys.stderr)
            return 2

    def one_cell(config, key):
        with (slots.take() if slots else contextlib.nullcontext()) as gpus:
            return run_cell(config, key, work_root, threads, nproc, args.keep_checkpoints,
                            args.compile, gpus=gpus)

    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(one_cell, c, k): (c, k) for c, k in todo}
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
            elif status == "done elsewhere":
                status = "done by another sweep while this one waited; not run again"
            print(f"[{n}/{len(todo)}] {describe(config)}: {status} in {seconds:.0f} s; "
                  f"elapsed {(time.perf_counter() - start) / 60:.1f} min, ~{left / 60:.0f} min left",
                  flush=True)
    if failed:
        print(f"{len(failed)} of {len(todo)} cells failed; see their logs above", file=sys.stderr)
    if busy:
        print(f"{len(busy)} cells are being run by another sweep; run this one again when it is done",
              file=sys.stderr)
    return 1 if failed or busy else 0


def main(argv=None) -> int:
    args = arguments().parse_args(argv)
    try:
        if args.jobs is None:  # two runs on one core each trained 1.03x-1.33x faster in all
            on_cpu = sweep_device(args) == "cpu"  # than one run on both (bench_lm_step --ladder)
            args.jobs = max(1, os.cpu_count() or 1) if on_cpu and args.launcher == "none" else 1
        if args.jobs < 1 or args.nproc < 1 or (args.threads is not None and args.threads < 1):
            raise ConfigError("--jobs, --nproc and --threads must be at least 1.")
        if not 0 < args.mfu <= 1:
            raise ConfigError(f"--mfu must be in (0, 1]. Got {args.mfu} instead.")
        slurm = slurm_options(args)
        sweep = grid.Sweep.from_yaml(args.config)
        if args.device:
            sweep = dataclasses.replace(sweep, run={**sweep.run, "device": args.device})
        cells = plan(sweep)
        nproc = args.nproc if args.launcher == "torchrun" else 1
        if args.executor == "slurm":  # torchrun on each node, a process per GPU
            nproc = args.gpus_per_node if sweep.run.get("device", "cpu") != "cpu" else nproc
        threads = args.threads or max(1, (os.cpu_count() or 1) // (args.jobs * nproc))
        nodes = args.nodes if args.executor == "slurm" else 1
        if args.dry_run:  # the plan first, then what would stop a real run
            print_plan(sweep, cells, args.jobs, threads, gpu=args.gpu, utilisation=args.mfu)
            return dry_run(sweep, cells, args.work_dir, nproc, nodes, args.gpu, args.executor,
                           args.allow_corpus_change)
        _, failures = placement_checks(sweep, cells, nproc, nodes, args.gpu)
        failures += device_failures(cells, args.executor)
        if failures:
            raise ConfigError(failures[0])
        work_root = check_inputs(sweep, [c for c, _, done in cells if not done], args.work_dir,
                                 args.allow_corpus_change)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # a done cell that a kill left without its record (between saving the run and copying it)
    for config, key, done in cells:
        if done and not (grid.find_run(config) / "run.ipynb").is_file():
            if repair_record(config, work_root / key):
                print(f"cell {key[:10]}: its run's record copied beside the artifact", flush=True)
    estimate = print_plan(sweep, cells, args.jobs, threads, gpu=args.gpu, utilisation=args.mfu)
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
    return run_locally(sweep, todo, work_root, args, threads, nproc, estimate)


if __name__ == "__main__":
    sys.exit(main())
