"""Running a sweep's cells on a cluster: Slurm through submitit, and torchrun across nodes.

``python -m runners.sweep grid.yaml --executor slurm --partition gpu --nodes 2
--gpus-per-node 8`` submits the cells still to run as one Slurm job array
(submitit); each array task runs its cell on ``nodes`` nodes with torchrun, the
rendezvous taken from the Slurm environment. A task that is preempted or runs
out of time is requeued (submitit's checkpoint protocol) and resumes from the
run's checkpoint; a cell whose artifact exists is never submitted again.

``--executor submitit-local`` runs the same jobs as local processes
(submitit's local executor): what the tests use here, where there is no Slurm.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import submitit

RDZV_PORT = 29500


def torchrun_command(config_file, work, nproc: int, nnodes: int = 1, node_rank: int = 0,
                     rdzv_endpoint: str = "", run_id: str = "rarescale", compile_model: bool | None = None):
    """The torchrun command that trains one run in ``nproc`` processes on each of ``nnodes`` nodes.

    One node: ``--standalone``. Several: a c10d rendezvous at ``rdzv_endpoint`` (host:port of the
    first node), this node being ``node_rank``.
    """
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc)]
    if nnodes > 1:
        if not rdzv_endpoint:
            raise ValueError("several nodes need a rendezvous endpoint (host:port).")
        cmd += ["--nnodes", str(nnodes), "--node_rank", str(node_rank), "--rdzv_backend", "c10d",
                "--rdzv_endpoint", rdzv_endpoint, "--rdzv_id", run_id]
    else:
        cmd += ["--standalone"]
    cmd += ["-m", "rarescale.pretrain", str(config_file), str(work)]
    return cmd + ({True: ["--compile"], False: ["--no-compile"]}.get(compile_model, []))


def rendezvous(hostnames, node: int, num_nodes: int) -> dict:
    """``nnodes``, ``node_rank`` and ``rdzv_endpoint`` of this node from a Slurm allocation
    (its expanded host list, this node's index, the node count)."""
    return {"nnodes": int(num_nodes), "node_rank": int(node),
            "rdzv_endpoint": f"{hostnames[0]}:{RDZV_PORT}" if num_nodes > 1 else ""}


@dataclass(frozen=True)
class SlurmOptions:
    """What a Slurm submission asks for, per array task (one cell)."""

    partition: str | None = None
    nodes: int = 1
    gpus_per_node: int = 8
    cpus_per_task: int | None = None
    """CPUs of the one task on each node (it runs torchrun); default 8 per GPU."""
    time_min: int = 24 * 60
    account: str | None = None
    array_parallelism: int = 16
    qos: str | None = None
    mem: str | None = None
    """Memory per node, as Slurm writes it (``"500G"``; ``"0"``: all of it)."""
    constraint: str | None = None
    exclusive: bool = False
    setup: tuple[str, ...] = ()
    """Shell lines run before the job's command (``module load ...``, ``source venv/bin/activate``)."""
    extra: tuple[tuple[str, str], ...] = ()
    """Other ``#SBATCH`` parameters, as (name, value) pairs (``("reservation", "llm")``)."""
    max_requeues: int = 3
    """Times a cell that runs out of time is requeued; :func:`requeues_needed` sets it from the
    cell's estimated hours."""

    def __post_init__(self):
        from rarescale.validation import ConfigError

        for name in ("nodes", "gpus_per_node", "time_min", "array_parallelism"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1. "
                                  f"Got {getattr(self, name)!r} instead.")
        if self.cpus_per_task is not None and (not isinstance(self.cpus_per_task, int)
                                               or self.cpus_per_task < 1):
            raise ConfigError(f"--cpus-per-task must be at least 1. Got {self.cpus_per_task!r} instead.")
        if not isinstance(self.max_requeues, int) or self.max_requeues < 0:
            raise ConfigError(f"max_requeues must be a whole number. Got {self.max_requeues!r} instead.")
        for name, value in self.extra:
            if not name or not str(name).replace("-", "").replace("_", "").isalnum():
                raise ConfigError(f"--sbatch: {name!r} is not an sbatch option name.")

    @property
    def cpus(self) -> int:
        return self.cpus_per_task or 8 * self.gpus_per_node

    def submitit_parameters(self) -> dict:
        """The options as submitit's executor parameters: one task per node (it runs torchrun,
        which starts a process per GPU) with all of the node's CPUs, also on the ``srun`` line
        (Slurm 22.05 to 23.02 do not pass ``--cpus-per-task`` from sbatch to srun); SIGUSR2 two
        minutes before the time limit, so that the cell checkpoints and submitit requeues it."""
        params = {"nodes": self.nodes, "tasks_per_node": 1, "gpus_per_node": self.gpus_per_node,
                  "cpus_per_task": self.cpus, "timeout_min": self.time_min,
                  "slurm_array_parallelism": self.array_parallelism, "slurm_signal_delay_s": 120,
                  "name": "rarescale", "slurm_srun_args": [f"--cpus-per-task={self.cpus}"]}
        optional = {"slurm_partition": self.partition, "slurm_account": self.account,
                    "slurm_qos": self.qos, "slurm_mem": self.mem,
                    "slurm_constraint": self.constraint}
        params.update({k: v for k, v in optional.items() if v})
        if self.exclusive:
            params["slurm_exclusive"] = True
        if self.setup:
            params["slurm_setup"] = list(self.setup)
        if self.extra:
            params["slurm_additional_parameters"] = dict(self.extra)
        return params


def cell_hours(config, options: SlurmOptions, gpu: str = "H100") -> float:
    """Wall hours of a GPU cell on the allocation ``options`` asks for, at the dry run's
    utilisation (:func:`rarescale.pretrain.throughput.gpu_hours`)."""
    from rarescale.pretrain import throughput

    return throughput.gpu_hours(config, gpu) / (options.nodes * options.gpus_per_node)


def requeues_needed(cell_hours: float, time_min: int, margin: float = 1.25) -> int:
    """Requeues a cell of ``cell_hours`` needs with jobs of ``time_min`` minutes: the jobs it
    takes (with a ``margin`` for start-up, evaluation and the checkpoint lost at each stop), less
    the first, and never fewer than submitit's default of 3."""
    jobs = math.ceil(margin * cell_hours * 60 / time_min) if cell_hours > 0 else 1
    return max(3, jobs)  # jobs − 1 requeues for the time, one spare for a preemption


def sbatch_script(options: SlurmOptions, folder) -> str:
    """The batch script submitit would submit for one array task, for inspection and tests."""
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(**options.submitit_parameters())
    return executor._executor._make_submission_file_text("python -m submitit.core._submit",
                                                         "%A_%a")


class CellJob(submitit.helpers.Checkpointable):
    """One cell as a submitit job: run (or resume) it, on every node of its allocation.

    Requeued on preemption or timeout with the same arguments (submitit's
    ``Checkpointable``); the cell resumes from its run's checkpoint.
    """

    def __init__(self, config: dict, key: str, work_root: str, nproc: int, threads: int,
                 keep_checkpoints: bool = False, compile_model: bool | None = None):
        self.args = dict(config=config, key=key, work_root=work_root, nproc=nproc, threads=threads,
                         keep_checkpoints=keep_checkpoints, compile_model=compile_model)

    def __call__(self) -> str:
        from rarescale.pretrain.config import RunConfig
        from runners.cells import run_cell

        a = self.args
        config = RunConfig.from_dict(a["config"])
        try:
            env = submitit.JobEnvironment()
            place = rendezvous(env.hostnames, env.node, env.num_nodes)
        except RuntimeError:  # not under a submitit job (a direct call): one node
            place = rendezvous(["localhost"], 0, 1)
        work_root = Path(a["work_root"])
        if place["node_rank"] > 0:  # the other nodes join the first one's torchrun
            work = work_root / a["key"]
            work.mkdir(parents=True, exist_ok=True)
            cmd = torchrun_command(config.to_file(work / "run.json"), work, a["nproc"],
                                   place["nnodes"], place["node_rank"], place["rdzv_endpoint"],
                                   a["key"], a["compile_model"])
            subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(a["threads"])})
            return "done"
        status, log, _ = run_cell(config, a["key"], work_root, a["threads"], a["nproc"],
                                        a["keep_checkpoints"], a["compile_model"], place)
        if status != "done":
            raise RuntimeError(f"cell {a['key']} {status}; its log: {log}")
        return status

    def checkpoint(self, *args, **kwargs):
        """On the signal before the time limit: make the run write a checkpoint at its next
        step (waiting for it, within the signal's two minutes), then requeue the same job."""
        from rarescale.pretrain.checkpoint import request_checkpoint

        request_checkpoint(Path(self.args["work_root"]) / self.args["key"], wait_s=90)
        return super().checkpoint(*args, **kwargs)


def submit(todo, work_root: Path, nproc: int, threads: int, executor: str,
           options: SlurmOptions | None = None, keep_checkpoints: bool = False,
           compile_model: bool | None = None, wait: bool = True):
    """Submit the cells ``todo`` ([(config, key)]) as one job array; wait for them if asked.

    Returns ``(job ids, failures)`` where failures are ``(key, error)``.
    """
    folder = work_root / "submitit"
    options = options or SlurmOptions()
    requeues = max([options.max_requeues] + [requeues_needed(cell_hours(c, options), options.time_min)
                                             for c, _ in todo if c.device != "cpu"])
    ex = submitit.AutoExecutor(folder=folder, cluster="slurm" if executor == "slurm" else "local",
                               slurm_max_num_timeout=requeues)
    if executor == "slurm":
        ex.update_parameters(**options.submitit_parameters())
    else:
        ex.update_parameters(timeout_min=options.time_min)
    with ex.batch():  # one job array on Slurm
        jobs = [ex.submit(CellJob(c.to_dict(), k, str(work_root), nproc, threads, keep_checkpoints,
                                  compile_model)) for c, k in todo]
    failures = []
    if wait:
        for (config, key), job in zip(todo, jobs):
            try:
                job.result()
            except Exception as exc:  # submitit re-raises the job's error, of any kind
                lines = str(exc).strip().splitlines()
                failures.append((key, lines[-1] if lines else type(exc).__name__))
    return [j.job_id for j in jobs], failures
