"""Keep the book's execution cache honest about library changes.

MyST-NB's execution cache is keyed on a notebook's code cells only, so a
change in ``rarescale/`` or in ``requirements.txt`` would leave old outputs in
the book. Before each build, ``make book`` runs ``python -m runners.book_cache``,
which hashes those files and, when the hash differs from the one recorded at the
previous build, clears the execution cache and Sphinx's pickled environment
(``_build/.doctrees``; without that, Sphinx would not re-read an unchanged
chapter and so would not re-execute it).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
WATCHED = ("rarescale", "requirements.txt")


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


def refresh(cache_dir: Path, digest: str, also: tuple[Path, ...] = ()) -> bool:
    """Clear ``cache_dir`` (and ``also``) if built from other library code; True if cleared."""
    stamp = cache_dir.with_name(cache_dir.name + ".digest")
    cleared = False
    if cache_dir.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
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
    if refresh(build / ".jupyter_cache", library_digest(root), also=(build / ".doctrees",)):
        print(f"rarescale/ or requirements.txt changed: cleared {build}/.jupyter_cache, chapters re-execute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
