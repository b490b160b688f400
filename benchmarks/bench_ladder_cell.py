"""Benchmark: a whole ladder cell (training and every evaluation) against the code before the
compiled step, in one run.

    python -m benchmarks.bench_ladder_cell [--size 250K] [--scale 0.25] [--baseline REF]

The cell is the CPU ladder's first of ``--size`` (``runners/configs/cpu_ladder.yaml``: 12
injected copies, 10 evaluations, two forgetting curves, probes), at ``--scale`` of its tokens
with its evaluation density kept (evaluations scaled with the tokens, at least 3), compiled
where the full cell would be. The
baseline is the repository at ``--baseline`` (default: the last commit before the compiled
step), checked out in a temporary worktree; each run is a fresh process on both cores, the two
alternating ``--rounds`` times. Prints each wall time, the ratio of the medians, and what each
spends training (tokens/s of its steps).

Both train the same cell on the same machine layout (one cell, two threads). The CPU ladder
was run two cells at a time on one thread each; ``--pairs`` also times that layout of the
baseline (two cells at once), to compare cells per hour as the ladder was scheduled.
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

REPO = Path(__file__).resolve().parents[1]
BASELINE = "28716ec"
"""The last commit of the eager step (before the loss was compiled and the measures batched)."""
RUN = """
import json, sys, time
from rarescale.pretrain.config import RunConfig
from rarescale.pretrain.train import train
config = RunConfig.from_dict(json.load(open(sys.argv[1])))
start = time.perf_counter()
kw = {"compile": True} if sys.argv[3:] == ["compile"] else {}  # as the full-length cell does
result, arrays = train(config, sys.argv[2], progress=False, **kw)
print(json.dumps({"wall_s": time.perf_counter() - start, "tokens_per_s": result["tokens_per_s"],
                  "compiled": result.get("compiled", False)}))
"""


def ladder_cell(size: str, scale: float) -> dict:
    from rarescale.sweeps.grid import Sweep

    sweep = Sweep.from_yaml(REPO / "runners/configs/cpu_ladder.yaml")
    cell = next(c for c in sweep.cells() if c.size == size)
    tokens = int(cell.tokens * scale)
    return {**cell.to_dict(), "tokens": tokens,
            "eval_points": max(3, round(cell.eval_points * scale)),
            "checkpoint_every": 10 ** 6}


def full_cell_compiles(size: str) -> bool:
    """Whether the full-length cell compiles (the reduced one may be below the threshold)."""
    from rarescale.sweeps.grid import Sweep
    from rarescale.pretrain.step import uses_compile

    sweep = Sweep.from_yaml(REPO / "runners/configs/cpu_ladder.yaml")
    return uses_compile(next(c for c in sweep.cells() if c.size == size), world=1)


def run_once(code_root: Path, config_file: Path, work: Path, threads: int, compile: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", RUN, str(config_file), str(work)]
                         + (["compile"] if compile else []), cwd=code_root,
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="250K")
    parser.add_argument("--scale", type=float, default=0.25, help="share of the cell's tokens")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the baseline code")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pairs", action="store_true",
                        help="also time the baseline two cells at a time, one thread each")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("RARESCALE_DATA", str(tmp / "data"))
        base = tmp / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.baseline],
                       cwd=REPO, check=True)
        try:
            config = ladder_cell(args.size, args.scale)
            full_compiles = full_cell_compiles(args.size)
            config_file = tmp / "cell.json"
            config_file.write_text(json.dumps(config))
            ours, theirs = [], []
            for k in range(args.rounds):
                theirs.append(run_once(base, config_file, tmp / f"base-{k}", 2))
                ours.append(run_once(REPO, config_file, tmp / f"ours-{k}", 2, compile=full_compiles))
            print(f"ladder cell {args.size} at {args.scale:g} of its tokens ({config['tokens']:,} tokens, "
                  f"{config['eval_points']} evaluations, {len(config['tasks'])} copies), one cell on "
                  f"two threads, {args.rounds} rounds (median wall time):")
            t_ours, t_base = (np.median([r["wall_s"] for r in rs]) for rs in (ours, theirs))
            for name, rs, t in (("baseline " + args.baseline, theirs, t_base), ("ours", ours, t_ours)):
                print(f"  {name:18s} {t:8.1f} s   training {np.median([r['tokens_per_s'] for r in rs]):8.0f}"
                      f" tokens/s   compiled: {rs[-1]['compiled']}")
            print(f"  ratio (baseline / ours) {t_base / t_ours:6.2f} (target ≥ 2)")
            if args.pairs:
                start = time.perf_counter()
                env_runs = [subprocess.Popen(
                    [sys.executable, "-c", RUN, str(config_file), str(tmp / f"pair-{j}")], cwd=base,
                    env={**os.environ, "PYTHONPATH": str(base), "OMP_NUM_THREADS": "1"},
                    stdout=subprocess.PIPE, text=True) for j in range(2)]
                for proc in env_runs:
                    proc.communicate()
                per_cell = (time.perf_counter() - start) / 2
                print(f"  baseline two cells at a time, one thread each: {per_cell:.1f} s a cell "
                      f"(cells per hour: baseline {3600 / per_cell:.0f}, ours {3600 / t_ours:.0f}; "
                      f"ratio {per_cell / t_ours:.2f})")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
