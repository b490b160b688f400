"""The advisor's command line: ``python -m rarescale.advisor MIXTURE.yaml [--json F] [--plot F]``.

Kept apart from :mod:`rarescale.advisor` so that the advice's code (which keys chapter 5's
cached sweeps) does not include the drawing of its figure.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from rarescale.advisor import __doc__ as ADVISOR_DOC
from rarescale.advisor import advise, format_table, load_spec
from rarescale.validation import ConfigError, writable_file


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rarescale.advisor", description=ADVISOR_DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mixture", help="a mixture spec (YAML)")
    parser.add_argument("--json", help="also write the advice as JSON to this file")
    parser.add_argument("--plot", help="also draw what each width learns to this PNG")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.mixture)
        outputs = [(o, Path(getattr(args, o))) for o in ("json", "plot") if getattr(args, o)]
        for option, path in outputs:
            writable_file(path, f"--{option}")
            if path.resolve() == Path(args.mixture).resolve():
                raise ConfigError(f"--{option} {path} is the mixture file itself; choose another file.")
        if len(outputs) == 2 and outputs[0][1].resolve() == outputs[1][1].resolve():
            raise ConfigError("--json and --plot name the same file; choose two.")
        if args.plot and Path(args.plot).suffix.lower().lstrip(".") not in _FORMATS:
            raise ConfigError(f"--plot {args.plot}: matplotlib cannot write '{Path(args.plot).suffix}' "
                              f"files; use one of {', '.join('.' + f for f in sorted(_FORMATS))}.")
        with np.errstate(all="ignore"), warnings.catch_warnings():  # a spectrum beyond float
            warnings.simplefilter("ignore", RuntimeWarning)           # range: said once, below
            advice = advise(spec)
        text = advice.to_json()
        if "NaN" in text or "Infinity" in text:  # not JSON: a spectrum beyond float range
            raise ConfigError(f"{args.mixture}: the advice is not finite (a frequency or eigenvalue "
                              "too large or too small for floating point); rescale the spectrum.")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(advice))
    try:
        _write_outputs(args, spec, text)
    except ConfigError as exc:  # a full disk, a folder gone: all outputs, or none
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _write_outputs(args, spec, text) -> None:
    """Every output written under a temporary name, then all renamed into place: all of them,
    or none (a full disk while writing the second leaves neither)."""
    import os
    import uuid

    pending, option = [], None  # (temporary, final); the output being written
    try:
        if args.plot:
            option = "--plot"
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from rarescale.book.plots import fig_learned_by_width

            fig, ax = plt.subplots(figsize=(6.4, 3.6))
            fig_learned_by_width(ax, spec.mixture, spec.names)
            final = Path(args.plot)
            final.parent.mkdir(parents=True, exist_ok=True)
            pending.append((final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"), final))
            try:
                fig.savefig(pending[-1][0], dpi=120, bbox_inches="tight",
                            format=final.suffix.lower().lstrip("."))
            finally:
                plt.close(fig)
        if args.json:
            option = "--json"
            final = Path(args.json)
            final.parent.mkdir(parents=True, exist_ok=True)
            pending.append((final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"), final))
            pending[-1][0].write_text(text)
        option = "the outputs"
        for tmp, final in pending:
            os.replace(tmp, final)
    except OSError as exc:
        raise ConfigError(f"{option}: cannot write it ({exc.strerror or exc}); nothing was written") from None
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)


_FORMATS = {"png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp"}
