"""The advisor's command line: ``python -m rarescale.advisor MIXTURE.yaml [--json F] [--plot F]``.

Kept apart from :mod:`rarescale.advisor` so that the advice's code (which keys chapter 5's
cached sweeps) does not include the drawing of its figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
        for option in ("json", "plot"):
            if getattr(args, option):
                writable_file(getattr(args, option), f"--{option}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    advice = advise(spec)
    print(format_table(advice))
    if args.json:
        Path(args.json).write_text(advice.to_json())
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from rarescale.book.plots import fig_learned_by_width

        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        fig_learned_by_width(ax, spec.mixture, spec.names)
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
    return 0
