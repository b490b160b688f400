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
from rarescale.store.files import write_together
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
    """The plot and the JSON written together (:func:`~rarescale.store.files.write_together`):
    both, or neither (a full disk while writing the second leaves neither), in one line naming
    the option that could not be written."""
    outputs, fig = [], None
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        draw_features_kept(ax, spec.mixture, spec.names)
        fmt = Path(args.plot).suffix.lower().lstrip(".")
        outputs.append((Path(args.plot), lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format=fmt)))
    if args.json:
        outputs.append((Path(args.json), lambda tmp: Path(tmp).write_text(text)))
    option = {str(Path(getattr(args, o))): f"--{o}" for o in ("plot", "json") if getattr(args, o)}
    try:
        write_together(outputs)
    except OSError as exc:
        raise ConfigError(f"{option.get(exc.filename, 'the outputs')}: cannot write it "
                          f"({exc.strerror or exc}); nothing was written") from None
    finally:
        if fig is not None:
            plt.close(fig)


def draw_features_kept(ax, mixture, names=None):
    """The advisor's figure (C8): how many features of each task a width keeps, stacked; tasks
    coloured by the rank of their frequency, rarest darkest."""
    import matplotlib.pyplot as plt

    from rarescale.linear import theory

    widths = np.arange(0, sum(mixture.m) + 1)
    kept = np.array([theory.features_learned(mixture, int(n)) for n in widths])  # (W, K)
    rank = np.argsort(np.argsort(np.asarray(mixture.pi, dtype=float), kind="stable"), kind="stable")
    colours = plt.get_cmap("viridis")(0.1 + 0.8 * rank / max(mixture.K - 1, 1))
    names = names or [f"task {k + 1}" for k in range(mixture.K)]
    ax.stackplot(widths, kept.T, colors=colours, labels=names, alpha=0.9)
    ax.set_xlabel("encoder width $N$")
    ax.set_ylabel("features kept $n_k(N)$")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


_FORMATS = {"png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp"}
