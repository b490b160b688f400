"""What each chapter's and runner's parameters may be, checked before a kernel starts.

A notebook's cell tagged ``parameters`` gives each parameter a default; a reader
overrides them with ``python -m runners.execute NOTEBOOK -p NAME VALUE``. Each
override is checked here against a constraint: the one listed in
:data:`CONSTRAINTS` for that notebook, else one read off the default's type (an
int default takes an int, a list of floats a non-empty list of numbers, a
boolean a boolean). Then the checks in :data:`RELATIONS` look at the parameters
together (a width must be one of the sweep's widths). A bad value is a
one-line :class:`~rarescale.validation.ConfigError` naming the notebook and the
parameter, before any computation.
"""

from __future__ import annotations

from numbers import Integral, Real

from rarescale.scaling import FITS
from rarescale.validation import (Boolean, ConfigError, Interval, ListOf, MappingOf, Options, Text,
                                  check, shown)

_INT0 = Interval(Integral, 0, None)
_INT1 = Interval(Integral, 1, None)
_POS = Interval(Real, 0, None, "neither")
_NONNEG = Interval(Real, 0, None)
_SHARE = Interval(Real, 0, 1, "neither")

_STUDENT = {  # the student sweeps of chapters 2, 3 and 5
    "K": _INT1, "m": _INT1, "a": _NONNEG, "b": _NONNEG, "d": Interval(Integral, 2, None),
    "mixture_seed": _INT0, "widths": ListOf(_INT1), "seeds": ListOf(_INT0), "steps": _INT1,
    "batch": _INT1, "lr": _POS,
}
_LEARNED = {"threshold": _SHARE}  # chapters 2 and 5: the loss below which a task is learned

CONSTRAINTS = {
    "00_how_to_use": {"d": Interval(Integral, 2, None), "widths": ListOf(_INT1), "rank": _INT1,
                      "samples": Interval(Integral, 2, None), "seed": _INT0},
    "01_phenomenology": {"fit": Options(frozenset(FITS)), "n_large": _POS,
                         "eps": _NONNEG, "eps_values": ListOf(_NONNEG),
                         "fit_points": Interval(Integral, 10, None),
                         "fit_noise": Interval(Real, 0, 1, "left"), "fit_seed": _INT0,
                         "runs_file": Text(), "exclude_highest": Interval(Integral, 0, 200),
                         "n_boot": Interval(Integral, 20, None), "boot_seed": _INT0},
    "02_utility_ranking": {**_STUDENT, **_LEARNED, "b_range": ListOf(_NONNEG, 2), "budget_factor": _INT1,
                           "budget_widths": ListOf(_INT1)},
    "03_interference": {**_STUDENT, "common_mass": Interval(Real, 0, 1, "right"),
                        "eps_fraction": _SHARE, "gradient_widths": ListOf(_INT1), "rare_task": _INT1,
                        "deltas": ListOf(_INT1), "injection_widths": ListOf(_INT1),
                        "injection_seeds": ListOf(_INT0), "trace_delta": _INT1,
                        "trace_widths": ListOf(_INT1)},
    "04_olmo_validation": {"forgetting_frequency": _POS},
    "05_sizing_and_mixtures": {**_STUDENT, **_LEARNED, "small_width": _INT1, "rare_task": _INT1,
                               "resample_frequencies": ListOf(_SHARE),
                               "resample_seeds": ListOf(_INT0)},
    "olmo_pretrain": {"config": MappingOf(), "nproc": _INT1, "compile_model": Boolean(none=True),
                      "work_dir": Text(empty=True), "artifact_root": Text(empty=True),
                      "nnodes": _INT1, "node_rank": _INT0, "rdzv_endpoint": Text(empty=True)},
}
"""Per notebook (by file stem), the constraint of each parameter not read off its default; every
name here is a parameter of the notebook's parameters cell (a test holds them to it)."""


def _fail(owner, name, message):
    raise ConfigError(f"{owner}.{name} {message}")


def _widths_fit(owner, p, names=("widths",)):
    for name in names:
        if name in p and max(p[name]) > p["d"]:
            _fail(owner, name, f"must be at most d = {p['d']}. Got {shown(p[name])} instead.")


def _mixture_fits(owner, p):
    if p["K"] * p["m"] > p["d"]:
        _fail(owner, "d", f"must be at least K·m = {p['K'] * p['m']}. Got {p['d']} instead.")


def _rare_task(owner, p):
    if p["rare_task"] > p["K"]:
        _fail(owner, "rare_task",
              f"must be one of the tasks 1 … K = {p['K']}. Got {p['rare_task']} instead.")


def _chapter0(owner, p):
    _widths_fit(owner, p)
    if p["rank"] > p["d"]:
        _fail(owner, "rank", f"must be at most d = {p['d']}. Got {p['rank']} instead.")


def _chapter3(owner, p):
    _mixture_fits(owner, p)
    _widths_fit(owner, p, ("widths", "gradient_widths", "injection_widths", "trace_widths"))
    _rare_task(owner, p)


def _chapter5(owner, p):
    _mixture_fits(owner, p)
    _widths_fit(owner, p)
    _rare_task(owner, p)
    if p["small_width"] not in p["widths"]:
        _fail(owner, "small_width", f"must be one of the sweep's widths {p['widths']}. "
                                    f"Got {p['small_width']} instead.")


def _file_in_repo(name):
    """A check that parameter ``name`` is a file under the repository."""
    def check(owner, p):
        from rarescale.store.artifacts import REPO_ROOT

        if not (REPO_ROOT / p[name]).is_file():
            _fail(owner, name, f"names no file under the repository: {p[name]}")

    return check


def _runner(owner, p):
    from rarescale.pretrain.config import RunConfig

    try:
        RunConfig.from_dict(p["config"], f"{owner}.config")
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(owner) else f"{owner}.config: {message}") from None


RELATIONS = {
    "00_how_to_use": _chapter0,
    "01_phenomenology": _file_in_repo("runs_file"),
    "02_utility_ranking": lambda owner, p: (_mixture_fits(owner, p), _widths_fit(owner, p)),
    "03_interference": _chapter3,
    "04_olmo_validation": lambda owner, p: [_file_in_repo(k)(owner, p) for k in p if k.endswith("_file")],
    "05_sizing_and_mixtures": _chapter5,
    "olmo_pretrain": _runner,
}
"""Per notebook, the checks of its parameters taken together."""


def from_default(default):
    """The constraint a parameter's default implies: its type, and a list's item type."""
    if isinstance(default, bool):
        return Boolean()
    if isinstance(default, Integral):
        return Interval(Integral, None, None)
    if isinstance(default, Real):
        return Interval(Real, None, None)
    if isinstance(default, str):
        return Text(empty=True)
    if isinstance(default, (list, tuple)):
        return ListOf(from_default(default[0]) if default else Text(empty=True), 1 if default else 0)
    if isinstance(default, dict):
        return MappingOf()
    return None


def check_parameters(notebook: str, defaults: dict, overrides: dict) -> dict:
    """The parameters of ``notebook`` (a file stem) with ``overrides`` applied, each checked.

    Raises :class:`ConfigError` naming the first bad parameter.
    """
    constraints = CONSTRAINTS.get(notebook, {})
    for name, value in overrides.items():
        constraint = constraints.get(name) or from_default(defaults.get(name))
        if constraint is not None:
            check(notebook, name, value, constraint)
    merged = {**defaults, **overrides}
    if notebook in RELATIONS and overrides:
        RELATIONS[notebook](notebook, merged)
    return merged


def cell_defaults(nb) -> dict:
    """A notebook's cell tagged ``parameters``: each name with its default (None where not a
    literal)."""
    import ast

    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ConfigError("the notebook has no cell tagged 'parameters'")
    defaults = {}
    for node in ast.parse(cells[0].source).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        for target in targets:
            for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if isinstance(t, ast.Name):
                    try:
                        defaults[t.id] = ast.literal_eval(node.value)
                    except ValueError:
                        defaults[t.id] = None
    return defaults


def notebook_defaults(path) -> dict:
    """The default parameters of a jupytext percent-format notebook file."""
    import jupytext

    return cell_defaults(jupytext.read(path, fmt="py:percent"))
