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
import datetime
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rarescale.store.files import file_sha256, write_atomically
from rarescale.store.locks import wait_for_lock
from rarescale.olmo import measures, memory, sharding, throughput
from rarescale.olmo.config import RunConfig
from rarescale.olmo.data import corpus_checksums, open_corpus, run_tasks, schedules, training_batch
from rarescale.olmo.model import build_model
from rarescale.olmo.step import (autocast_for, compiled_loss, make_optimizer, optimizer_step,
                                 set_lr, uses_bf16, uses_compile)
from rarescale.validation import ConfigError, writable_dir

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

    A CUDA device always comes with its index, as ``torch.cuda.set_device`` requires: under
    ``torchrun`` (``WORLD_SIZE`` > 1) rank r trains on ``cuda:LOCAL_RANK`` over nccl; alone,
    on the run's ``cuda:N``, or on ``cuda:LOCAL_RANK`` (0 by default) for a bare ``"cuda"``.
    On the CPU the backend is gloo under torchrun and None alone.
    """
    world = int(env.get("WORLD_SIZE", "1"))
    rank = int(env.get("RANK", "0"))
    local = int(env.get("LOCAL_RANK", "0"))
    is_cuda = device.split(":")[0] == "cuda"
    if world == 1:
        return (device if not is_cuda or ":" in device else f"cuda:{local}"), None, 0, 1
    if is_cuda:
        return f"cuda:{local}", "nccl", rank, world
    return device, "gloo", rank, world


PROCESS_GROUP_TIMEOUT_S = 4 * 3600
"""How long a process waits for the others at a collective (rank 0's evaluations included)."""
CHECKPOINT_REQUEST = "checkpoint-now"
"""A file in a run's work folder that asks the run to checkpoint at its next step (a cluster
job's signal before its time limit); the run removes it once the checkpoint is written."""


def request_checkpoint(work_dir, wait_s: float = 90.0) -> bool:
    """Ask the run in ``work_dir`` to checkpoint at its next step; True once it has (within
    ``wait_s``), False if no run answered (none running, or still starting)."""
    flag = Path(work_dir) / CHECKPOINT_REQUEST
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not flag.exists():
            return True
        time.sleep(0.2)
    return False


def _checkpoint_requested(work_dir: Path, world: int) -> bool:
    """Whether a checkpoint was asked for (:func:`request_checkpoint`): rank 0 looks, and every
    process learns its answer, so that they all save at the same step."""
    import torch

    asked = (work_dir / CHECKPOINT_REQUEST).exists()
    if world > 1:
        flag = torch.tensor([float(asked)])
        if torch.distributed.get_backend() == "nccl":
            flag = flag.cuda()
        torch.distributed.broadcast(flag, src=0)
        asked = bool(flag.item())
    return asked


def select_device(device):
    """``torch.cuda.set_device(device)`` for a CUDA device, refusing one without an index as
    CUDA does ("Expected a torch.device with a specified index"), so that the refusal is
    tested on a CPU too."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        if device.index is None:
            raise ConfigError(f"device {str(device)!r} has no index; use cuda:N "
                              "(rarescale.olmo.train.process_placement gives one)")
        torch.cuda.set_device(device)
    return device


def _distributed(config: RunConfig):
    """(torch device, rank, world), joining the process group under torchrun."""
    import torch.distributed as dist

    device, backend, rank, world = process_placement(config.device, os.environ)
    device = select_device(device)
    if backend and not dist.is_initialized():
        # rank 0 alone evaluates while the others wait at a barrier: a timeout far above the
        # default 10 minutes, as a large model's evaluation and forgetting take longer
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=PROCESS_GROUP_TIMEOUT_S))
    return device, rank, world


def rng_state_bytes() -> bytes:
    """The CPU generator's state as bytes: a checkpoint's RNG state, which ``torch.load``'s
    ``map_location`` cannot move to a GPU (``torch.set_rng_state`` takes CPU bytes only)."""
    import torch

    return torch.get_rng_state().numpy().tobytes()


def restore_rng_state(saved) -> None:
    """Restore the CPU generator from :func:`rng_state_bytes` (or, from an older checkpoint, the
    state tensor, wherever ``map_location`` put it)."""
    import torch

    if isinstance(saved, torch.Tensor):
        if saved.device.type == "meta":
            raise ConfigError("the checkpoint's RNG state was loaded to the meta device and holds "
                              "no values; load it with map_location='cpu'")
        saved = saved.to("cpu", torch.uint8).numpy().tobytes()
    torch.set_rng_state(torch.frombuffer(bytearray(saved), dtype=torch.uint8))


def _digests_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_checked(path: Path, save) -> None:
    """Write a checkpoint atomically with its SHA-256 beside it (``<name>.sha256``), so that a
    resume can tell a damaged file from a whole one. The digests file lists the new digest and
    the old one while the checkpoint is swapped, then the new one alone: a kill at any point
    leaves a checkpoint whose digest is listed."""
    digests = _digests_path(path)
    old = digests.read_text().split() if digests.is_file() else []
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        save(tmp)
        new = file_sha256(tmp)
        write_atomically(digests, lambda t: Path(t).write_text("\n".join([new, *old[:1]]) + "\n"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    write_atomically(digests, lambda t: Path(t).write_text(new + "\n"))


def _load_checkpoint(path: Path, config: RunConfig, corpus: dict | None = None) -> dict:
    import torch

    digests = _digests_path(path)
    if digests.is_file() and file_sha256(path) not in digests.read_text().split():
        raise ConfigError(f"{path.resolve()} does not match its checksum ({digests.name}): the file "
                          "was damaged; delete it to start the run over.")
    try:
        # to the CPU: load_state_dict copies weights and optimizer state to their devices, and the
        # RNG state must stay a CPU byte tensor
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated or not a checkpoint: torch raises many kinds
        raise ConfigError(f"{path.resolve()} is unreadable ({type(exc).__name__}); delete it to "
                          "start the run over.") from None
    _check_config(saved, path, config, corpus)
    return saved


def _check_config(saved: dict, path: Path, config: RunConfig, corpus: dict | None = None) -> None:
    if saved.get("config") != config.to_dict():
        raise ConfigError(f"{path.resolve()} belongs to a different run config; "
                          "delete it or use another work folder.")
    if corpus is not None and saved.get("corpus", corpus) != corpus:
        then, now = (", ".join(f"{p} {d[:12]}" for p, d in c.items()) for c in (saved["corpus"], corpus))
        raise ConfigError(f"{path.resolve()} was trained on other corpus bytes ({then}; here {now}): "
                          "resuming would mix two corpora in one run; delete it to start over.")


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
        for pattern in (CHECKPOINT + ".tmp*", CHECKPOINT + ".sha256.tmp*"):
            for stale in work_dir.glob(pattern):
                stale.unlink(missing_ok=True)
        sharding.clear_stale(work_dir)
        yield


def train(config: RunConfig, work_dir, *, progress: bool = True, max_steps: int | None = None,
          compile: bool | None = None):
    """Run (or resume) ``config`` in ``work_dir``; return ``(result, arrays)`` for the artifact.

    ``max_steps`` stops after that many steps in all, as a kill would (tests use it).
    Returns ``None`` then, and on ranks other than 0. ``compile`` compiles the loss and its
    backward as one graph (:func:`~rarescale.olmo.step.compiled_loss`); by default a CPU run
    does where it pays (:func:`~rarescale.olmo.step.uses_compile`). The choice, and whether the
    forward ran in bf16 (:func:`~rarescale.olmo.step.uses_bf16`), go in the run's artifact.
    """
    device, rank, world = _distributed(config)
    work_dir = writable_dir(work_dir, "work_dir")
    if config.global_batch % world:
        raise ConfigError(f"RunConfig.batch {config.global_batch} must divide among {world} processes.")
    per_rank = config.global_batch // world
    sharded = world > 1 and (config.shard or not _replica_fits(config, device, rank))
    micro = memory.micro_batch(config, world, _device_memory(device), sharded)
    if per_rank % micro:
        raise ConfigError(f"RunConfig.micro_batch {micro} must divide the {per_rank} sequences "
                          "of each process.")
    with _owned(work_dir, rank):
        return _loop(config, work_dir, device, rank, world, micro, sharded, progress, max_steps,
                     compile)


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
    loss_fn: object = None
    """The micro-batch loss (compiled, or None: eager)."""

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
                              self.world, self.loss_fn)
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


def _restore(config, work_dir: Path, build, device, rank: int, world: int, sharded: bool,
             n_tasks: int, corpus: dict):
    """The run's model, its wrapper, optimizer and state: fresh, or from the work folder's
    checkpoint in either layout, whichever this run uses now. A run started replicated resumes
    sharded and the reverse (another world size, or another GPU), as the layout depends on
    them; the other layout's file is then ``stale``, removed at the next checkpoint."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    replicated, shards = work_dir / CHECKPOINT, work_dir / sharding.SHARDED_CHECKPOINT
    model, saved = build(), None
    state = RunState(injected=[0] * n_tasks, seen=[[] for _ in range(n_tasks)])
    if replicated.exists() and not (sharded and shards.exists()):
        saved, found = _load_checkpoint(replicated, config, corpus), replicated
        model.load_state_dict(saved["model"])  # the whole model, before any sharding
    if sharded:  # FSDP2: each decoder layer's parameters split across the processes
        sharding.shard_model(model, device)
        net = model
    else:
        net = DDP(model) if world > 1 else model
    optimizer = make_optimizer(model, config)
    if saved and sharded:
        sharding.load_full_optimizer(model, optimizer, saved["model"], saved["optimizer"],
                                     build, lambda m: make_optimizer(m, config))
    elif saved:
        optimizer.load_state_dict(saved["optimizer"])
    elif shards.exists():  # into shards, or into a whole model on one process or each of DDP's
        saved, found = sharding.load_sharded(work_dir, model, optimizer), shards
        _check_config(saved, shards, config, corpus)
    stale = None
    if saved:
        state = RunState(**saved["state"])
        restore_rng_state(saved["rng"])
        stale = found if found != (shards if sharded else replicated) else None
        if rank == 0:
            layout = f", {'sharded' if sharded else 'replicated'} now" if stale else ""
            print(f"resuming from step {state.step} of {config.steps} ({found}{layout})", flush=True)
    return model, net, optimizer, state, stale


def _remove_stale(stale: Path | None, rank: int) -> None:
    """Remove the checkpoint of the layout a resumed run left, once its new one is written."""
    import shutil

    if stale is not None and rank == 0 and stale.exists():
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def _device_memory(device) -> int | None:
    """Bytes of memory of a CUDA device (None on a CPU: no micro-batch limit)."""
    import torch

    return torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else None


def _loop(config, work_dir, device, rank, world, micro, sharded, progress, max_steps, compile):
    """The loop of :func:`train`, in a work folder it owns."""
    import torch

    corpus = open_corpus(config)
    corpus_bytes = corpus_checksums(config)  # a resumed run must train on the same bytes
    tasks = run_tasks(config)

    def build():
        return build_model(config.model, config.padded_vocab, config.seq_len, config.eos,
                           config.seed).to(device)

    model, net, optimizer, state, stale = _restore(config, work_dir, build, device, rank, world,
                                                   sharded, len(tasks), corpus_bytes)
    checkpoint = work_dir / (sharding.SHARDED_CHECKPOINT if sharded else CHECKPOINT)

    def save_checkpoint():  # rank 0 writes (each rank its shard when sharded), the others wait
        extra = {"config": config.to_dict(), "corpus": corpus_bytes, "state": asdict(state),
                 "rng": rng_state_bytes()}
        if sharded:
            sharding.save_sharded(work_dir, model, optimizer, extra, rank)
            _remove_stale(stale, rank)
            return
        if rank == 0:
            state_now = {**extra, "model": model.state_dict(), "optimizer": optimizer.state_dict()}
            save_checked(checkpoint, lambda tmp: torch.save(state_now, tmp))
        if world > 1:
            torch.distributed.barrier()
        _remove_stale(stale, rank)

    compiled = uses_compile(config, world, compile)
    loss_fn = compiled_loss(net) if compiled else None
    autocast = autocast_for(config, device)
    validation = torch.from_numpy(corpus.validation()).to(device)
    take_step = _Stepper(config, net, optimizer, corpus, schedules(config), tasks, rank, world,
                         micro, autocast, device, loss_fn)

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
                                 at.injected, micro)

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
        asked = _checkpoint_requested(work_dir, world)
        if asked or state.step % config.checkpoint_every == 0 or state.step == config.steps:
            save_checkpoint()
            if asked and rank == 0:  # answered: the job that asked may requeue now
                (work_dir / CHECKPOINT_REQUEST).unlink(missing_ok=True)
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
                                    own_lr, micro)
    matched = own if not config.forgetting_lr else measures.forgetting_curve(
        model, optimizer, tasks, corpus, config, autocast, state.seen, config.forgetting_lr, micro)
    probes = measures.probes(model, tasks, config, autocast, micro)
    result, arrays = measures.run_artifact(config, tasks, state, own, matched, probes)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result["compiled"] = compiled
    result["autocast"] = "bf16" if uses_bf16(config, device.type) else "none"
    result["micro_batch"] = micro
    result["corpus_sha256"] = corpus_bytes  # the bytes trained on, by path (see corpus_checksums)
    return {**result, **throughput.run_speed(config, result["tokens_per_s"], name, world)}, arrays
