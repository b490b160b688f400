"""Delete the artifacts a full build did not read: ``make prune-artifacts``.

    python -m runners.prune --used _build/artifacts-used.txt

Kept whatever the build read: every cell of every sweep under ``runners/configs/`` (a sweep
still landing, a grid no chapter shows yet) and temporary folders a writer may still rename
into place (:func:`rarescale.store.artifacts.prune`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rarescale.sweeps.grid import sweeps_by_key
from rarescale.store.artifacts import LOG_ENV, prune


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.prune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--used", required=True, help="file listing the artifact folders a build read")
    args = parser.parse_args(argv)
    used_file = Path(args.used)
    if not used_file.is_file():
        print(f"error: {used_file} not found: run a full build with {LOG_ENV} set first", file=sys.stderr)
        return 2
    used = [line.split("\t")[0] for line in used_file.read_text().splitlines() if line.strip()]
    for path in prune(used, keep=sweeps_by_key()):
        print(f"removed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
