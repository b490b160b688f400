"""Parameter constraints as data, checked by one function.

Every configuration error in rarescale is a :class:`ConfigError` (a
``ValueError``) whose message names the owner, the field, the accepted range
and the value received, in one line::

    LossLaw.alpha must be a float in the range (0, inf). Got -1 instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np


class ConfigError(ValueError):
    """A parameter outside its accepted range; the message names the field."""


@dataclass(frozen=True)
class Interval:
    """A numeric range; ``kind`` is ``Integral`` or ``Real``."""

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"  # "left", "right", "both" or "neither"

    def __contains__(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if not math.isfinite(value):
            return False
        lo_ok = self.left is None or (
            value >= self.left if self.closed in ("left", "both") else value > self.left
        )
        hi_ok = self.right is None or (
            value <= self.right if self.closed in ("right", "both") else value < self.right
        )
        return lo_ok and hi_ok

    def __str__(self) -> str:
        name = "an int" if self.kind is Integral else "a float"
        lo = "-inf" if self.left is None else f"{self.left:g}"
        hi = "inf" if self.right is None else f"{self.right:g}"
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{name} in the range {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: frozenset

    def __contains__(self, value) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=str))


def positive(kind=Real) -> Interval:
    return Interval(kind, 0, None, closed="neither")


def check(owner: str, name: str, value, constraint) -> None:
    """Raise :class:`ConfigError` unless ``value`` satisfies ``constraint``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value not in constraint:
        raise ConfigError(f"{owner}.{name} must be {constraint}. Got {value!r} instead.")


def check_all(owner: str, values: dict, constraints: dict) -> None:
    """Check each ``values[name]`` against ``constraints[name]``."""
    for name, constraint in constraints.items():
        check(owner, name, values[name], constraint)


def from_fields(cls, fields: dict, owner: str):
    """``cls(**fields)`` for a dataclass, with a one-line error naming an unknown field."""
    unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"{owner}: unknown field {unknown[0]!r}.")
    return cls(**fields)
