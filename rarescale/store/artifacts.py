"""Cached run results, keyed by a stable hash of their full config.

An artifact is a folder ``<root>/<kind>/<key>/`` holding

- ``result.json``  small results (numbers, lists, strings),
- ``arrays.npz``   numpy arrays,
- ``manifest.json`` the config, seed, code version, wall time, library
  versions and a SHA-256 of each file; written last.

The folder is written under a temporary name and renamed into place, so a
crash mid-write never leaves a loadable partial artifact. Replacing an existing
artifact happens under an exclusive lock on ``<kind>/.<key>.lock`` and reading
under a shared one, so a reader never sees a missing or half-swapped folder and
two writers of one key take turns. ``key`` is the first
16 hex digits of the SHA-256 of the canonical JSON of ``(kind, config)``: the
same config gives the same key whatever its key order, and any changed field
gives a new key.

Loading a missing, corrupt or config-mismatched artifact raises
:class:`ArtifactError` naming the artifact and the command that produces it.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

import rarescale
from rarescale.store.locks import exclusive, shared
from rarescale.validation import Config

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parent
DEFAULT_ROOT = REPO_ROOT / "artifacts"
ROOT_ENV = "RARESCALE_ARTIFACTS"
LOG_ENV = "RARESCALE_ARTIFACT_LOG"  # if set, every artifact read is listed in this file
DEFAULT_PRODUCE = ("make book (the chapter that reads it computes it), or "
                   "python -m runners.execute book/<chapter>.py -o out/")


class ArtifactError(RuntimeError):
    """A missing, corrupt or stale artifact; the message says how to produce it."""


def artifact_root() -> Path:
    """Where new artifacts are written: ``$RARESCALE_ARTIFACTS`` or ``artifacts/``."""
    return Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT))


def search_roots() -> list[Path]:
    """Where artifacts are looked for: the write root first, then the repository's."""
    roots = [artifact_root()]
    if DEFAULT_ROOT.resolve() != roots[0].resolve():
        roots.append(DEFAULT_ROOT)
    return roots


KEY_DIGITS = 12
"""Significant digits of a float in a key: a value computed the same way on two CPUs (AVX2 and
AVX-512 round the last bit of ``np.power`` differently) has one key, and a genuinely different
value (differing in its first 12 digits) another."""


def _plain(obj):
    """Turn a config into plain JSON types (dataclasses, tuples, numpy, paths)."""
    if isinstance(obj, Config):  # its own keyed fields (a field added later keeps old keys)
        return _plain(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        raise ArtifactError(f"config value {obj!r} is not finite and cannot be hashed")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ArtifactError(f"config value of type {type(obj).__name__} cannot be hashed: {obj!r}")


def canonical_json(obj) -> str:
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _rounded(plain):
    """Plain data with every float to :data:`KEY_DIGITS` significant digits (for keys only)."""
    if isinstance(plain, float):
        return float(f"{plain:.{KEY_DIGITS}g}")
    if isinstance(plain, dict):
        return {k: _rounded(v) for k, v in plain.items()}
    if isinstance(plain, list):
        return [_rounded(v) for v in plain]
    return plain


def config_key(kind: str, config) -> str:
    """Stable 16-hex-digit key of ``(kind, config)``, its floats to :data:`KEY_DIGITS` digits."""
    payload = canonical_json({"kind": kind, "config": _rounded(_plain(config))})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


CODE_PATHS = ("rarescale", "runners", "requirements.txt")
"""What of the repository is code: an uncommitted change there makes a result unreproducible
from its recorded commit."""
ALLOW_DIRTY_ENV = "RARESCALE_ALLOW_DIRTY"


@lru_cache(maxsize=1)
def uncommitted_code() -> tuple[str, ...]:
    """The tracked files under :data:`CODE_PATHS` with uncommitted changes, as this process
    found them when it first asked (at import: the code it loaded), else ``()``."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line[3:] for line in out.stdout.splitlines() if line.strip())


def check_recordable(root: Path | None = None) -> None:
    """Refuse, in one line, to record into the repository's own store (``artifacts/``) a result
    of code with uncommitted changes: its recorded commit would not reproduce it. Elsewhere (a
    ``$RARESCALE_ARTIFACTS`` folder, a test's), or with ``RARESCALE_ALLOW_DIRTY=1``, it is
    recorded and its manifest lists the changed files. Long runs call this before they start."""
    target = Path(root or artifact_root()).resolve()
    changed = uncommitted_code()
    if changed and target == DEFAULT_ROOT.resolve() and not os.environ.get(ALLOW_DIRTY_ENV):
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise ArtifactError(f"refusing to record a result in {DEFAULT_ROOT}: its code has uncommitted "
                            f"changes ({changed[0]}{more}); commit them, or set {ALLOW_DIRTY_ENV}=1 "
                            "to record it with the changed files listed")


uncommitted_code()  # taken now, when this process loads the code it will run


@lru_cache(maxsize=1)
def code_version() -> str:
    """``git describe --always --dirty`` of the repository, else the package version."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True,
        )
        return f"{rarescale.__version__}+g{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return rarescale.__version__


def library_versions() -> dict:
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "rarescale": rarescale.__version__}
    for name in ("scipy", "torch", "transformers", "matplotlib"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "unknown")
    return versions


def _module_file(name: str, package_dir: Path) -> Path | None:
    """The source file of module ``rarescale.a.b`` (``a/b.py`` or ``a/b/__init__.py``), or None."""
    parts = name.split(".")[1:]
    path = package_dir.joinpath(*parts)
    for candidate in (path.with_suffix(".py") if parts else None, path / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _imports(path: Path, package_dir: Path) -> set[str]:
    """Every ``rarescale`` module ``path`` imports, at any depth of its code (lazy imports too)."""
    module = ".".join(("rarescale",) + path.relative_to(package_dir).with_suffix("").parts)
    module = module.removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level − 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # a name may be a submodule
    names = {n for n in found if n == "rarescale" or n.startswith("rarescale.")}
    # importing a.b.c runs the packages above it too
    return names | {".".join(n.split(".")[:k]) for n in names for k in range(1, n.count(".") + 1)}


@lru_cache(maxsize=None)
def code_files(*modules: str, package_dir: Path = PACKAGE_DIR) -> tuple[Path, ...]:
    """The source files of ``modules`` and of every ``rarescale`` module they import, transitively."""
    seen, todo = set(), list(modules)
    while todo:
        path = _module_file(todo.pop(), package_dir)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path, package_dir))
    return tuple(sorted(seen))


def code_digest(*modules: str, package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 (12 hex digits) of all the ``rarescale`` code ``modules`` can run.

    The closure of their imports within the package is computed, not listed: put
    this digest in the config of a result those modules compute, and any edit to
    code it depends on gives the result a new key (a stale artifact is then
    missing, never silently reused).
    """
    h = hashlib.sha256()
    for path in code_files(*modules, package_dir=package_dir):
        h.update(str(path.relative_to(package_dir)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Artifact:
    """One loaded artifact."""

    kind: str
    key: str
    path: Path
    config: dict
    result: dict
    arrays: dict = field(repr=False)
    manifest: dict = field(repr=False)


def artifact_path(kind: str, config, root: Path | None = None) -> Path:
    return Path(root or artifact_root()) / kind / config_key(kind, config)


def save_artifact(kind: str, config, result: Mapping | None = None,
                  arrays: Mapping[str, np.ndarray] | None = None, *,
                  seed=None, wall_time_s: float | None = None,
                  root: Path | None = None) -> Artifact:
    """Write an artifact atomically and return it as loaded back."""
    config = _plain(config)
    key = config_key(kind, config)
    check_recordable(root)
    final = Path(root or artifact_root()) / kind / key
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        (tmp / "result.json").write_text(
            json.dumps(_plain(dict(result or {})), indent=1, sort_keys=True, allow_nan=True))
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in (arrays or {}).items()})
        (tmp / "arrays.npz").write_bytes(buf.getvalue())
        manifest = {
            "kind": kind, "key": key, "config": config, "seed": _plain(seed),
            "code_version": code_version(), "uncommitted": list(uncommitted_code()),
            "wall_time_s": wall_time_s,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "libraries": library_versions(),
            "machine": {"platform": platform.platform(), "machine": platform.machine(),
                        "cpus": os.cpu_count()},
            "sha256": {name: _sha256(tmp / name) for name in ("result.json", "arrays.npz")},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        with exclusive(_lock_path(final)):  # no reader is inside, and no other writer
            if final.exists():  # replace: move the old one aside, then swap in the new
                old = final.parent / f".old-{key}-{uuid.uuid4().hex[:8]}"
                final.rename(old)
                tmp.rename(final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with shared(_lock_path(final)):
        return _read(final, kind, config, produce=None)


def _lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


def artifact_digest(path: Path) -> str | None:
    """SHA-256 over an artifact folder's files as they are now (None if it is gone)."""
    h = hashlib.sha256()
    for name in ("manifest.json", "result.json", "arrays.npz"):
        try:
            h.update(name.encode() + _sha256(Path(path) / name).encode())
        except OSError:
            return None
    return h.hexdigest()


def _read(path: Path, kind: str, config: dict, produce: str | None) -> Artifact:
    how = f" Delete {path} and produce it again with: {produce or DEFAULT_PRODUCE}"
    name = f"artifact {kind}/{path.name} ({path})"
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        for fname, digest in manifest["sha256"].items():
            if _sha256(path / fname) != digest:
                raise ArtifactError(f"{name} is corrupt: {fname} does not match its checksum.{how}")
        result = json.loads((path / "result.json").read_text())
        with np.load(path / "arrays.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ArtifactError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"{name} is corrupt ({type(exc).__name__}: {exc}).{how}") from exc
    # compared as the key sees them: a float recomputed on another CPU may differ in its last bit
    if manifest.get("kind") != kind or _rounded(manifest.get("config")) != _rounded(config):
        raise ArtifactError(f"{name} was made from a different config than the one asked for.{how}")
    if os.environ.get(LOG_ENV):  # the book records what each build read, and its checksum
        with open(os.environ[LOG_ENV], "a") as log:
            log.write(f"{path.resolve()}\t{artifact_digest(path)}\n")
    return Artifact(kind, path.name, path, config, result, arrays, manifest)


def find_artifact(kind: str, config) -> Path | None:
    """The folder of the artifact for ``(kind, config)`` on the search roots, or None."""
    key = config_key(kind, config)
    for root in search_roots():
        path = root / kind / key
        if (path / "manifest.json").exists():
            return path
    return None


def load_artifact(kind: str, config, *, produce: str | None = None) -> Artifact:
    """Load the artifact for ``(kind, config)``; raise :class:`ArtifactError` if missing or bad.

    ``produce`` is the command that makes it; it is quoted in every error.
    """
    config = _plain(config)
    key = config_key(kind, config)
    for root in search_roots():
        with shared(_lock_path(root / kind / key)) if (root / kind).is_dir() else _no_lock():
            path = root / kind / key
            if (path / "manifest.json").exists():
                return _read(path, kind, config, produce)
    roots = ", ".join(str(r) for r in search_roots())
    how = f" Produce it with: {produce or DEFAULT_PRODUCE}"
    raise ArtifactError(f"artifact {kind}/{key} is missing (looked in {roots}).{how}")


@contextlib.contextmanager
def _no_lock():
    yield False


def cached(kind: str, config, compute: Callable[[], tuple[Mapping, Mapping]], *,
           seed=None, produce: str | None = None) -> Artifact:
    """Load ``(kind, config)`` if present, else run ``compute()`` and save it.

    ``compute`` returns ``(result, arrays)``. An artifact that exists but is
    corrupt or mismatched raises instead of being silently recomputed.
    """
    config = _plain(config)
    if find_artifact(kind, config) is not None:
        return load_artifact(kind, config, produce=produce)
    start = time.perf_counter()
    result, arrays = compute()
    return save_artifact(kind, config, result, arrays, seed=seed,
                         wall_time_s=round(time.perf_counter() - start, 3))


WRITING_FOR_S = 24 * 3600
"""A temporary artifact folder (``.tmp-*``) younger than this may be a writer's, about to be
renamed into place: pruning leaves it."""


def prune(used, root: Path | None = None, keep=(), now: float | None = None) -> list[Path]:
    """Delete the artifacts under ``root`` that are not in ``used`` (paths); return them.

    ``used`` is what a full build read (see ``make prune-artifacts``); an artifact
    keyed by an old config or old code is never read again. Kept whatever the build
    read: the keys in ``keep`` (a sweep's cells that no chapter reads yet), and
    temporary folders younger than :data:`WRITING_FOR_S` (a run still writing).
    """
    used, keep = {Path(p).resolve() for p in used}, set(keep)
    now = time.time() if now is None else now
    removed = []
    for path in sorted(Path(root or DEFAULT_ROOT).glob("*/*")):
        if not path.is_dir() or path.resolve() in used or path.name in keep:
            continue
        if path.name.startswith(".tmp-") and now - path.stat().st_mtime < WRITING_FOR_S:
            continue
        shutil.rmtree(path)
        removed.append(path)
    return removed


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rarescale.store.artifacts")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the artifacts with their creation time and wall time")
    args = parser.parse_args(argv)
    if args.command == "list":
        for m in sorted(DEFAULT_ROOT.glob("*/*/manifest.json")):
            info = json.loads(m.read_text())
            print(f"{info['kind']}/{info['key']}  {info['created']}  {info['wall_time_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
