"""Keep the book's execution cache honest about library code and artifacts.

MyST-NB's execution cache is keyed on a notebook's code cells only, so a
change in ``rarescale/`` or in ``requirements.txt``, or in an artifact a chapter
read, would leave old outputs in the book. Before each build, ``make book`` runs
``python -m runners.book_cache``, which

- hashes the library files and compares the hash with the one recorded at the
  previous build;
- re-checks every artifact listed in ``_build/artifacts-read.log`` (each
  artifact the last builds read, with a checksum of its files, written by the
  book's Sphinx extension ``_ext/book_fixes.py``) and notices one that changed
  or vanished;

and on either clears the execution cache and Sphinx's pickled environment
(``_build/.doctrees``; without that, Sphinx would not re-read an unchanged
chapter and so would not re-execute it), so every chapter executes again.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from rarescale.store.artifacts import REPO_ROOT, artifact_digest

WATCHED = ("rarescale", "requirements.txt")
ARTIFACT_LOG = "artifacts-read.log"


def library_digest(root: Path = REPO_ROOT, watched=WATCHED) -> str:
    """SHA-256 over the paths and contents of the watched files (``*.py`` in folders)."""
    h = hashlib.sha256()
    for name in watched:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            if f.is_file():
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


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


def refresh(cache_dir: Path, digest: str, also: tuple[Path, ...] = (), stale: bool = False) -> bool:
    """Clear ``cache_dir`` (and ``also``) if built from other library code or ``stale``; True if cleared."""
    stamp = cache_dir.with_name(cache_dir.name + ".digest")
    cleared = False
    if cache_dir.exists() and (stale or not stamp.exists() or stamp.read_text().strip() != digest):
        for path in (cache_dir, *also):
            shutil.rmtree(path, ignore_errors=True)
        cleared = True
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")
    return cleared


def main(argv=None) -> int:
    """``python -m runners.book_cache [BOOK_ROOT]`` (default: this repository)."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]).resolve() if argv else REPO_ROOT
    build = root / "_build"
    log = build / ARTIFACT_LOG
    changed = changed_artifacts(log)
    if refresh(build / ".jupyter_cache", library_digest(root), also=(build / ".doctrees",),
               stale=bool(changed)):
        log.unlink(missing_ok=True)  # the chapters re-execute and record what they read afresh
        why = (f"{len(changed)} artifact(s) read by the last build changed or vanished "
               f"(first: {changed[0]})" if changed else "rarescale/ or requirements.txt changed")
        print(f"{why}: cleared {build}/.jupyter_cache, chapters re-execute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
