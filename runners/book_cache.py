"""Keep the book's execution cache honest about what each chapter reads.

MyST-NB's execution cache is keyed on a notebook's code cells only, so a change in the
library, in a data file or sweep config a chapter reads, or in an artifact it read, would
leave old outputs in the book. Before each build, ``make book`` runs
``python -m runners.book_cache``, which

- computes, per page (``book/*.py``), a digest of what it executes and reads: the
  ``rarescale`` modules it imports and their imports' closure, the repository files named in
  those sources (data files, sweep configs, the chapters the front page's ledger recomputes),
  which of a named sweep's cells have landed, and ``requirements.txt``; a page whose digest
  changed since the last build loses its cache record and is marked for Sphinx to read again,
  so it alone re-executes;
- re-checks every artifact listed in ``_build/artifacts-read.log`` (each artifact the last
  builds read, with a checksum of its files, written by the book's Sphinx extension
  ``_ext/book_fixes.py``); one that changed or vanished clears the whole execution cache and
  Sphinx's pickled environment, so every chapter executes again.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from rarescale.store.artifacts import REPO_ROOT, artifact_digest

ARTIFACT_LOG = "artifacts-read.log"


def changed_artifacts(log: Path) -> list[str]:
    """The artifacts listed in ``log`` whose files differ from the checksum recorded there, or are gone."""
    if not log.is_file():
        return []
    recorded = {}
    for line in log.read_text().splitlines():
        path, _, digest = line.partition("\t")
        if path:
            recorded[path] = digest  # the last read of a path wins
    return [p for p, digest in recorded.items() if artifact_digest(Path(p)) != digest]


PAGE_DIGESTS = ".jupyter_cache.pages.json"
READS_CHAPTERS = ("rarescale.book.ledger", "rarescale.book.parameters")
"""Modules that read the chapters' own files (their parameters): a page importing them depends
on those chapters' inputs too."""


def _sources_named(path: Path, root: Path) -> set[Path]:
    """Repository files named by a string constant in ``path`` (``"book/data/x.csv"``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "/" in node.value \
                and "\n" not in node.value and len(node.value) < 300:
            candidate = root / node.value
            if candidate.is_file():
                found.add(candidate.resolve())
    return found


def page_inputs(page: Path, root: Path = REPO_ROOT) -> list[Path]:
    """What a page (``book/*.py``) executes and reads, as files (see the module's docstring).

    A page that is not itself a chapter of the ledger (the front page) and imports what reads
    the chapters' parameters also depends on those chapters' files and the files they name."""
    from rarescale.book.ledger import CHAPTERS
    from rarescale.store.artifacts import code_files

    package = root / "rarescale"
    modules = set()
    for node in ast.walk(ast.parse(page.read_text())):
        if isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{a.name}" for a in node.names)
    modules = sorted(m for m in modules if m == "rarescale" or m.startswith("rarescale."))
    # uncached (code_files keeps what it found per process): the sources may have changed since
    files = set(code_files.__wrapped__(*modules, package_dir=package)) if modules else set()
    inputs = {page.resolve(), *(f.resolve() for f in files)}
    for source in [page, *files]:
        inputs |= _sources_named(source, root)
    closure = {".".join(("rarescale",) + f.relative_to(package).with_suffix("").parts)
               .removesuffix(".__init__") for f in files}
    if closure & set(READS_CHAPTERS) and page.stem not in CHAPTERS:
        for chapter in CHAPTERS:
            other = root / "book" / f"{chapter}.py"
            if other.is_file():
                inputs |= {other.resolve(), *_sources_named(other, root)}
    if (root / "requirements.txt").is_file():
        inputs.add((root / "requirements.txt").resolve())
    return sorted(inputs)


def sweep_state(path: Path) -> str:
    """Which cells of a sweep file have landed (``key`` per line, landed ones only): a page that
    names the sweep and says how much of it is done re-executes when another cell lands."""
    from rarescale.sweeps.grid import Sweep, cell_key, find_run
    from rarescale.validation import ConfigError

    try:
        cells = Sweep.from_yaml(path).cells()
    except ConfigError:  # not a sweep file, or a broken one: its bytes are in the digest anyway
        return ""
    return "\n".join(sorted(cell_key(c) for c in cells if find_run(c) is not None))


def page_digest(page: Path, root: Path = REPO_ROOT) -> str:
    h = hashlib.sha256()
    sweeps = (root / "runners" / "configs").resolve()
    for f in page_inputs(page, root):
        h.update(str(f.relative_to(root.resolve())).encode() if f.is_relative_to(root.resolve())
                 else str(f).encode())
        h.update(f.read_bytes())
        if f.suffix == ".yaml" and f.parent == sweeps:
            h.update(sweep_state(f).encode())
    return h.hexdigest()


def _drop_cache_record(cache_dir: Path, page: Path) -> None:
    """Remove the execution-cache record of ``page``'s current code, and touch the page so that
    Sphinx reads it again (it re-reads a source newer than its environment)."""
    import jupytext
    from jupyter_cache import get_cache

    try:
        cache = get_cache(str(cache_dir))
        record = cache.match_cache_notebook(jupytext.read(page, fmt="py:percent"))
        cache.remove_cache(record.pk)
    except KeyError:  # nothing cached for this code
        pass
    os.utime(page)


def refresh_pages(root: Path, cache_dir: Path) -> list[str]:
    """Per page, compare its digest with the last build's; drop the cache record of each page
    whose inputs changed. Returns the pages dropped (relative paths)."""
    stamp = cache_dir.with_name(PAGE_DIGESTS)
    old = json.loads(stamp.read_text()) if stamp.is_file() else {}
    new, dropped = {}, []
    for page in sorted((root / "book").glob("*.py")):
        rel = str(page.relative_to(root))
        new[rel] = page_digest(page, root)
        if cache_dir.exists() and old.get(rel) != new[rel]:
            try:
                _drop_cache_record(cache_dir, page)
            except Exception:  # a cache this cannot read: start it over
                shutil.rmtree(cache_dir, ignore_errors=True)
            dropped.append(rel)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_name(stamp.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(new, indent=1, sort_keys=True))
    os.replace(tmp, stamp)
    return dropped


def main(argv=None) -> int:
    """``python -m runners.book_cache [BOOK_ROOT]`` (default: this repository)."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]).resolve() if argv else REPO_ROOT
    build = root / "_build"
    log = build / ARTIFACT_LOG
    changed = changed_artifacts(log)
    cache = build / ".jupyter_cache"
    if changed and cache.exists():
        for path in (cache, build / ".doctrees"):
            shutil.rmtree(path, ignore_errors=True)
        log.unlink(missing_ok=True)  # the chapters re-execute and record what they read afresh
        print(f"{len(changed)} artifact(s) read by the last build changed or vanished (first: "
              f"{changed[0]}): cleared {cache}, chapters re-execute")
    dropped = refresh_pages(root, cache)
    if dropped and not changed:
        print(f"inputs changed for {len(dropped)} page(s) ({', '.join(dropped[:6])}"
              f"{', …' if len(dropped) > 6 else ''}): cleared their cache records, they re-execute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
