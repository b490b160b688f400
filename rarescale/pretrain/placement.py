"""Where a run's processes train: devices, ranks, the process group, and whether a full copy fits.

A CUDA device always carries its index (``torch.cuda.set_device`` refuses one without); under
``torchrun`` rank r trains on ``cuda:LOCAL_RANK`` over nccl, or on the CPU over gloo.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from rarescale.pretrain import sharding
from rarescale.validation import ConfigError

PROCESS_GROUP_TIMEOUT_S = 4 * 3600
"""How long a process waits for the others at a collective (rank 0's evaluations included)."""


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


def select_device(device):
    """``torch.cuda.set_device(device)`` for a CUDA device, refusing one without an index as
    CUDA does ("Expected a torch.device with a specified index"), so that the refusal is
    tested on a CPU too."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        if device.index is None:
            raise ConfigError(f"device {str(device)!r} has no index; use cuda:N "
                              "(rarescale.pretrain.placement.process_placement gives one)")
        torch.cuda.set_device(device)
    return device


@dataclass(frozen=True)
class Placement:
    """This process's place in a run: its device, rank and the number of processes."""

    device: object
    rank: int
    world: int

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that measures and writes the run's single files."""
        return self.rank == 0


def join(config) -> Placement:
    """This process's :class:`Placement`, joining the process group under torchrun."""
    import torch.distributed as dist

    device, backend, rank, world = process_placement(config.device, os.environ)
    device = select_device(device)
    if backend and not dist.is_initialized():
        # rank 0 alone evaluates while the others wait at a barrier: a timeout far above the
        # default 10 minutes, as a large model's evaluation and forgetting take longer
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=PROCESS_GROUP_TIMEOUT_S))
    return Placement(device, rank, world)


def device_memory(device) -> int | None:
    """Bytes of memory of a CUDA device (None on a CPU: no micro-batch limit)."""
    import torch

    return torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else None


def replica_fits(config, place: Placement) -> bool:
    """Whether DDP's full copy of the training state fits each GPU (always, on a CPU)."""
    if place.device.type != "cuda":
        return True
    n = config.model.total_params(config.padded_vocab)
    fits = sharding.state_fits(n, device_memory(place.device))
    if not fits and place.is_main:
        print(f"{config.size}: {n * sharding.BYTES_PER_PARAMETER / 2 ** 30:.1f} GiB of training "
              "state does not fit one GPU beside its activations; sharding it (FSDP2)", flush=True)
    return fits


def device_name(device) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def all_agree(flag: bool, world: int) -> bool:
    """Rank 0's ``flag`` on every process (a broadcast), so that all act on the same answer."""
    import torch

    if world == 1:
        return flag
    value = torch.tensor([float(flag)])
    if torch.distributed.get_backend() == "nccl":
        value = value.cuda()
    torch.distributed.broadcast(value, src=0)
    return bool(value.item())


def barrier(world: int) -> None:
    if world > 1:
        import torch

        torch.distributed.barrier()
