"""Papermill runners and sweep drivers for the book's heavy jobs.

They run in the project's environment (``make venv``); started from another Python that lacks
its packages, they say so in one line (exit code 2) instead of a traceback.
"""

import importlib.util
import sys

_NEEDED = ("numpy", "yaml", "torch", "papermill", "submitit", "transformers")
_missing = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
if _missing:
    _argv = getattr(sys, "orig_argv", [])
    _command = " ".join(_argv[_argv.index("-m") + 1:]) if "-m" in _argv else "runners.<name> ..."
    print(f"{_missing[0]} is not installed for {sys.executable}: run `make venv`, then "
          f"`.venv/bin/python -m {_command}`", file=sys.stderr)
    raise SystemExit(2)
