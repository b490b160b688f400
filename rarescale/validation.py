"""Parameter constraints as data, checked by one function.

Every configuration error in rarescale is a :class:`ConfigError` (a
``ValueError``) whose message names the owner, the field, the accepted range
and the value received, in one line::

    LossLaw.alpha must be a float in the range (0, inf). Got -1 instead.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar
from numbers import Integral, Real

import numpy as np


class ConfigError(ValueError):
    """A parameter outside its accepted range; the message names the field."""


class MissingFile(ConfigError):
    """An input file that is not there (a corpus not yet downloaded): a dry run reports it as a
    failed check and still prints the plan."""


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
        try:
            return value in self.values
        except TypeError:  # unhashable: a list or a mapping is never one of the options
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=str))


@dataclass(frozen=True)
class Boolean:
    """``True`` or ``False`` (not ``"false"``, not 0); also ``None`` where ``none``."""

    none: bool = False

    def __contains__(self, value) -> bool:
        return isinstance(value, (bool, np.bool_)) or (self.none and value is None)

    def __str__(self) -> str:
        return "a boolean (true or false)" + (" or null" if self.none else "")


@dataclass(frozen=True)
class Text:
    """A string, non-empty unless ``empty``."""

    empty: bool = False

    def __contains__(self, value) -> bool:
        return isinstance(value, str) and (self.empty or value != "")

    def __str__(self) -> str:
        return "a string" if self.empty else "a non-empty string"


@dataclass(frozen=True)
class ListOf:
    """A list (or tuple) of at least ``min_len`` items, each satisfying ``item``.

    A string is never a list here: ``sizes: 30K`` is refused, not split into characters.
    """

    item: object
    min_len: int = 1

    def __contains__(self, value) -> bool:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)) or len(value) < self.min_len:
            return False
        return all((v.item() if isinstance(v, np.generic) else v) in self.item for v in value)

    def __str__(self) -> str:
        if self.min_len == 1:
            return f"a non-empty list, each item {self.item}"
        least = f" of at least {self.min_len} items" if self.min_len else ""
        return f"a list{least}, each item {self.item}"


@dataclass(frozen=True)
class MappingOf:
    """A mapping (YAML ``{key: value}``)."""

    def __contains__(self, value) -> bool:
        return isinstance(value, dict)

    def __str__(self) -> str:
        return "a mapping of fields"


def positive(kind=Real) -> Interval:
    return Interval(kind, 0, None, closed="neither")


def check(owner: str, name: str, value, constraint) -> None:
    """Raise :class:`ConfigError` unless ``value`` satisfies ``constraint``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value not in constraint:
        raise ConfigError(f"{owner}.{name} must be {constraint}. Got {shown(value)} instead.")


def shown(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for one-line messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_all(owner: str, values: dict, constraints: dict) -> None:
    """Check each ``values[name]`` against ``constraints[name]``."""
    for name, constraint in constraints.items():
        check(owner, name, values[name], constraint)


def from_fields(cls, fields: dict, owner: str):
    """``cls(**fields)`` for a dataclass, with a one-line error naming an unknown field."""
    if not isinstance(fields, dict):
        raise ConfigError(f"{owner} must be {MappingOf()}. Got {shown(fields)} instead.")
    unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"{owner}: unknown field {unknown[0]!r}.")
    try:
        return cls(**fields)
    except TypeError as exc:  # a required field left out
        raise ConfigError(f"{owner}: {str(exc).split(') ', 1)[-1]}.") from None


def writable_dir(path, field: str):
    """``path`` as a folder this process can write in (created if missing), or a one-line error."""
    import os
    from pathlib import Path

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{field}: cannot create {path} ({exc.strerror}).") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{field}: {path} is not writable.")
    return path


def writable_file(path, field: str):
    """``path`` as a file this process can write (its folder created if missing), or a one-line error."""
    import os
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{field}: {path} is a folder, not a file.")
    writable_dir(path.parent if str(path.parent) else ".", field)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{field}: {path} is not writable.")
    return path


def read_yaml(path, what: str):
    """The data of a YAML (or JSON) file; a missing or unparsable file is a one-line error
    naming ``what`` it should have been (``"sweep file"``)."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"):
        raise ConfigError(f"{path} is UTF-16 or UTF-32 text; save the {what} as UTF-8.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                          f"{exc.start}); save the {what} as UTF-8.") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError(f"{path} holds a NUL character (line {line}); a {what} is plain text.")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise ConfigError(f"{path} nests deeper than a {what} can ({MAX_DEPTH} levels).") from None
    check_plain_data(data, str(path), what)
    return data


def check_plain_data(data, where: str, what: str) -> None:
    """Refuse parsed YAML that nests deeper than :data:`MAX_DEPTH` or holds a NUL in a string (a
    key or a value), in one line naming ``where`` (a file, a parameter) and the key path."""
    if _depth(data) > MAX_DEPTH:
        raise ConfigError(f"{where} nests deeper than a {what} can ({MAX_DEPTH} levels).")
    at = _nul_at(data)
    if at is not None:
        at = at.replace("\x00", "\\0") or "the value"
        raise ConfigError(f"{where}: {at} holds a NUL character; a {what} is plain text.")


def _nul_at(data, where: str = ""):
    """The key path of the first string (key or value) in ``data`` that holds a NUL, else None."""
    if isinstance(data, str):
        return where if "\x00" in data else None
    items = (data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list)
             else ())
    for k, v in items:
        here = f"{where}.{k}" if isinstance(data, dict) and where else (str(k) if isinstance(data, dict)
                                                                        else f"{where}[{k}]")
        if isinstance(k, str) and "\x00" in k:
            return here
        found = _nul_at(v, here)
        if found is not None:
            return found
    return None


MAX_DEPTH = 32
"""The deepest nesting of lists and mappings a YAML input may have (a sweep needs four)."""


def _depth(data, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth of lists and mappings in ``data`` (a scalar: 0), counted up to ``limit``."""
    level, todo = 0, [data]
    while level < limit:
        containers = [x for x in todo if isinstance(x, (list, dict))]
        if not containers:
            break
        level += 1
        todo = [v for c in containers for v in (c.values() if isinstance(c, dict) else c)]
    return level


def _plain_value(value):
    """A config's field value as plain data: nested configs by their own :meth:`Config.to_dict`."""
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    return value


def _default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


class Config:
    """The base of every config dataclass: :meth:`from_dict`, :meth:`to_dict`, :meth:`replace`.

    Errors are one line naming the class and the field. :meth:`to_dict` is what a config's key
    hashes: the fields in :attr:`KEYED_ALWAYS` are always written, any other field only when it
    differs from its default, so a field added later with a default keeps every key made before
    it. ``KEYED_ALWAYS = None`` writes every field.
    """

    KEYED_ALWAYS: ClassVar[frozenset | None] = None

    @classmethod
    def from_dict(cls, d, where: str | None = None):
        """Build from plain values (as :meth:`to_dict` writes them, or a YAML file holds them)."""
        where = where or cls.__name__
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise ConfigError(f"{where} must be a mapping of {cls.__name__} fields. "
                              f"Got {shown(d)} instead.")
        return from_fields(cls, cls._nested(dict(d), where), where)

    @classmethod
    def _nested(cls, d: dict, where: str) -> dict:
        """Build the nested configs of ``d`` (a subclass's hook); plain values pass through."""
        return d

    def to_dict(self) -> dict:
        """Plain values; :meth:`from_dict` inverts it."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if (self.KEYED_ALWAYS is not None and f.name not in self.KEYED_ALWAYS
                    and _same(value, _default_of(f))):
                continue
            out[f.name] = _plain_value(value)
        return out

    def replace(self, **changes):
        """A copy with ``changes``; an unknown field is a one-line error."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"{type(self).__name__}: unknown field {unknown[0]!r}.")
        return dataclasses.replace(self, **changes)


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
