"""Benchmark: the pretraining step of :func:`rarescale.olmo.train.train` against a plain loop.

    python -m benchmarks.bench_lm_step [--size 250K] [--steps 40]

1. Tokens/s of our training step (memory-mapped corpus, injection, gradient
   clipping, schedule, bookkeeping; evaluation excluded) against a plain loop
   over the same model and batch size (a fixed random batch, forward, backward,
   AdamW step), in one run; prints the ratio (target ≥ 0.97) and the share of
   our step time spent loading data and injecting (target < 3%). Both rates
   are from the median step time (each loop times its every step), so a
   step slowed by the machine's other work moves neither; the loops alternate,
   ``--rounds`` times each.
2. Peak resident memory of a short run on a 1 GB token file against a 10 MB
   one, each in a fresh process (target: within 10%).

``--ladder 30K,250K,1M,4M`` instead prints both loops' tokens/s for each size,
to budget a ladder of runs on this machine.
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


def plain_loop(size: str, batch: int, seq_len: int, vocab: int, steps: int) -> list[float]:
    """Seconds of each step of the simplest loop over the same model: no data, no injection,
    no evaluation."""
    import torch

    from rarescale.olmo.model import build_model, model_size
    from rarescale.olmo.step import lm_loss

    model = build_model(model_size(size), vocab, seq_len, eos=0, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), foreach=True)
    x = torch.randint(1, vocab, (batch, seq_len))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        lm_loss(model, x).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times


def median_rates(size: str, batch: int, seq_len: int, steps: int, rounds: int, work: Path):
    """Tokens/s of our loop and of the plain loop from their median step times, the two loops
    alternating ``rounds`` times; and our last run's result."""
    ours, plain = [], []
    for k in range(rounds):
        result, arrays = our_loop(size, batch, seq_len, steps, work / f"ours-{k}")
        ours += list(arrays["step_seconds"])
        plain += plain_loop(size, batch, seq_len, 4096, steps)
    tokens = batch * seq_len
    result = {**result, "mean_ratio": float(np.mean(plain) / np.mean(ours)),
              "slowest_step_s": (float(np.max(ours)), float(np.max(plain)))}
    return tokens / np.median(ours), tokens / np.median(plain), result


def our_loop(size: str, batch: int, seq_len: int, steps: int, work: Path, corpus=()):
    """Our training loop for ``steps`` steps; its ``(result, arrays)``."""
    from rarescale.olmo.tasks import TaskSpec
    from rarescale.olmo.config import InjectedTask, RunConfig
    from rarescale.olmo.train import train

    tasks = tuple(InjectedTask(TaskSpec(k, n_values=20, n_instances=400, seed=i), r)
                  for i, (k, r) in enumerate([("cmp", 3e-3), ("add", 3e-3), ("cmp", 1e-4)]))
    config = RunConfig(size=size, batch=batch, seq_len=seq_len, tokens=steps * batch * seq_len,
                       tasks=tasks, eval_points=2, eval_instances=16, forgetting_steps=0,
                       checkpoint_every=10 ** 6, corpus=tuple(str(c) for c in corpus))
    return train(config, work, progress=False)


def rss_child(corpus: str, work: str, size: str, steps: int) -> None:
    """Run a short training on ``corpus`` and print the peak RSS (MiB) as JSON."""
    import resource

    our_loop(size, 32, 64, steps, Path(work), corpus=[corpus])
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def write_random_corpus(path: Path, n_bytes: int, vocab: int = 4096) -> Path:
    from rarescale.olmo.corpus import write_tokens

    rng = np.random.default_rng(0)
    n = n_bytes // 2
    chunk = 8_000_000
    return write_tokens(path, (rng.integers(0, vocab, size=min(chunk, n - i), dtype=np.uint16)
                               for i in range(0, n, chunk)), "uint16")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="250K")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two loops")
    parser.add_argument("--ladder", default=None, help="comma-separated sizes: tokens/s of each")
    parser.add_argument("--rss-child", nargs=2, metavar=("CORPUS", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(*args.rss_child, args.size, 20)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("RARESCALE_DATA", str(tmp / "data"))
        if args.ladder:
            print(f"tokens/s by size, batch {args.batch} x {args.seq_len}, vocab 4096, {args.steps} steps "
                  f"({os.environ.get('OMP_NUM_THREADS', 'all')} threads):")
            print(f"  {'size':>6} {'non-emb params':>15} {'ours':>8} {'plain':>8} {'ratio':>6}")
            from rarescale.olmo.model import model_size
            for size in args.ladder.split(","):
                ours, plain, _ = median_rates(size, args.batch, args.seq_len, args.steps, 1,
                                              tmp / f"l-{size}")
                print(f"  {size:>6} {model_size(size).non_embedding_params():>15,} "
                      f"{ours:>8.0f} {plain:>8.0f} {ours / plain:>6.3f}", flush=True)
            return 0
        ours, plain, result = median_rates(args.size, args.batch, args.seq_len, args.steps,
                                           args.rounds, tmp / "ours")
        print(f"training step, {args.size}, batch {args.batch} x {args.seq_len}, {args.steps} steps, "
              f"{args.rounds} rounds (median step):")
        print(f"  plain loop           {plain:10.0f} tokens/s")
        print(f"  rarescale.olmo.train {ours:10.0f} tokens/s")
        ratio = ours / plain
        print(f"  ratio (ours / plain) {ratio:10.3f} (target ≥ 0.97: {'met' if ratio >= 0.97 else 'NOT met'})")
        print(f"  ratio of mean step times {result['mean_ratio']:6.3f} (slowest step: ours "
              f"{result['slowest_step_s'][0]:.2f} s, plain {result['slowest_step_s'][1]:.2f} s)")
        print(f"  data + injection share of step time: {100 * result['data_share']:.2f}% (target < 3%)")

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
