"""A run's checkpoints: written atomically with their SHA-256, read back whole or refused.

A checkpoint holds the weights, the optimizer, the CPU generator's state and the loop's
:class:`RunState`; a resumed run repeats the uninterrupted one exactly, as each step's batch
and injections are pure functions of (seed, step) (:mod:`rarescale.pretrain.data`). Sharded
runs write a folder of shards instead (:mod:`rarescale.pretrain.sharding`); a run resumes in
either layout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rarescale.pretrain import placement, sharding
from rarescale.store.files import file_sha256, write_atomically
from rarescale.store.locks import wait_for_lock
from rarescale.validation import ConfigError

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_REQUEST = "checkpoint-now"
"""A file in a run's work folder that asks the run to checkpoint at its next step (a cluster
job's signal before its time limit); the run removes it once the checkpoint is written."""


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

    @classmethod
    def fresh(cls, n_tasks: int) -> "RunState":
        return cls(injected=[0] * n_tasks, seen=[[] for _ in range(n_tasks)])


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


def checkpoint_requested(work_dir: Path, world: int) -> bool:
    """Whether a checkpoint was asked for (:func:`request_checkpoint`): rank 0 looks, and every
    process learns its answer, so that they all save at the same step."""
    return placement.all_agree((work_dir / CHECKPOINT_REQUEST).exists(), world)


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


def load_checked(path: Path, config, corpus: dict | None = None) -> dict:
    """A replicated checkpoint, refused in one line when it does not match its checksum, is
    unreadable, or belongs to another config or other corpus bytes."""
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
    check_config(saved, path, config, corpus)
    return saved


def check_config(saved: dict, path: Path, config, corpus: dict | None = None) -> None:
    if saved.get("config") != config.to_dict():
        raise ConfigError(f"{path.resolve()} belongs to a different run config; "
                          "delete it or use another work folder.")
    if corpus is not None and saved.get("corpus", corpus) != corpus:
        then, now = (", ".join(f"{p} {d[:12]}" for p, d in c.items()) for c in (saved["corpus"], corpus))
        raise ConfigError(f"{path.resolve()} was trained on other corpus bytes ({then}; here {now}): "
                          "resuming would mix two corpora in one run; delete it to start over.")


@contextlib.contextmanager
def owned(work_dir: Path, rank: int, wait_s: float = 60.0):
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


@dataclass
class Restored:
    """What :func:`restore` gives a run: its model, the wrapper that trains it, the optimizer,
    the loop's state, and the other layout's checkpoint to remove once the next one is written."""

    model: object
    net: object
    optimizer: object
    state: RunState
    stale: Path | None


def restore(config, work_dir: Path, build, make_optimizer, place, sharded: bool, n_tasks: int,
            corpus: dict) -> Restored:
    """The run's model, its wrapper, optimizer and state: fresh, or from the work folder's
    checkpoint in either layout, whichever this run uses now. A run started replicated resumes
    sharded and the reverse (another world size, or another GPU), as the layout depends on
    them; the other layout's file is then ``stale``, removed at the next checkpoint."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    replicated, shards = work_dir / CHECKPOINT, work_dir / sharding.SHARDED_CHECKPOINT
    model, saved = build(), None
    state = RunState.fresh(n_tasks)
    if replicated.exists() and not (sharded and shards.exists()):
        saved, found = load_checked(replicated, config, corpus), replicated
        model.load_state_dict(saved["model"])  # the whole model, before any sharding
    if sharded:  # FSDP2: each decoder layer's parameters split across the processes
        sharding.shard_model(model, place.device)
        net = model
    else:
        net = DDP(model) if place.world > 1 else model
    optimizer = make_optimizer(model)
    if saved and sharded:
        sharding.load_full_optimizer(model, optimizer, saved["model"], saved["optimizer"],
                                     build, make_optimizer)
    elif saved:
        optimizer.load_state_dict(saved["optimizer"])
    elif shards.exists():  # into shards, or into a whole model on one process or each of DDP's
        saved, found = sharding.load_sharded(work_dir, model, optimizer), shards
        check_config(saved, shards, config, corpus)
    stale = None
    if saved:
        state = RunState(**saved["state"])
        restore_rng_state(saved["rng"])
        stale = found if found != (shards if sharded else replicated) else None
        if place.is_main:
            layout = f", {'sharded' if sharded else 'replicated'} now" if stale else ""
            print(f"resuming from step {state.step} of {config.steps} ({found}{layout})", flush=True)
    return Restored(model, net, optimizer, state, stale)


def save(work_dir: Path, config, corpus: dict, restored: Restored, place, sharded: bool) -> None:
    """Write the run's checkpoint (every process calls it): rank 0 writes a replicated one, or
    each rank its shard; then the other layout's stale checkpoint is removed."""
    import torch

    extra = {"config": config.to_dict(), "corpus": corpus, "state": asdict(restored.state),
             "rng": rng_state_bytes()}
    if sharded:
        sharding.save_sharded(work_dir, restored.model, restored.optimizer, extra, place.rank)
    else:
        if place.is_main:
            whole = {**extra, "model": restored.model.state_dict(),
                     "optimizer": restored.optimizer.state_dict()}
            save_checked(work_dir / CHECKPOINT, lambda tmp: torch.save(whole, tmp))
        placement.barrier(place.world)
    stale = restored.stale
    if stale is not None and place.is_main and stale.exists():
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
