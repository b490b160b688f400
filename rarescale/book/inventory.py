"""What the book read, and whether it is still what today's code would make (the
reproducibility page).

The book records every artifact a build reads in ``_build/artifacts-read.log`` (see
:mod:`runners.book_cache`). :func:`inventory` turns that list into rows from the
artifacts' manifests: kind, key, when and with which code version it was made, its wall
time and size, the machine it came from, and whether its key matches today's code: for
the student sweeps and other light results, whether the code digest in their config is
today's digest of the module that makes them; for the pretraining runs, whether their
measures version is today's.
"""

from __future__ import annotations

import json
from pathlib import Path

from rarescale.store.artifacts import DEFAULT_ROOT, code_digest

MADE_BY = {
    "c8_width_sweep": "rarescale.book.experiments", "c8_budget_check": "rarescale.book.experiments",
    "c8_resampling": "rarescale.book.experiments", "c13_signal_sweep": "rarescale.book.experiments",
    "c14_injection": "rarescale.book.experiments", "c14_injection_trace": "rarescale.book.experiments",
    "c13_random_baseline": "rarescale.linear.stiefel", "c1_chinchilla_refit": "rarescale.scaling",
}
"""The module whose code digest keys each kind of light artifact."""


def is_current(manifest: dict) -> bool | None:
    """Whether an artifact's key matches today's code (None: the kind is not known here)."""
    kind, config = manifest.get("kind"), manifest.get("config", {})
    if kind == "olmo_run":
        from rarescale.sweeps.grid import MEASURES

        return config.get("measures") == MEASURES
    if kind in MADE_BY and "code" in config:
        return config["code"] == code_digest(MADE_BY[kind])
    return None


def read_paths(log: Path | None = None, root: Path = DEFAULT_ROOT) -> list[Path]:
    """The artifact folders a build read (from its log), or every one under ``root`` without a log."""
    if log is not None and Path(log).is_file():
        seen = {}
        for line in Path(log).read_text().splitlines():
            path = line.split("\t")[0]
            if path:
                seen[path] = True
        return [Path(p) for p in seen]
    return sorted(p.parent for p in Path(root).glob("*/*/manifest.json"))


def inventory(paths) -> list[dict]:
    """One row per artifact folder, from its manifest (a vanished folder is a row that says so)."""
    rows = []
    for path in paths:
        path = Path(path)
        manifest_file = path / "manifest.json"
        if not manifest_file.is_file():
            rows.append({"kind": path.parent.name, "key": path.name, "missing": True, "current": False})
            continue
        m = json.loads(manifest_file.read_text())
        config = m.get("config", {})
        rows.append({
            "kind": m.get("kind"), "key": m.get("key"), "missing": False,
            "created": m.get("created", ""), "code_version": m.get("code_version", ""),
            "wall_time_s": m.get("wall_time_s"),
            "bytes": sum(f.stat().st_size for f in path.iterdir() if f.is_file()),
            "current": is_current(m),
            "device": config.get("device", "cpu"),
            "machine": m.get("machine") or {},
            "libraries": m.get("libraries", {}),
            "uncommitted": m.get("uncommitted", []),
            "path": path,
        })
    return rows


def corpus_builds(rows, config_dir: Path = DEFAULT_ROOT.parent / "runners" / "configs",
                  checksums: Path = DEFAULT_ROOT.parent / "book" / "data" / "natural_corpus.json") -> list[list[str]]:
    """Which bytes of each token file the pretraining runs among ``rows`` trained on, per sweep:
    rows of sweep, token file, checksum (12 digits), the package versions ``checksums`` records
    for that build (or "not recorded"), the runs, and how each is known (recorded by the run,
    or inferred for older ones: :func:`rarescale.sweeps.grid.run_corpus`)."""
    from collections import Counter

    from rarescale.sweeps.grid import run_corpus, sweeps_by_key

    sweeps = sweeps_by_key(config_dir)
    builds = {sha: key.split(" | ")[1] for key, sha in json.loads(Path(checksums).read_text()).items()}
    count = Counter()
    for r in rows:
        if r["kind"] != "olmo_run" or r["missing"]:
            continue
        corpus, how = run_corpus(r["path"])
        if how == "synthetic":
            continue
        for sweep in sweeps.get(r["key"], ["no sweep file"]):
            for file, sha in corpus.items():
                count[sweep, file, sha, how] += 1
    return [[sweep, file, sha[:12], builds.get(sha, "not recorded"), str(n), how]
            for (sweep, file, sha, how), n in sorted(count.items())]


def made_by(rows, config_dir: Path = DEFAULT_ROOT.parent / "runners" / "configs") -> dict:
    """Per artifact key, what made it: the sweep files (under ``config_dir``) with that
    pretraining run as a cell, or the module whose code keys a light result."""
    from rarescale.sweeps.grid import sweeps_by_key

    sweeps = sweeps_by_key(config_dir)
    out = {}
    for r in rows:
        if r["kind"] == "olmo_run":
            out[r["key"]] = ", ".join(sweeps.get(r["key"], [])) or "no sweep file"
        else:
            out[r["key"]] = (MADE_BY.get(r["kind"], "").removeprefix("rarescale.")
                             or {"natural_corpus": "runners.natural_corpus"}.get(r["kind"], "its chapter"))
    return out


def unreproducible(row) -> bool:
    """Whether an artifact was made from code with uncommitted changes (a ``-dirty`` version,
    or changed files listed): its recorded commit alone does not reproduce it."""
    return (not row["missing"]) and (row["code_version"].endswith("-dirty") or bool(row.get("uncommitted")))


def pinned(names, requirements: Path) -> dict:
    """The pinned versions of ``names`` in a requirements file (``name==version`` lines)."""
    versions = {}
    for line in Path(requirements).read_text().splitlines():
        name, _, version = line.strip().partition("==")
        if version and name.lower().replace("_", "-") in {n.lower() for n in names}:
            versions[name] = version
    return versions
