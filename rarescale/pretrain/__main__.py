"""Train one run from a YAML/JSON config: ``python -m rarescale.pretrain CONFIG WORK_DIR``.

Under ``torchrun --nproc_per_node N`` the same command trains data parallel.
The run resumes from ``WORK_DIR/checkpoint.pt`` when it exists; rank 0 writes
``WORK_DIR/result.json`` and ``WORK_DIR/arrays.npz`` at the end. A bad config
is a one-line error naming the field (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rarescale.validation import ConfigError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rarescale.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="compile the loss and backward (default: where it pays, on a CPU)")
    args = parser.parse_args(argv)
    from rarescale.pretrain.config import RunConfig
    from rarescale.pretrain.train import train

    try:
        config = RunConfig.from_file(args.config)
        out = train(config, args.work_dir, progress=not args.no_progress, max_steps=args.max_steps,
                    compile=args.compile)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if out is not None:
        result, arrays = out
        (args.work_dir / "result.json").write_text(json.dumps(result, indent=1))
        np.savez(args.work_dir / "arrays.npz", **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
