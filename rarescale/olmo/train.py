"""Section 4's pretraining run (C16-C18, C20): one readable training loop.

:func:`train` runs a :class:`~rarescale.olmo.config.RunConfig` on this CPU
(fp32) or on a GPU (bf16 autocast), in one process or data parallel under
``torchrun`` (DDP: each rank on its own GPU over nccl, or gloo on CPU; with
``shard``, FSDP2 across the ranks, :mod:`rarescale.olmo.sharding`),
checkpoints every ``checkpoint_every`` steps and resumes exactly where a killed
run stopped: the batch and the injections of a step are pure functions of
(seed, step) (:mod:`rarescale.olmo.data`), so a resumed run sees what the
uninterrupted one would have.

At log-spaced steps, and at the end, it calls the measures of
:mod:`rarescale.olmo.measures`; the update itself is
:func:`rarescale.olmo.step.optimizer_step`.

A warmup-stable-decay run with several token ``budgets`` measures each smaller
budget on a branch: where that budget's decay starts, a copy of the weights and
the optimizer trains on through the budget's last step with the learning rate
falling, is evaluated, and is dropped; the run goes on from the branch point.
So the evaluation of a budget is the one a run of that many tokens would end
with, and all budgets share one stable phase (Hägele et al. 2024).
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rarescale.files import write_atomically
from rarescale.locks import wait_for_lock
from rarescale.olmo import measures, sharding, throughput
from rarescale.olmo.config import RunConfig
from rarescale.olmo.data import open_corpus, run_tasks, schedules, training_batch
from rarescale.olmo.model import build_model
from rarescale.olmo.step import make_optimizer, optimizer_step, set_lr
from rarescale.validation import ConfigError

CHECKPOINT = "checkpoint.pt"


@dataclass
class RunState:
    """What a checkpoint restores besides the weights and the optimizer."""

    step: int = 0
    injected: list = field(default_factory=list)
    seen: list = field(default_factory=list)
    """Per task, the train instances injected so far, distinct, in order of first injection."""
    train_loss: list = field(default_factory=list)  # (step, loss) each step
    step_times: list = field(default_factory=list)
    """Seconds of each step of the run (its batch and update), in order."""
    evals: list = field(default_factory=list)
    branches: list = field(default_factory=list)
    """The evaluation at the end of each smaller token budget's decay branch, smallest first."""
    data_seconds: float = 0.0
    step_seconds: float = 0.0


def process_placement(device: str, env) -> tuple[str, str | None, int, int]:
    """(device, process-group backend, rank, world size) of this process.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) each rank trains on ``cuda:LOCAL_RANK``
    over nccl when the run's device is CUDA, on the CPU over gloo otherwise;
    alone, the backend is None and the device is the run's.
    """
    world = int(env.get("WORLD_SIZE", "1"))
    rank = int(env.get("RANK", "0"))
    if world == 1:
        return device, None, 0, 1
    if device.split(":")[0] == "cuda":
        return f"cuda:{int(env.get('LOCAL_RANK', '0'))}", "nccl", rank, world
    return device, "gloo", rank, world


def _distributed(config: RunConfig):
    """(torch device, rank, world), joining the process group under torchrun."""
    import torch
    import torch.distributed as dist

    device, backend, rank, world = process_placement(config.device, os.environ)
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if backend and not dist.is_initialized():
        dist.init_process_group(backend)
    return device, rank, world


def _load_checkpoint(path: Path, device, config: RunConfig) -> dict:
    import torch

    try:
        saved = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # truncated or not a checkpoint: torch raises many kinds
        raise ConfigError(f"{path.resolve()} is unreadable ({type(exc).__name__}); delete it to "
                          "start the run over.") from None
    _check_config(saved, path, config)
    return saved


def _check_config(saved: dict, path: Path, config: RunConfig) -> None:
    if saved.get("config") != config.to_dict():
        raise ConfigError(f"{path.resolve()} belongs to a different run config; "
                          "delete it or use another work folder.")


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="pretraining", unit="step", mininterval=1.0,
                leave=False, disable=not (enabled and sys.stderr.isatty()))


@contextlib.contextmanager
def _owned(work_dir: Path, rank: int, wait_s: float = 60.0):
    """Rank 0 holds the work folder's lock for the run; a second run there stops with an error.

    It waits up to ``wait_s`` first, the time a killed run's processes take to
    exit. Temporary checkpoint files left by a killed run are removed under the lock.
    """
    if rank != 0:
        yield
        return
    with wait_for_lock(work_dir / ".lock", wait_s) as taken:
        if not taken:
            raise ConfigError(f"{work_dir.resolve()} is in use by another run; wait for it or use "
                              "another work folder.")
        for stale in work_dir.glob(CHECKPOINT + ".tmp*"):
            stale.unlink(missing_ok=True)
        sharding.clear_stale(work_dir)
        yield


def train(config: RunConfig, work_dir, *, progress: bool = True, max_steps: int | None = None,
          compile: bool = False):
    """Run (or resume) ``config`` in ``work_dir``; return ``(result, arrays)`` for the artifact.

    ``max_steps`` stops after that many steps in all, as a kill would (tests use it).
    Returns ``None`` then, and on ranks other than 0. ``compile`` wraps the training
    forward in ``torch.compile`` (for GPUs; on this CPU it made training slower).
    """
    device, rank, world = _distributed(config)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if config.global_batch % world:
        raise ConfigError(f"RunConfig.batch {config.global_batch} must divide among {world} processes.")
    per_rank = config.global_batch // world
    micro = config.micro_batch or per_rank
    if per_rank % micro:
        raise ConfigError(f"RunConfig.micro_batch {micro} must divide the {per_rank} sequences "
                          "of each process.")
    with _owned(work_dir, rank):
        return _loop(config, work_dir, device, rank, world, micro, progress, max_steps, compile)


@dataclass
class _Stepper:
    """Takes the optimizer steps of a run: each step's batch, its learning rate, the update,
    and the count of what was injected (on the main run or on a decay branch)."""

    config: RunConfig
    net: object
    optimizer: object
    corpus: object
    plan: list
    tasks: list
    rank: int
    world: int
    micro: int
    autocast: object
    device: object

    @property
    def per_rank(self) -> int:
        return self.config.global_batch // self.world

    def __call__(self, step: int, state: RunState, seen_sets, budget: int | None = None) -> float:
        """Train on ``step``'s batch at its learning rate (of ``budget``); record it in ``state``."""
        import torch

        c = self.config
        set_lr(self.optimizer, c, step, budget)
        t0 = time.perf_counter()
        tokens, injected = training_batch(self.corpus, self.plan, self.tasks, step, c)
        local = torch.from_numpy(tokens[self.rank * self.per_rank:(self.rank + 1) * self.per_rank])
        local = local.to(self.device)
        t1 = time.perf_counter()
        loss = optimizer_step(self.net, self.optimizer, local, self.micro, c.clip, self.autocast,
                              self.world)
        seconds = time.perf_counter() - t0
        state.data_seconds += t1 - t0
        state.step_seconds += seconds
        state.step_times.append(seconds)
        state.injected = [a + len(b) for a, b in zip(state.injected, injected)]
        for seen, seen_set, idx in zip(state.seen, seen_sets, injected):
            for k in idx.tolist():
                if k not in seen_set:
                    seen_set.add(k)
                    seen.append(k)
        return loss


def _decay_branch(budget: int, state: RunState, model, take_step, evaluate):
    """Train a copy of the run from ``state.step`` to the end of a ``budget``-step budget with
    its decay, evaluate it (rank 0), and restore the run as it was. Returns the evaluation."""
    import torch

    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(take_step.optimizer.state_dict()),
             torch.get_rng_state())
    branch = RunState(injected=list(state.injected), seen=[list(s) for s in state.seen])
    seen_sets = [set(s) for s in branch.seen]
    for step in range(state.step, budget):
        take_step(step, branch, seen_sets, budget)
    found = evaluate(budget, branch)
    model.load_state_dict(saved[0])
    take_step.optimizer.load_state_dict(saved[1])
    torch.set_rng_state(saved[2])
    state.data_seconds += branch.data_seconds
    state.step_seconds += branch.step_seconds
    return found


def _replica_fits(config: RunConfig, device, rank: int) -> bool:
    """Whether DDP's full copy of the training state fits each GPU (always, on a CPU)."""
    import torch

    if device.type != "cuda":
        return True
    n = config.model.total_params(config.padded_vocab)
    fits = sharding.state_fits(n, torch.cuda.get_device_properties(device).total_memory)
    if not fits and rank == 0:
        print(f"{config.size}: {n * sharding.BYTES_PER_PARAMETER / 2 ** 30:.1f} GiB of training "
              "state does not fit one GPU beside its activations; sharding it (FSDP2)", flush=True)
    return fits


def _loop(config, work_dir, device, rank, world, micro, progress, max_steps, compile):
    """The loop of :func:`train`, in a work folder it owns."""
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    corpus = open_corpus(config)
    tasks = run_tasks(config)
    sharded = world > 1 and (config.shard or not _replica_fits(config, device, rank))

    def build():
        return build_model(config.model, config.padded_vocab, config.seq_len, config.eos,
                           config.seed).to(device)

    model = build()
    state = RunState(injected=[0] * len(tasks), seen=[[] for _ in tasks])
    checkpoint = work_dir / (sharding.SHARDED_CHECKPOINT if sharded else CHECKPOINT)
    saved = _load_checkpoint(checkpoint, device, config) if checkpoint.exists() and not sharded \
        else None
    if saved:
        model.load_state_dict(saved["model"])
    if sharded:  # FSDP2: each decoder layer's parameters split across the processes
        sharding.shard_model(model, device)
        net = model
    else:
        net = DDP(model) if world > 1 else model
    optimizer = make_optimizer(model, config)
    if saved:
        optimizer.load_state_dict(saved["optimizer"])
    elif sharded and checkpoint.exists():
        saved = sharding.load_sharded(work_dir, model, optimizer)
        _check_config(saved, checkpoint, config)
    if saved:
        state = RunState(**saved["state"])
        torch.set_rng_state(saved["rng"])
        if rank == 0:
            print(f"resuming from step {state.step} of {config.steps} ({checkpoint})", flush=True)

    def save_checkpoint():  # rank 0 writes (each rank its shard when sharded), the others wait
        extra = {"config": config.to_dict(), "state": asdict(state), "rng": torch.get_rng_state()}
        if sharded:
            sharding.save_sharded(work_dir, model, optimizer, extra, rank)
            return
        if rank == 0:
            state_now = {**extra, "model": model.state_dict(), "optimizer": optimizer.state_dict()}
            write_atomically(checkpoint, lambda tmp: torch.save(state_now, tmp))
        if world > 1:
            torch.distributed.barrier()

    if compile:
        net = torch.compile(net)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else contextlib.nullcontext())
    validation = torch.from_numpy(corpus.validation()).to(device)
    take_step = _Stepper(config, net, optimizer, corpus, schedules(config), tasks, rank, world,
                         micro, autocast, device)

    def unsharded(with_optimizer=False):
        """(model, optimizer) the measures read: the run's own, or rank 0's full copy of a sharded
        one (every process takes part in gathering it)."""
        if not sharded:
            return model, optimizer
        return sharding.full_copy(model, optimizer, build, lambda m: make_optimizer(m, config),
                                  rank, with_optimizer)

    def evaluate(step, at, full=None):
        """Every process calls it; rank 0 measures. ``full``: :func:`unsharded`'s answer, when
        already gathered (a pair on every rank, (None, None) on ranks other than 0)."""
        target = (full or unsharded())[0]
        if rank != 0:
            return {"step": step}
        return measures.evaluate(target, tasks, config, validation, step, autocast, at.seen,
                                 at.injected)

    seen_sets = [set(seen) for seen in state.seen]
    eval_steps = set(config.eval_steps())
    branches = {config.decay_start(b): b for b in config.budget_steps()[:-1]}
    stop = min(config.steps, max_steps if max_steps is not None else config.steps)
    bar = _progress(config.steps, state.step, progress and rank == 0)

    while state.step < stop:
        step = state.step
        # evaluate (rank 0), on the weights before this step's update
        if step in eval_steps and not any(e["step"] == step for e in state.evals):
            state.evals.append(evaluate(step, state))
        # a smaller token budget decays here: measure it on a branch, then go on
        if step in branches and len(state.branches) < sorted(branches).index(step) + 1:
            state.branches.append(_decay_branch(branches[step], state, model, take_step, evaluate))
            save_checkpoint()
        # one update
        loss = take_step(step, state, seen_sets)
        state.train_loss.append((step, loss))
        state.step += 1
        bar.update(1)
        if rank == 0 and bar.format_dict.get("rate"):
            tokens_per_s = bar.format_dict["rate"] * config.global_batch * config.seq_len
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_s:.0f}")
        if state.step % config.checkpoint_every == 0 or state.step == config.steps:
            save_checkpoint()
    bar.close()
    if state.step < config.steps:
        return None

    # after training: the last evaluation, forgetting and probes (rank 0), on one full copy
    full = unsharded(with_optimizer=True)
    if not any(e["step"] == config.steps for e in state.evals):
        state.evals.append(evaluate(config.steps, state, full))
    model, optimizer = full
    if rank != 0:
        return None
    own_lr = measures.last_step_lr(config)
    own = measures.forgetting_curve(model, optimizer, tasks, corpus, config, autocast, state.seen,
                                    own_lr)
    matched = own if not config.forgetting_lr else measures.forgetting_curve(
        model, optimizer, tasks, corpus, config, autocast, state.seen, config.forgetting_lr)
    probes = measures.probes(model, tasks, config, autocast)
    result, arrays = measures.run_artifact(config, tasks, state, own, matched, probes)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {**result, **throughput.run_speed(config, result["tokens_per_s"], name, world)}, arrays
