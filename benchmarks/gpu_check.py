"""The GPU check (C17): does the CUDA path train, how fast, and does it agree with the CPU?

    python -m benchmarks.gpu_check [--size 60M] [--steps 300]

Two parts, about five minutes on one H100-class GPU:

1. Speed: a ``--size`` model (default 60M) trains ``--steps`` steps through
   :func:`rarescale.pretrain.train.train` in bf16 on the generated synthetic web,
   with tasks injected; prints tokens/s, model FLOPs utilisation against the
   device's bf16 peak (:mod:`rarescale.pretrain.throughput`), and peak memory.
2. Agreement: a tiny model's loss over 30 steps in fp32 on CUDA against the
   same steps on the CPU (same seed, same batches); prints the largest relative
   difference and whether it is within ``RTOL``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

RTOL = 1e-3
"""Largest relative difference of the fp32 loss curves, CUDA against CPU, over 30 steps (the
kernels differ in summation order; a mistake in the device path shows at the first steps)."""


def loss_curve(device: str, steps: int = 30, size: str = "30K", seed: int = 0) -> list[float]:
    """fp32 training losses of a ``size`` model on fixed random batches (the same on any device)."""
    import contextlib

    import torch

    from rarescale.pretrain.config import RunConfig
    from rarescale.pretrain.model import build_model
    from rarescale.pretrain.step import make_optimizer, optimizer_step

    config = RunConfig(size=size, seq_len=64, batch=16, lr=3e-3, vocab_size=512, device=device)
    model = build_model(config.model, config.padded_vocab, config.seq_len, config.eos, seed).to(device)
    optimizer = make_optimizer(model, config)
    batches = torch.randint(1, config.vocab_size, (steps, 16, 64),
                            generator=torch.Generator().manual_seed(seed))
    return [optimizer_step(model, optimizer, batches[s].to(device), 16, 1.0,
                           contextlib.nullcontext()) for s in range(steps)]


def max_relative_difference(a, b) -> float:
    return max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b))


def speed(size: str, steps: int, work: Path) -> dict:
    """Train ``size`` for ``steps`` steps in bf16 on CUDA; the run's speed and peak memory."""
    import torch

    from rarescale.pretrain.config import InjectedTask, RunConfig
    from rarescale.pretrain.tasks import TaskSpec
    from rarescale.pretrain.train import train

    tasks = (InjectedTask(TaskSpec("cmp", n_values=20, n_instances=400), 1e-3),)
    config = RunConfig(size=size, seq_len=512, batch=64, tokens=steps * 64 * 512, tasks=tasks,
                       corpus_tokens=steps * 64 * 512 + 10 ** 6, eval_points=2, forgetting_steps=0,
                       checkpoint_every=10 ** 6, device="cuda")
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result, _ = train(config, work, progress=False)
    return {**result, "wall_s": time.perf_counter() - start,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="60M")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here", file=sys.stderr)
        return 1
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("RARESCALE_DATA", str(Path(tmp) / "data"))
        r = speed(args.size, args.steps, Path(tmp) / "run")
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "unknown (device not in the table)"
    print(f"1. {args.size} ({r['non_embedding_params']:,} non-embedding parameters), bf16, "
          f"{args.steps} steps of 64 x 512 tokens:")
    print(f"   {r['tokens_per_s']:,.0f} tokens/s, model FLOPs utilisation {mfu}, "
          f"peak memory {r['peak_memory_gib']:.2f} GiB, wall {r['wall_s']:.0f} s")
    cpu, cuda = loss_curve("cpu"), loss_curve("cuda")
    worst = max_relative_difference(cuda, cpu)
    print(f"2. fp32 loss over 30 steps, CUDA against CPU: first {cuda[0]:.5f} vs {cpu[0]:.5f}, "
          f"last {cuda[-1]:.5f} vs {cpu[-1]:.5f}; largest relative difference {worst:.2e} "
          f"({'within' if worst <= RTOL else 'OUTSIDE'} rtol {RTOL:g})")
    return 0 if worst <= RTOL else 1


if __name__ == "__main__":
    sys.exit(main())
