"""A minimal copy of the book (intro + chapter 0) builds with -W, shows its glued numbers,
and re-executes its chapter when an artifact it read vanished or library code changed (and
only then)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, REPO


def build(book: Path, env: dict) -> str:
    """``make book``'s two steps on ``book``; returns the build log."""
    cache = subprocess.run([PYTHON, "-m", "runners.book_cache", str(book)], cwd=REPO, env=env,
                           capture_output=True, text=True, check=True)
    jb = Path(PYTHON).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(book), "-W", "--keep-going"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return cache.stdout + proc.stdout


@pytest.mark.slow
def test_minimal_book_builds_glues_and_reexecutes_on_library_change(tmp_path, subprocess_env):
    book = tmp_path / "book_copy"
    (book / "book").mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", book)
    shutil.copy(REPO / "requirements.txt", book)
    shutil.copytree(REPO / "rarescale", book / "rarescale",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/00_how_to_use\n"
        "  - file: book/references\n")  # citations resolve only with a bibliography page
    for name in ("00_how_to_use.py", "favicon.png", "references.bib", "references.md"):
        shutil.copy(REPO / "book" / name, book / "book")
    # a plain front page (the real one reads every chapter's artifacts for its claim ledger)
    (book / "book" / "intro.md").write_text("# Why larger models learn more\n\nA minimal copy of "
                                            "the book {cite:p}`huang2026larger`.\n\n"
                                            "```{tableofcontents}\n```\n")
    shutil.copytree(REPO / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**subprocess_env, "RARESCALE_ARTIFACTS": str(tmp_path / "artifacts")}
    # the chapter's committed artifact, copied to the private root it is looked for in first, so
    # that the artifact it reads (and this test deletes) is a copy, never the repository's
    kind = "c13_random_baseline"
    if (REPO / "artifacts" / kind).is_dir():
        shutil.copytree(REPO / "artifacts" / kind, tmp_path / "artifacts" / kind,
                        ignore=shutil.ignore_patterns(".*"))

    log = build(book, env)
    assert "00_how_to_use.py: Executed notebook" in log
    page = (book / "_build" / "html" / "book" / "00_how_to_use.html").read_text()
    text = re.sub(r"<[^>]+>", "", page)
    # the glued sample count and error, as computed, appear in the prose
    assert re.search(r"With 2000 random encoders per width, the largest gap between the Monte\s+"
                     r"Carlo mean and \\\(N/d\\\) is 0\.\d{4}, which is\s+\d+\.\d\d standard errors",
                     text), text[:2000]
    assert re.search(r'<img[^>]+src="[^"]+\.png"', page)  # the glued figure

    assert "Executed notebook" not in build(book, env)  # unchanged: served from the cache

    # an artifact the chapter read vanishes: the chapter executes again (and recomputes it)
    read = (book / "_build" / "artifacts-read.log").read_text().split("\t")[0]
    assert Path(read).is_relative_to(tmp_path), read  # never delete a committed artifact
    shutil.rmtree(read)
    log = build(book, env)
    assert "changed or vanished" in log and "00_how_to_use.py: Executed notebook" in log
    again = (book / "_build" / "artifacts-read.log").read_text().split("\t")[0]
    assert Path(again).name == Path(read).name and Path(again).is_dir()  # found or made anew

    with open(book / "rarescale" / "book" / "plots.py", "a") as f:  # a module the chapter imports
        f.write("\n# an edit to the library\n")
    log = build(book, env)
    assert "cleared" in log and "00_how_to_use.py: Executed notebook" in log
