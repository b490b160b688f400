"""Models too large for one device (C17): FSDP2 sharding, sharded checkpoints, full copies.

With ``RunConfig.shard`` a run under ``torchrun`` shards each decoder layer and
the rest of the model across its processes (``torch.distributed.fsdp.fully_shard``):
parameters, gradients and optimizer state are split, and gathered a layer at a
time for each forward and backward. On a GPU the layers compute in bf16 and
reduce gradients in fp32 (``MixedPrecisionPolicy``).

Its checkpoint is a folder written by ``torch.distributed.checkpoint`` (each
process its own shard) under a temporary name and renamed when whole, with the
run's state beside the shards. The measures, written for one process, run on
rank 0 on a full, unsharded copy of the model (:func:`full_copy`), which every
process helps to gather.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

SHARDED_CHECKPOINT = "checkpoint.dcp"
STATE_FILE = "state.pt"
BYTES_PER_PARAMETER = 16
"""Training state per parameter replicated by DDP: fp32 weights, gradients and AdamW's two
moments (activations come on top)."""
FITS_SHARE = 0.6
"""The share of a GPU's memory the replicated training state may take before a run shards."""


def state_fits(n_parameters: int, device_memory: int) -> bool:
    """Whether a replicated (DDP) model's training state fits a device of ``device_memory``
    bytes, leaving room for activations; a run that does not fit is sharded."""
    return n_parameters * BYTES_PER_PARAMETER <= FITS_SHARE * device_memory


PRECISION = ("fp32 parameters, gradients, optimizer state and gradient reductions; on a GPU, "
             "matrix products in bf16 under autocast; the loss in fp32. The same for every "
             "size, replicated (DDP) or sharded (FSDP2).")
"""One precision policy for the whole ladder: a size that shards trains with the same numerics."""


def shard_model(model, device) -> None:
    """Shard ``model`` (an ``Olmo2ForCausalLM``) in place: each decoder layer, then the root."""
    import torch
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    # the precision of every run, sharded or not (PRECISION): fp32 parameters and gradient
    # reductions; bf16 comes from the loop's autocast alone, as under DDP
    policy = MixedPrecisionPolicy(param_dtype=torch.float32, reduce_dtype=torch.float32)
    for layer in model.model.layers:
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)


def save_sharded(work_dir: Path, model, optimizer, extra: dict, rank: int) -> None:
    """Write the sharded checkpoint (every process calls it): shards to a temporary folder,
    ``extra`` (the run's state) beside them from rank 0, then the folder renamed into place."""
    import torch
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    token = [uuid.uuid4().hex[:8] if rank == 0 else None]
    dist.broadcast_object_list(token, src=0)  # one temporary name for all processes
    tmp = work_dir / f"{SHARDED_CHECKPOINT}.tmp-{token[0]}"
    model_state, optim_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optim": optim_state}, checkpoint_id=tmp)
    dist.barrier()
    if rank == 0:
        torch.save(extra, tmp / STATE_FILE)
        final, old = work_dir / SHARDED_CHECKPOINT, work_dir / f"{SHARDED_CHECKPOINT}.old-{token[0]}"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    dist.barrier()


def load_sharded(work_dir: Path, model, optimizer) -> dict:
    """Restore the shards of a sharded checkpoint into ``model`` and ``optimizer`` (every
    process calls it); return the run's state saved beside them."""
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    folder = work_dir / SHARDED_CHECKPOINT
    model_state, optim_state = get_state_dict(model, optimizer)
    loaded = {"model": model_state, "optim": optim_state}
    dcp.load(loaded, checkpoint_id=folder)
    set_state_dict(model, optimizer, model_state_dict=loaded["model"],
                   optim_state_dict=loaded["optim"])
    return torch.load(folder / STATE_FILE, weights_only=False)


def load_full_optimizer(model, optimizer, full_model: dict, full_optimizer: dict, build,
                        make_optimizer) -> None:
    """Load a replicated checkpoint's optimizer state (keyed by parameter index, whole tensors)
    into the optimizer of the sharded ``model``: through a whole copy that turns it into state
    keyed by parameter name, which each process then cuts to its shards."""
    from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_optimizer_state_dict,
                                                         set_optimizer_state_dict)

    whole = build().to("cpu")
    whole.load_state_dict(full_model)
    whole_optimizer = make_optimizer(whole)
    whole_optimizer.load_state_dict(full_optimizer)
    named = get_optimizer_state_dict(whole, whole_optimizer)
    set_optimizer_state_dict(model, optimizer, optim_state_dict=named,
                             options=StateDictOptions(full_state_dict=True))


def clear_stale(work_dir: Path) -> None:
    """Remove the temporary folders a killed run left."""
    for stale in list(work_dir.glob(f"{SHARDED_CHECKPOINT}.tmp-*")) + \
            list(work_dir.glob(f"{SHARDED_CHECKPOINT}.old-*")):
        shutil.rmtree(stale, ignore_errors=True)


def full_copy(model, optimizer, build, make_optimizer, rank: int, with_optimizer: bool = False):
    """On rank 0, an unsharded copy of a sharded model (and of its optimizer); None elsewhere.

    Every process must call it: the full weights are gathered from all shards.
    ``build()`` makes a fresh model of the same shape on the run's device.
    """
    from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                         get_optimizer_state_dict,
                                                         set_optimizer_state_dict)

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    weights = get_model_state_dict(model, options=options)
    optim = get_optimizer_state_dict(model, optimizer, options=options) if with_optimizer else None
    if rank != 0:
        return None, None
    copy = build()
    copy.load_state_dict(weights)
    copy_optimizer = None
    if with_optimizer:
        copy_optimizer = make_optimizer(copy)
        set_optimizer_state_dict(copy, copy_optimizer, optim_state_dict=optim)
    return copy, copy_optimizer
