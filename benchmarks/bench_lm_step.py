"""Benchmark: the pretraining step of :func:`rarescale.pretrain.train.train` against plain loops.

    python -m benchmarks.bench_lm_step [--size 250K] [--steps 40] [--rounds 3]

1. Tokens/s of our training step (memory-mapped corpus, injection, gradient
   clipping, schedule, bookkeeping; evaluation excluded), compiled as a ladder
   cell compiles it, against two plain loops over the same model and batch (a
   fixed random batch, forward, backward, AdamW step): eager, and with
   ``torch.compile`` of the loss. Prints each rate, ``ratio (ours / plain eager)``
   (target ≥ 1.8), ``ratio (ours / plain compiled)`` (target ≥ 0.95), the share of
   our step spent loading data and injecting (target < 3%), and our step's
   achieved GFLOP/s against this machine's fp32 and bf16 matrix-product peaks,
   measured in the same run. Rates are from median step times (each loop times its
   every step, so compilation and a step slowed by other work move neither); the
   loops alternate ``--rounds`` times.
2. Peak resident memory of a short run on a 1 GB token file against a 10 MB
   one, each in a fresh process (target: within 10%).

``--ladder 30K,250K,1M`` instead prints every loop's tokens/s for each size, eager and
compiled, fp32 and bf16, to budget a ladder of runs on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def plain_loop(size: str, batch: int, seq_len: int, vocab: int, steps: int,
               compiled: bool = False, bf16: bool = False) -> list[float]:
    """Seconds of each step of the simplest loop over the same model: no data, no injection,
    no evaluation; ``compiled``: the loss (and so its backward) through ``torch.compile``."""
    import contextlib

    import torch

    from rarescale.pretrain.model import build_model, model_size
    from rarescale.pretrain.step import lm_loss

    model = build_model(model_size(size), vocab, seq_len, eos=0, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), foreach=True)
    x = torch.randint(1, vocab, (batch, seq_len))
    if compiled:
        torch.use_deterministic_algorithms(True, warn_only=True)  # as our compiled step runs
    loss_fn = torch.compile(lambda t: lm_loss(model, t), dynamic=False) if compiled else \
        (lambda t: lm_loss(model, t))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with autocast:
            loss = loss_fn(x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    torch.use_deterministic_algorithms(False)
    return times


def matmul_peak(dtype: str, m: int = 4096, k: int = 256, n: int = 1024, repeats: int = 30) -> float:
    """GFLOP/s of a (m × k) @ (k × n) product in ``dtype`` on this machine, best of ``repeats``."""
    import torch

    dt = getattr(torch, dtype)
    a, b = torch.randn(m, k, dtype=dt), torch.randn(k, n, dtype=dt)
    for _ in range(3):
        a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * m * k * n / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_rates(size: str, batch: int, seq_len: int, steps: int, rounds: int, work: Path):
    """Tokens/s of our loop, the plain eager loop and the plain compiled loop from their median
    step times, the three alternating ``rounds`` times; and our last run's result."""
    ours, plain, plain_compiled = [], [], []
    for k in range(rounds):
        result, arrays = our_loop(size, batch, seq_len, steps, work / f"ours-{k}")
        ours += list(arrays["step_seconds"])
        plain += plain_loop(size, batch, seq_len, 4096, steps)
        plain_compiled += plain_loop(size, batch, seq_len, 4096, steps, compiled=True)
    tokens = batch * seq_len
    result = {**result, "slowest_step_s": (float(np.max(ours)), float(np.max(plain)))}
    return (tokens / np.median(ours), tokens / np.median(plain), tokens / np.median(plain_compiled),
            result)


def our_loop(size: str, batch: int, seq_len: int, steps: int, work: Path, corpus=(),
             compile: bool = True):
    """Our training loop for ``steps`` steps, compiled as a ladder cell's (which trains on
    millions of tokens) is; its ``(result, arrays)``."""
    from rarescale.pretrain.tasks import TaskSpec
    from rarescale.pretrain.config import InjectedTask, RunConfig
    from rarescale.pretrain.train import train

    tasks = tuple(InjectedTask(TaskSpec(k, n_values=20, n_instances=400, seed=i), r)
                  for i, (k, r) in enumerate([("cmp", 3e-3), ("add", 3e-3), ("cmp", 1e-4)]))
    config = RunConfig(size=size, batch=batch, seq_len=seq_len, tokens=steps * batch * seq_len,
                       tasks=tasks, eval_points=2, eval_instances=16, forgetting_steps=0,
                       checkpoint_every=10 ** 6, corpus=tuple(str(c) for c in corpus))
    return train(config, work, progress=False, compile=compile)


def rss_child(corpus: str, work: str, size: str, steps: int) -> None:
    """Run a short training on ``corpus`` and print the peak RSS (MiB) as JSON."""
    import resource

    our_loop(size, 32, 64, steps, Path(work), corpus=[corpus], compile=False)
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def write_random_corpus(path: Path, n_bytes: int, vocab: int = 4096) -> Path:
    from rarescale.pretrain.corpus import write_tokens

    rng = np.random.default_rng(0)
    n = n_bytes // 2
    chunk = 8_000_000
    return write_tokens(path, (rng.integers(0, vocab, size=min(chunk, n - i), dtype=np.uint16)
                               for i in range(0, n, chunk)), "uint16")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="250K")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32, help="sequences a step (the ladder's: 32)")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the three loops")
    parser.add_argument("--ladder", default=None, help="comma-separated sizes: tokens/s of each")
    parser.add_argument("--rss-child", nargs=2, metavar=("CORPUS", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(*args.rss_child, args.size, 20)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("RARESCALE_DATA", str(tmp / "data"))
        from rarescale.pretrain.config import RunConfig
        from rarescale.pretrain.model import model_size
        from rarescale.pretrain.throughput import model_flops_per_token

        if args.ladder:
            print(f"tokens/s by size, batch {args.batch} x {args.seq_len}, vocab 4096, {args.steps} "
                  f"steps ({os.environ.get('OMP_NUM_THREADS', 'all')} threads), median step:")
            print(f"  {'size':>6} {'non-emb':>9} {'eager':>8} {'compiled':>9} {'eager bf16':>11} "
                  f"{'compiled bf16':>14}")
            from rarescale.pretrain.step import cpu_multiplies_bf16

            variants = [(False, False), (True, False)] + ([(False, True), (True, True)]
                                                          if cpu_multiplies_bf16() else [])
            for size in args.ladder.split(","):
                rates = [args.batch * args.seq_len / np.median(
                    plain_loop(size, args.batch, args.seq_len, 4096, args.steps, c, b)[3:])
                    for c, b in variants] + [float("nan")] * (4 - len(variants))
                print(f"  {size:>6} {model_size(size).non_embedding_params():>9,} {rates[0]:>8.0f} "
                      f"{rates[1]:>9.0f} {rates[2]:>11.0f} {rates[3]:>14.0f}", flush=True)
            if not cpu_multiplies_bf16():
                print("  (bf16 columns: not measured, this CPU emulates bf16 products: neither AMX nor "
                      "AVX512_BF16)")
            return 0
        ours, plain, plain_compiled, result = median_rates(args.size, args.batch, args.seq_len,
                                                           args.steps, args.rounds, tmp / "ours")
        peaks = {dtype: matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
        flops = model_flops_per_token(RunConfig(size=args.size, seq_len=args.seq_len, vocab_size=4096))
        print(f"training step, {args.size}, batch {args.batch} x {args.seq_len}, {args.steps} steps, "
              f"{args.rounds} rounds (median step), {os.environ.get('OMP_NUM_THREADS', 'all')} threads:")
        print(f"  plain eager loop          {plain:10.0f} tokens/s")
        print(f"  plain compiled loop       {plain_compiled:10.0f} tokens/s")
        print(f"  rarescale.pretrain.train      {ours:10.0f} tokens/s (compiled: {result['compiled']}, "
              f"autocast: {result['autocast']})")
        for name, base, target in (("plain eager", plain, 1.8), ("plain compiled", plain_compiled, 0.95)):
            ratio = ours / base
            print(f"  ratio (ours / {name}) {ratio:{24 - len(name)}.3f} (target ≥ {target}: "
                  f"{'met' if ratio >= target else 'NOT met'})")
        print(f"  data + injection share of step time: {100 * result['data_share']:.2f}% (target < 3%)")
        print(f"  our step: {ours * flops / 1e9:.0f} GFLOP/s of model FLOPs; this machine's matrix-"
              f"product peak {peaks['float32']:.0f} GFLOP/s in fp32, {peaks['bfloat16']:.0f} in bf16 "
              f"({100 * ours * flops / 1e9 / peaks['float32']:.0f}% of the fp32 peak)")

        rss = {}
        for name, n_bytes in (("10 MB", 10 * 2 ** 20), ("1 GB", 2 ** 30)):
            path = write_random_corpus(tmp / f"corpus-{n_bytes}.bin", n_bytes)
            out = subprocess.run([sys.executable, "-m", "benchmarks.bench_lm_step", "--size", args.size,
                                  "--rss-child", str(path), str(tmp / f"rss-{n_bytes}")],
                                 capture_output=True, text=True, check=True,
                                 env={**os.environ, "RARESCALE_DATA": str(tmp / "data")})
            rss[name] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]
            path.unlink()
        ratio = rss["1 GB"] / rss["10 MB"]
        print("peak resident memory of a 20-step run:")
        print(f"  10 MB corpus {rss['10 MB']:8.0f} MiB")
        print(f"  1 GB corpus  {rss['1 GB']:8.0f} MiB")
        print(f"  ratio        {ratio:8.3f} (target within 10%: {'met' if abs(ratio - 1) <= 0.1 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
