"""Benchmark: the default Figure-2 sweep, vectorised against a naive loop (issue: chapter 2).

Trains every (width, seed) student of the chapter's default sweep twice, with the
same steps: once as one vectorised model (`train_students` on the whole sweep),
once as a naive loop that trains each (width, seed) alone. Prints both times and
the ratio, and checks that both give the same final losses.

    .venv/bin/python -m benchmarks.bench_width_sweep [--steps 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rarescale.book import experiments
from rarescale.linear.student import train_students


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="Adam steps for both (default 1000)")
    args = parser.parse_args(argv)
    mixture, config = experiments.figure2_default()
    config = config.replace(steps=args.steps, evals=2)
    n = len(config.widths) * len(config.seeds)
    print(f"sweep: {len(config.widths)} widths x {len(config.seeds)} seeds = {n} students, "
          f"{config.steps} steps, d={mixture.d}, K={mixture.K}")

    train_students(mixture, config.replace(steps=5), progress=False)  # one-time library warm-up
    start = time.perf_counter()
    vec = train_students(mixture, config, progress=False)
    t_vec = time.perf_counter() - start
    print(f"vectorised: {t_vec:8.2f} s")

    start = time.perf_counter()
    naive = np.zeros_like(vec["task_loss"][:, -1])
    for i, w in enumerate(config.widths):
        for j, s in enumerate(config.seeds):
            one = train_students(mixture, config.replace(widths=(w,), seeds=(s,)), progress=False)
            naive[i * len(config.seeds) + j] = one["task_loss"][0, -1]
    t_naive = time.perf_counter() - start
    print(f"naive loop: {t_naive:8.2f} s")
    diff = np.abs(naive - vec["task_loss"][:, -1]).max()
    print(f"max |final per-task loss difference| = {diff:.2e}")
    print(f"speed-up (naive / vectorised): {t_naive / t_vec:.1f}x")


if __name__ == "__main__":
    main()
