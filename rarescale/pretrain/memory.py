"""How much GPU memory a run takes, and the micro-batch that fits (C17).

Training state: 16 bytes a parameter, replicated by DDP or divided among the processes by
FSDP2 (fp32 weights, gradients and AdamW's two moments). Activations: measured per token on
HF's ``Olmo2ForCausalLM`` in bf16 autocast, forward and backward at sequence length 2048
(60M 692 KiB, 150M 940 KiB, 300M 1,520 KiB), which a two-term model matches within 1.3%,
erring high:
:data:`BYTES_PER_LAYER_WIDTH` for every decoder layer and unit of width, and
:data:`BYTES_PER_LOGIT` for every entry of the (padded) vocabulary, the logits and their
float32 loss. The micro-batch of a run that does not set one is the largest divisor of each
process's share of the batch whose activations fit beside the state in :data:`USABLE_SHARE`
of the GPU; every forward of the run uses it, in training and in every measure.
"""

from __future__ import annotations

BYTES_PER_PARAMETER = 16
"""Training state per parameter: fp32 weights, gradients and AdamW's two moments."""
BYTES_PER_LAYER_WIDTH = 84
"""Activation bytes per token per decoder layer per unit of ``d_model`` (bf16 autocast)."""
BYTES_PER_LOGIT = 4
"""Activation bytes per token per vocabulary entry (the logits and their fp32 loss)."""
USABLE_SHARE = 0.85
"""The share of a GPU's memory a run plans to use (the rest: the allocator, NCCL, buffers)."""
GPU_MEMORY = {"A100": 80e9, "H100": 80e9, "H200": 141e9, "B200": 180e9, "L40S": 48e9, "A10G": 24e9}
"""Memory of each GPU the dry run plans for, bytes (the largest variant of each)."""


def activation_bytes_per_token(config) -> float:
    """Activation memory of one token in a forward and backward pass of ``config``'s model."""
    size = config.model
    return BYTES_PER_LAYER_WIDTH * size.n_layers * size.d_model + BYTES_PER_LOGIT * config.padded_vocab


def state_bytes(config, world: int = 1, sharded: bool = False) -> float:
    """Training-state bytes on each process: all of it replicated, a ``1/world`` share sharded."""
    n = config.model.total_params(config.padded_vocab)
    return BYTES_PER_PARAMETER * n / (world if sharded else 1)


def micro_batch(config, world: int, device_memory: float | None, sharded: bool = False) -> int:
    """Sequences per forward on each process: the run's ``micro_batch``, else the largest divisor
    of its share of the batch whose activations fit beside the state (all of the share where
    there is no device memory to respect, as on a CPU). A share of which not even one sequence
    fits gives 1; :func:`fits` says whether it does."""
    per_rank = config.global_batch // world
    if config.micro_batch:
        return config.micro_batch
    if device_memory is None:
        return per_rank
    room = USABLE_SHARE * device_memory - state_bytes(config, world, sharded)
    most = int(room // (activation_bytes_per_token(config) * config.seq_len))
    return max((d for d in range(1, per_rank + 1) if per_rank % d == 0 and d <= most), default=1)


def fits(config, world: int, device_memory: float, sharded: bool = False) -> bool:
    """Whether the state and one micro-batch's activations fit ``device_memory`` bytes."""
    micro = micro_batch(config, world, device_memory, sharded)
    need = state_bytes(config, world, sharded) + micro * config.seq_len * activation_bytes_per_token(config)
    return need <= USABLE_SHARE * device_memory
