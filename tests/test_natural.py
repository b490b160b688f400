"""The natural-text corpus (C17 on real text): extraction rules, split, reference tasks,
determinism of the build, its one-line errors, and a model that learns from it."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from rarescale.pretrain import natural
from rarescale.store.artifacts import REPO_ROOT

PAGE = """<html><head><title>T</title><script>var x = 1 + 2;</script></head><body>
<div class="related"><a href="a.html">previous page</a></div>
<div class="body"><section><h1>Sorting HOW TO<a class="headerlink" href="#s">¶</a></h1>
<p>Lists have a <code>sort()</code> method &amp; a builtin; it is stable when
a &lt; b.</p>
<div class="highlight"><pre>sorted([5, 2, 3]) + [1]</pre></div>
<h2>Key functions</h2><p>{filler}</p><ul><li>first item</li><li>second item</li></ul>
</section></div><div class="footer">Copyright notice</div></body></html>"""

RST = """.. SPDX-License-Identifier: GPL-2.0

==============
The Big Guide
==============

Overview
========

This guide is about :c:func:`kmalloc` and `the docs <https://k.org>`_ when x > 3.
Example::

    int main(void) {{ return a + 1; }}

.. code-block:: c

    skip_me();

.. note::
   Keep this admonition's prose.

Details
-------

{filler}
"""

FILLER = ("The quick brown fox compares the values and finds that the first is greater than "
          "the second, which is the usual case for this paragraph of filler text. ") * 5


def test_html_keeps_prose_and_inline_code_and_drops_code_blocks_and_navigation():
    sections = natural.html_sections(PAGE.format(filler=FILLER))
    text = "\n".join(p for s in sections for p in s)
    assert sections[0][0] == "Sorting HOW TO"  # the heading link's ¶ is navigation
    assert "Lists have a sort() method & a builtin; it is stable when a < b." in text
    assert sections[1][0] == "Key functions" and sections[1][-2:] == ["first item", "second item"]
    for dropped in ("sorted(", "previous page", "Copyright", "var x", "¶"):
        assert dropped not in text


def test_rst_keeps_prose_and_drops_literal_blocks_directives_and_comments():
    sections = natural.rst_text(RST.format(filler=FILLER))
    text = "\n".join(p for s in sections for p in s)
    assert "This guide is about kmalloc and the docs when x > 3. Example:" in text
    assert "Keep this admonition's prose." in text
    for dropped in ("int main", "skip_me", "SPDX", "====", "https://k.org"):
        assert dropped not in text
    # titles of the first two adornment styles (overlined =, underlined =) start sections,
    # the third (underlined -) does not
    assert [s[0] for s in sections] == ["The Big Guide", "Overview"]
    assert "Details" in sections[1]


def test_short_sections_join_the_next_and_nothing_is_lost():
    sections = [["a" * 100], ["b" * 600], ["c" * 50]]
    docs = natural.documents_of(sections)
    assert docs == ["a" * 100 + "\n\n" + "b" * 600 + "\n\n" + "c" * 50]
    docs = natural.documents_of([["a" * 600], ["b" * 600]])
    assert docs == ["a" * 600, "b" * 600]


def test_split_deduplicates_and_a_documents_side_depends_on_it_alone():
    docs = [f"document number {i} " * 20 for i in range(2000)]
    train, valid, dup = natural.split_documents(docs + [docs[3].upper(), "  " + docs[5]])
    assert dup == 2 and len(train) + len(valid) == 2000
    assert 0.01 < len(valid) / 2000 < 0.03  # VALIDATION_SHARE = 0.02, by hash
    shuffled = docs[:]
    random.Random(0).shuffle(shuffled)
    _, valid2, _ = natural.split_documents(shuffled)
    assert set(valid2) == set(valid)  # by content, not by position


@pytest.mark.parametrize("text,task,n", [
    ("if a < b then", "Rcmp", 1), ("when x >= 10,", "Rcmp", 1), ("0 < N < Max", "Rcmp", 1),
    ("it is greater than the other", "Rcmp", 1), ("less than 5", "Rcmp", 1),
    ("<user@example.org>", "Rcmp", 0), ("<a href=x>", "Rcmp", 0), ("more than one", "Rcmp", 0),
    ("a->b", "Rcmp", 0), ("3 + 4 = 7", "Radd", 1), ("x + y", "Radd", 1), ("N + ngpio", "Radd", 1),
    ("C++ and g++", "Radd", 0), ("SN9C201 + MT9M111", "Radd", 0), ("NTSC+FM", "Radd", 0),
    ("2 plus 2", "Radd", 1), ("the sum of the parts", "Radd", 1),
])
def test_reference_patterns_count_comparisons_and_additions_and_not_markup(text, task, n):
    # matches do not overlap: a chained range, 0 < N < Max, is one comparison
    counts = natural.reference_counts([text])
    assert sum(counts[task].values()) == n, counts


def test_zipf_exponent_recovers_a_planted_exponent():
    rng = np.random.default_rng(0)
    for s in (0.9, 1.3):
        p = 1 / np.arange(1, 4097) ** s
        tokens = rng.permutation(4096)[rng.choice(4096, size=2_000_000, p=p / p.sum())]
        assert natural.zipf_exponent(tokens, 4096) == pytest.approx(s, abs=0.03)


# ----------------------------------------------------------------------------- the build

def _fake_packages(root, pages=12):
    """A deb root with a few pages of the Python docs' layout and the kernel's."""
    html_dir = root / "python3.11" / "html" / "library"
    html_dir.mkdir(parents=True)
    rng = random.Random(1)
    words = "the a value list returns when is of object module string number greater than".split()
    for i in range(pages):
        filler = " ".join(rng.choice(words) for _ in range(400))
        (html_dir / f"page{i:02d}.html").write_text(PAGE.format(filler=filler))
    (html_dir / "zz-copy.html").write_bytes((html_dir / "page00.html").read_bytes())  # a duplicate
    (root / "python3.11" / "html" / "genindex.html").write_text("<p>index only</p>")
    rst_dir = root / "linux-doc-6.1" / "Documentation" / "core"
    rst_dir.mkdir(parents=True)
    for i in range(pages):
        filler = " ".join(rng.choice(words) for _ in range(400))
        with gzip.open(rst_dir / f"doc{i:02d}.rst.gz", "wt") as f:
            f.write(RST.format(filler=filler))
    return root


def _build(tmp_path, name, *extra, sources=("python-docs", "linux-docs"), vocab="300"):
    out = tmp_path / name
    cmd = [sys.executable, "-m", "runners.natural_corpus", "--sources", *sources, "--vocab", vocab,
           "--deb-root", str(tmp_path / "deb"), "--out", str(out / "data"),
           "--book-data", str(out / "book"), "--no-artifact", *extra]
    return out, subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                               env={**os.environ, "RAYON_NUM_THREADS": "2"})


def test_two_builds_from_the_same_packages_are_byte_identical(tmp_path):
    _fake_packages(tmp_path / "deb")
    (a, ra), (b, rb) = _build(tmp_path, "a"), _build(tmp_path, "b")  # each trains its tokenizer
    assert ra.returncode == rb.returncode == 0, ra.stderr + rb.stderr
    name = natural.corpus_name(["python-docs", "linux-docs"], 300)
    for rel in (f"data/{name}.bin", f"book/tokenizers/{name}.json"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    stats = natural.json.loads((a / f"data/{name}.json").read_text())
    tokens = np.fromfile(a / f"data/{name}.bin", dtype=np.uint16)
    assert stats["tokens"] == tokens.size and stats["documents"] == int((tokens == 0).sum())
    assert stats["name"] == name and (a / "data").joinpath(f"{name}.json").is_file()
    assert sum(s["tokens"] for s in stats["sources"].values()) == tokens.size
    assert stats["sources"]["python-docs"]["duplicates"] > 0  # the planted copy of a page
    # recorded, then checked: a build that differs from the record for the same versions fails
    _, rec = _build(tmp_path, "a", "--record")
    assert rec.returncode == 0 and (a / "book" / "natural_corpus.json").is_file()
    _, again = _build(tmp_path, "a")
    assert again.returncode == 0 and "matches the recorded checksum" in again.stdout


@pytest.mark.parametrize("case,message", [
    ("missing", "install the Debian package debian-handbook (apt-get install debian-handbook)"),
    ("empty", "python-docs gave no text (an empty extraction)"),
    ("small", "fewer than the 10,000,000 requested"),
    ("vocab", "has 300 tokens, not vocab_size 400"),
    ("too rich", "too small for a vocabulary of 5000: byte-level BPE found"),
    ("unknown", "unknown source 'dolma'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case, message):
    deb = _fake_packages(tmp_path / "deb", pages=3)
    extra, sources, vocab = [], ("python-docs",), "300"
    if case == "missing":
        sources = ("python-docs", "debian-handbook")
    elif case == "empty":
        for p in (deb / "python3.11" / "html" / "library").iterdir():
            p.write_text("<html><body><pre>only code</pre></body></html>")
    elif case == "small":
        extra = ["--min-tokens", "10000000"]
    elif case == "vocab":
        first, r = _build(tmp_path, "first", sources=sources)  # its tokenizer has 300 tokens
        assert r.returncode == 0, r.stderr
        name300 = natural.corpus_name(list(sources), 300)
        name400 = natural.corpus_name(list(sources), 400)
        tok = first / "book" / "tokenizers"
        (tok / f"{name400}.json").write_bytes((tok / f"{name300}.json").read_bytes())
        vocab = "400"
    elif case == "too rich":
        vocab = "5000"
    elif case == "unknown":
        sources = ("dolma",)
    out, r = _build(tmp_path, "first" if case == "vocab" else "bad", *extra, sources=sources, vocab=vocab)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    data = out / "data"
    written = sorted(p.name for p in data.iterdir()) if data.exists() else []
    assert not [w for w in written if "v400" in w or case != "vocab"], written


@pytest.mark.slow
def test_a_tiny_model_learns_from_a_built_corpus(tmp_path):
    from rarescale.pretrain.config import InjectedTask, RunConfig
    from rarescale.pretrain.tasks import TaskSpec
    from rarescale.pretrain.train import train

    _fake_packages(tmp_path / "deb", pages=30)
    out, r = _build(tmp_path, "c", vocab="300")
    assert r.returncode == 0, r.stderr
    corpus = out / "data" / f"{natural.corpus_name(['python-docs', 'linux-docs'], 300)}.bin"
    config = RunConfig(size="30K", vocab_size=512, seq_len=32, batch=8, tokens=32 * 8 * 60,
                       corpus=(str(corpus),), holdout=8, eval_points=4, eval_instances=16,
                       forgetting_steps=1, checkpoint_every=100,
                       tasks=(InjectedTask(TaskSpec("cmp", n_values=10, n_instances=100), 1 / 64),))
    _, arrays = train(config, tmp_path / "run", progress=False)
    val = arrays["val_loss"]
    assert val[-1] < val[0] - 1.0, val  # from ln(512) = 6.2 nats, towards the text's entropy


def test_a_rebuild_of_the_same_corpus_keeps_its_statistics_artifact():
    """`make corpus` run again re-saves nothing when only the build's time differs (a re-saved
    artifact would clear the book's execution cache)."""
    from runners.natural_corpus import _statistics_unchanged

    stats = {k: v for k, v in natural.load_statistics(vocab_size=4096).items() if k != "synthetic"}
    stats["sources"] = {name: stats["sources"][name] for name in natural.SOURCES}  # the build's order
    assert _statistics_unchanged({**stats, "build_time_s": stats["build_time_s"] + 30})
    assert not _statistics_unchanged({**stats, "tokens": stats["tokens"] + 1})
