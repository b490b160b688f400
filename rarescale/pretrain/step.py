"""One optimizer step of a pretraining run (C16-C18): loss, optimizer, schedule, update.

The training loop and the forgetting measure (C20) take their steps through
:func:`optimizer_step`, so they share one loss scaling, one clipping and one
update rule.
"""

from __future__ import annotations

import contextlib
import math

from rarescale.pretrain.config import RunConfig


def lm_loss(model, x):
    """Mean next-token cross-entropy of a (B, L) token batch."""
    import torch.nn.functional as F

    logits = model(input_ids=x).logits
    y = x.roll(-1, dims=1)
    y[:, -1] = -100  # no target after the last token; no slicing copy of the logits
    return F.cross_entropy(logits.view(-1, logits.shape[-1]).float(), y.view(-1))


def lr_factor(step: int, config: RunConfig, budget: int | None = None) -> float:
    """The learning rate of ``step`` as a fraction of the peak: linear warmup to 1, then
    ``config.schedule`` down to ``final_lr``.

    ``"cosine"`` decays over the whole run. ``"wsd"`` stays at 1 until the last ``decay``
    of a budget of ``budget`` steps (default: the run's), then falls linearly, reaching
    ``final_lr`` on the budget's last step. The warmup is the run's for every budget.
    """
    warm = max(1, round(config.warmup * config.steps))
    if step < warm:
        return (step + 1) / warm
    if config.schedule == "wsd":
        budget = config.steps if budget is None else budget
        start = config.decay_start(budget)
        if step < start:
            return 1.0
        return 1.0 - (1 - config.final_lr) * min(1.0, (step - start + 1) / (budget - start))
    t = (step - warm) / max(1, config.steps - warm)
    return config.final_lr + (1 - config.final_lr) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def set_lr(optimizer, config: RunConfig, step: int, budget: int | None = None) -> None:
    """Set every parameter group's learning rate for ``step`` (see :func:`lr_factor`)."""
    for group in optimizer.param_groups:
        group["lr"] = config.peak_lr * lr_factor(step, config, budget)


COMPILE_MIN_TOKENS = 2_000_000
"""A CPU run compiles its loss when it trains on at least this many tokens: compiling takes
14 s (250K) to 37 s (1M) on this 2-core CPU and then saves about a third of every step
(``benchmarks/bench_lm_step``), so it pays from a few hundred steps on."""
BF16_MIN_WIDTH = 192
"""On a CPU with AMX, bf16 autocast pays from this ``d_model`` on at any sequence length
(measured ×1.56 at 20M, 16 × 512), and ..."""
BF16_MIN_WIDTH_LONG = 96
"""... from this one with sequences of at least :data:`BF16_LONG_SEQUENCE` tokens (×1.28 at 1M,
64 × 256); below them it is slower (×0.73–0.80 at the CPU ladder's sizes, 64 tokens)."""
BF16_LONG_SEQUENCE = 256


def uses_compile(config: RunConfig, world: int, asked: bool | None = None) -> bool:
    """Whether a run compiles its loss and backward (:func:`compiled_loss`): ``asked`` if given;
    by default on a CPU process alone when the run is long enough to repay the compilation
    (:data:`COMPILE_MIN_TOKENS`), never elsewhere (untested on GPUs and under torchrun here)."""
    if asked is not None:
        return asked
    return config.device == "cpu" and world == 1 and config.tokens_with_branches >= COMPILE_MIN_TOKENS


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles, where bf16 autocast was measured to pay (:func:`uses_bf16`).
    On AVX2 bf16 products are emulated: measured 1 GFLOP/s against 128 in fp32 on a 2-core AVX2
    EPYC, where autocast would slow training a hundredfold. An AVX-512 CPU with AVX512_BF16 but
    no AMX multiplies bf16 in hardware (:func:`cpu_multiplies_bf16`; one thread, 2048 × 256 ×
    1024: about 100 GFLOP/s against 35–40 in fp32), yet autocast there is slower at the ladder's
    sizes (2 threads, batch 32 × 64: ×0.89 eager and ×0.72 compiled at 250K, ×0.78 and ×0.85 at
    1M), so it stays off (fp32)."""
    import torch

    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without the probe: assume none
        return False


def cpu_multiplies_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU multiplies bf16 in hardware: AMX tiles, or AVX512_BF16 (Linux's
    ``cpuinfo`` flags; elsewhere, AMX only)."""
    if cpu_has_amx():
        return True
    try:
        with open(cpuinfo) as f:
            return any(line.startswith("flags") and " avx512_bf16" in line for line in f)
    except OSError:
        return False


def uses_bf16(config: RunConfig, device_type: str, amx: bool | None = None) -> bool:
    """Whether the run's forward runs under bf16 autocast: always on a GPU; on a CPU with AMX
    (``amx``, default: this one's, :func:`cpu_has_amx`) where it was measured to pay
    (:data:`BF16_MIN_WIDTH`); never on a CPU without. The loss is fp32 either way."""
    if device_type == "cuda":
        return True
    if not (cpu_has_amx() if amx is None else amx):
        return False
    d = config.model.d_model
    return d >= BF16_MIN_WIDTH or (d >= BF16_MIN_WIDTH_LONG and config.seq_len >= BF16_LONG_SEQUENCE)


def autocast_for(config: RunConfig, device):
    """The autocast context of a run's forwards (:func:`uses_bf16`), or a null context."""
    import torch

    if uses_bf16(config, device.type):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compiled_loss(net):
    """:func:`lm_loss` of ``net`` as one compiled graph, forward and backward (AOTAutograd), with
    static shapes: a run's micro-batches all have one shape. The module itself is not wrapped,
    so its state dict, its checkpoints and the measures see the plain model.

    It switches the process to torch's deterministic algorithms: without them inductor's CPU
    kernels sum the embedding's gradient with atomic adds in a varying order, so that two
    compiled runs of one config (an uninterrupted one and a resumed one) part after a few steps.
    """
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)

    def loss(x):
        return lm_loss(net, x)

    return torch.compile(loss, dynamic=False)


def make_optimizer(model, config: RunConfig):
    """AdamW with β = (0.9, 0.95), weight decay on matrices only (OLMo's choice)."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    # fused on a GPU; on a CPU the per-tensor-list path, whose updates agree across sharded and
    # replicated runs (fused CPU kernels differ between them by 1e-4 in a loss after 32 steps)
    kwargs = {"foreach": True} if config.device == "cpu" else {"fused": True}
    return torch.optim.AdamW(groups, lr=config.peak_lr, betas=(0.9, 0.95), eps=1e-8, **kwargs)


def optimizer_step(net, optimizer, tokens, micro: int, clip: float, autocast,
                   world: int = 1, loss_fn=None) -> float:
    """One update from a (B, L) batch in micro-batches of ``micro``; the mean loss over all processes.

    ``net`` may be DDP-wrapped, with gradients synchronised on the last micro-batch only, or
    FSDP2-sharded, with gradients reduce-scattered after every micro-batch, so that each process
    keeps only its shard of them (never the full fp32 gradients). ``loss_fn(x)`` is the loss of
    a micro-batch (default :func:`lm_loss` of ``net``; :func:`compiled_loss` compiles it).
    """
    import torch

    n_micro = len(tokens) // micro
    total = 0.0
    for m in range(n_micro):
        sync = m == n_micro - 1 or world == 1
        if hasattr(net, "set_requires_gradient_sync"):  # FSDP2: sharded gradients, every micro-batch
            net.set_requires_gradient_sync(True)
            no_sync = contextlib.nullcontext()
        else:
            no_sync = contextlib.nullcontext() if sync else net.no_sync()
        with no_sync, autocast:
            x = tokens[m * micro:(m + 1) * micro]
            loss = (loss_fn(x) if loss_fn is not None else lm_loss(net, x)) / n_micro
        loss.backward()
        total += loss.item()
    if world > 1:
        t = torch.tensor([total], device=tokens.device)
        torch.distributed.all_reduce(t)
        total = t.item() / world
    torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total
