"""One optimizer step of a pretraining run (C16-C18): loss, optimizer, schedule, update.

The training loop and the forgetting measure (C20) take their steps through
:func:`optimizer_step`, so they share one loss scaling, one clipping and one
update rule.
"""

from __future__ import annotations

import contextlib
import math

from rarescale.olmo.config import RunConfig


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


def make_optimizer(model, config: RunConfig):
    """AdamW with β = (0.9, 0.95), weight decay on matrices only (OLMo's choice)."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    kwargs = {"foreach": True} if config.device == "cpu" else {"fused": True}
    return torch.optim.AdamW(groups, lr=config.peak_lr, betas=(0.9, 0.95), eps=1e-8, **kwargs)


def optimizer_step(net, optimizer, tokens, micro: int, clip: float, autocast,
                   world: int = 1) -> float:
    """One update from a (B, L) batch in micro-batches of ``micro``; the mean loss over all processes.

    ``net`` may be DDP-wrapped or FSDP2-sharded: gradients are synchronised on the last
    micro-batch only.
    """
    import torch

    n_micro = len(tokens) // micro
    total = 0.0
    for m in range(n_micro):
        sync = m == n_micro - 1 or world == 1
        if hasattr(net, "set_requires_gradient_sync"):  # FSDP2
            net.set_requires_gradient_sync(sync)
            no_sync = contextlib.nullcontext()
        else:
            no_sync = contextlib.nullcontext() if sync else net.no_sync()
        with no_sync, autocast:
            loss = lm_loss(net, tokens[m * micro:(m + 1) * micro]) / n_micro
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
