"""Run a chapter or runner (a jupytext percent-format ``.py``) through papermill.

    python -m runners.execute book/00_how_to_use.py -p widths '[4, 8, 16]' -o out/

Each ``-p NAME VALUE`` overrides one variable of the notebook's cell tagged
``parameters``; VALUE is read as YAML (``3``, ``0.5``, ``[4, 8]``, ``chinchilla``).
Every value is checked before the kernel starts (:mod:`rarescale.book.parameters`).
The notebook runs in the folder the command was run from, so relative paths in
its parameters mean what they mean there. The executed notebook is written to
``OUT/<name>.ipynb`` and any artifact the run makes lands in ``OUT/artifacts/``
(artifacts it only reads are still found in the repository's ``artifacts/``).
Bad input (a missing file, a notebook without a parameters cell, an unknown
parameter name, a value of the wrong type or range, an unwritable OUT, or a
configuration error raised by the notebook itself) is a one-line error and exit
code 2; a cell that fails otherwise is exit code 1, naming the executed notebook.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import yaml

from rarescale.store.artifacts import REPO_ROOT, ROOT_ENV
from rarescale.book.parameters import cell_defaults, check_parameters
from rarescale.validation import MAX_DEPTH, ConfigError, check_plain_data, writable_dir

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit code 2."""


def read_notebook(path: Path):
    import jupytext

    if not path.is_file():
        raise UsageError(f"notebook file not found: {path}")
    if path.suffix != ".py":
        raise UsageError(f"{path} is not a jupytext percent-format .py file")
    return jupytext.read(path, fmt="py:percent")


def parameter_defaults(nb) -> dict:
    """The cell tagged ``parameters``: each name with its default (None where not a literal)."""
    try:
        return cell_defaults(nb)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def parameter_names(nb) -> list[str]:
    """Names assigned in the cell tagged ``parameters``, in order."""
    return list(parameter_defaults(nb))


def watch_parent() -> None:
    """Exit when the process named by ``$RARESCALE_PARENT_PID`` (a sweep) is gone.

    A sweep starts each cell in its own process group and stops it when it is
    stopped; if it is killed outright, this thread ends the cell, and the kernel
    follows its parent (ipykernel's parent poller).
    """
    parent = os.environ.get("RARESCALE_PARENT_PID")
    if not parent:
        return

    def watch():
        while os.getppid() == int(parent):
            time.sleep(0.5)
        os._exit(137)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def execute(path: str | Path, parameters: dict | None = None,
            output_dir: str | Path = "out", kernel: str = "python3",
            progress_bar: bool = True) -> Path:
    """Execute ``path`` with ``parameters``; return the executed ``.ipynb``."""
    import papermill

    path = Path(path)
    parameters = dict(parameters or {})
    nb = read_notebook(path)
    defaults = parameter_defaults(nb)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise UsageError(
            f"unknown parameter {', '.join(map(repr, unknown))} for {path}; "
            f"its parameters are: {', '.join(defaults)}")
    check_parameters(path.stem, defaults, parameters)
    existing = Path(output_dir).resolve()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:  # found before the notebook runs, and before any folder is made
        raise UsageError(f"-o {output_dir}: cannot write the executed notebook there: {free // 1024:,} KiB "
                         f"free, and it needs up to {MIN_FREE_BYTES // 2 ** 20} MiB")
    output_dir = writable_dir(Path(output_dir).resolve(), "-o")
    out_nb = output_dir / (path.stem + ".ipynb")
    # The kernel inherits the environment: artifacts go to OUT/artifacts, and the
    # repository is importable even from an environment without rarescale installed.
    overrides = {ROOT_ENV: str(output_dir / "artifacts"),
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                             os.environ.get("PYTHONPATH")]))}
    previous = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    # written under a temporary name and renamed when the run ends: a reader never sees half a
    # notebook, and a write that fails (a full disk) leaves nothing
    tmp = out_nb.with_name(f".{out_nb.stem}.tmp-{os.getpid()}.ipynb")
    try:
        papermill.execute_notebook(
            nb, str(tmp), parameters=parameters, kernel_name=kernel, language="python",
            cwd=os.getcwd(), progress_bar=progress_bar,
        )
        os.replace(tmp, out_nb)
    except Exception as exc:
        if type(exc).__name__ == "PapermillExecutionError" and tmp.exists():
            os.replace(tmp, out_nb)  # the failed notebook is the record of the failure
        raise
    finally:
        tmp.unlink(missing_ok=True)
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out_nb


MIN_FREE_BYTES = 16 * 2 ** 20
"""Free space an output folder needs before a notebook runs (an executed chapter with its
figures is a few MiB)."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.execute", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", help="a chapter (book/*.py) or runner (runners/*.py)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="override a parameter; VALUE is YAML")
    parser.add_argument("-o", "--output-dir", default="out", help="where outputs go (default: out/)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    args = parser.parse_args(argv)
    watch_parent()
    try:
        params = {}
        for name, value in args.parameter:
            try:
                params[name] = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise UsageError(f"parameter {name!r}: value {value!r} is not valid YAML") from exc
            except RecursionError:
                raise UsageError(f"parameter {name!r}: its value nests deeper than a parameter "
                                 f"can ({MAX_DEPTH} levels)") from None
            check_plain_data(params[name], f"parameter {name!r}", "parameter value")
        out = execute(args.notebook, params, args.output_dir, args.kernel)
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # the output could not be written: a full disk, a read-only folder
        print(f"error: cannot write the executed notebook to {args.output_dir} "
              f"({exc.strerror or exc}); nothing was written", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a failing cell: papermill keeps the executed notebook
        if type(exc).__name__ == "PapermillExecutionError" and exc.ename == "ConfigError":
            print(f"error: {exc.evalue}", file=sys.stderr)  # bad input found by the notebook
            return EXIT_BAD_INPUT
        if type(exc).__name__ == "PapermillExecutionError":
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            print(f"error: a cell failed ({first}); see the executed notebook in "
                  f"{args.output_dir}", file=sys.stderr)
            return 1
        raise
    print(f"executed notebook: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
