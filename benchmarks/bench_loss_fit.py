"""Refits per second of chapter 1's bootstrap against a full search per refit.

    python -m benchmarks.bench_loss_fit [--refits 20]

Both sides refit the loss law to the same resamples of Hoffmann et al.'s runs (the 240 the
replication keeps): the baseline searches from the 30 best points of the initialisation grid
each time, as a single fit does; the bootstrap starts one L-BFGS run from the fit to all the
runs. The ratio is the speed-up; the largest differences in the exponents say what it costs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rarescale import scaling
from rarescale.store.artifacts import REPO_ROOT


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_loss_fit")
    parser.add_argument("--refits", type=int, default=20)
    args = parser.parse_args(argv)
    N, D, L = scaling.chinchilla_runs(REPO_ROOT / "book" / "data" / "chinchilla_svg_extracted_data.csv")
    full = scaling.fit_loss_law(N, D, L)
    rng = np.random.default_rng(0)
    resamples = [rng.integers(0, len(N), len(N)) for _ in range(args.refits)]
    results = {}
    for name, kwargs in (("full search (30 starts)", {"n_starts": 30}),
                         ("bootstrap (from the full fit)", {"n_starts": 0, "start": full})):
        start = time.perf_counter()
        results[name] = [scaling.fit_loss_law(N[i], D[i], L[i], **kwargs) for i in resamples]
        seconds = time.perf_counter() - start
        print(f"{name:32s} {args.refits / seconds:6.2f} refits/s")
        results[name + " s"] = seconds
    base, fast = results["full search (30 starts) s"], results["bootstrap (from the full fit) s"]
    a = [(x.alpha, y.alpha) for x, y in zip(*(results[k] for k in results if not k.endswith(" s")))]
    print(f"ratio: {base / fast:.1f}x faster; largest |Δα| {max(abs(x - y) for x, y in a):.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
