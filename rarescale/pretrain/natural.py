"""A natural-text pretraining corpus built from documentation Debian ships (C17 on real text).

The paper pretrains on Dolma; nothing can be downloaded here, but every machine of the
project can install Debian's documentation packages. :func:`build` turns them into a
corpus in OLMo's token format:

1. **Extract** the English prose of each source (:data:`SOURCES`): HTML pages through
   :class:`_HtmlText`, reStructuredText through :func:`rst_text`. The rule for code:
   *code blocks are dropped* (``<pre>``, reST literal blocks and code directives); inline
   code in a sentence is kept, as it is part of the sentence. Translations are excluded
   (the handbook's ``en-US`` pages only, the kernel's ``translations/`` skipped).
2. **Split** each page into documents at its first two heading levels; a section shorter
   than :data:`MIN_DOC_CHARS` joins the next one of its page.
3. **Deduplicate** exactly, on the text with whitespace collapsed and case folded.
4. **Hold out** a validation split by document: a document is held out when the first
   four bytes of its SHA-256 fall below :data:`VALIDATION_SHARE`; validation documents
   are written last, so a run's held-out sequences (the file's last ones) come from them.
5. **Tokenise** with a byte-level BPE trained here on the training documents
   (:func:`rarescale.pretrain.corpus.train_tokenizer`); the tokenizer file is committed under
   ``book/data/tokenizers/`` and reused, so the token file is a function of the text alone.

Every step is deterministic (files in sorted order, no threads in extraction), so the same
package versions give the same bytes; :func:`build` checks that against the checksums
recorded in ``book/data/natural_corpus.json``.

The paper's *reference tasks* Rcmp and Radd are comparisons and additions that occur in
the natural corpus; :data:`REFERENCE_PATTERNS` states what counts, and
:func:`reference_counts` counts them, per token of the corpus.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
import subprocess
import time
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from rarescale.validation import ConfigError

DEB_ROOT = Path("/usr/share/doc")
MIN_DOC_CHARS = 500
"""A section shorter than this (characters) is merged into the next section of its page."""
VALIDATION_SHARE = 0.02
"""Share of documents held out for validation (by the hash of their text)."""
VOCAB_SIZES = (4096, 16384)
"""The tokenizers built: the synthetic web's vocabulary, and a larger one."""
EOS = "<|endoftext|>"


@dataclass(frozen=True)
class Source:
    """One Debian package's documentation."""

    name: str
    package: str
    root: str
    """Under ``/usr/share/doc``."""
    pattern: str
    """Glob of its files under ``root``."""
    form: str
    """``"html"`` or ``"rst"`` (either may be gzipped)."""
    licence: str
    exclude: tuple[str, ...] = ()
    """Path parts (folders or file names) skipped."""


SOURCES = {
    "python-docs": Source("python-docs", "python3.11-doc", "python3.11/html", "**/*.html", "html",
                          "PSF-2.0 (Python Software Foundation License)",
                          ("_static", "_sources", "_images", "genindex.html", "search.html",
                           "py-modindex.html", "genindex-all.html")),
    "debian-handbook": Source("debian-handbook", "debian-handbook", "debian-handbook/html/en-US",
                              "*.html", "html", "CC BY-SA 3.0 or GPL-2.0+", ("Common_Content",)),
    "linux-docs": Source("linux-docs", "linux-doc-6.1", "linux-doc-6.1/Documentation", "**/*.rst.gz",
                         "rst", "GPL-2.0 (the kernel's documentation; some files dual-licensed)",
                         ("translations",)),
}
"""The sources a build can use, by name."""


# ---------------------------------------------------------------------------- extraction

_BLOCK = {"p", "div", "li", "dt", "dd", "tr", "td", "th", "section", "table", "blockquote",
          "ul", "ol", "dl", "br", "h3", "h4", "h5", "h6", "caption", "figcaption", "article"}
_VOID = {"br", "img", "input", "meta", "link", "hr", "area", "base", "col", "embed", "source", "wbr"}
_SKIP_TAGS = {"script", "style", "head", "nav", "pre", "form", "button", "select", "noscript"}
_SKIP_CLASSES = {"sphinxsidebar", "related", "footer", "headerlink", "toc", "docnav", "banner",
                 "mobile-nav", "highlight", "doctest", "navigation", "legalnotice"}
_SKIP_IDS = {"banner", "title", "searchbox", "sidebar"}


class _HtmlText(HTMLParser):
    """Plain text of an HTML page as a list of sections ``[heading, paragraph, ...]``.

    Headings ``h1``/``h2`` start a section; other block elements end a paragraph; the
    elements of :data:`_SKIP_TAGS` (``pre``: code blocks), and those whose class or id
    is navigation (:data:`_SKIP_CLASSES`, :data:`_SKIP_IDS`), are dropped with their content.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections: list[list[str]] = [[]]
        self._text: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self._skipping = 0

    def _flush(self):
        text = " ".join("".join(self._text).split())
        if text:
            self.sections[-1].append(text)
        self._text = []

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            if tag == "br" and not self._skipping:
                self._text.append(" ")
            return
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        skip = tag in _SKIP_TAGS or bool(classes & _SKIP_CLASSES) or attrs.get("id") in _SKIP_IDS
        self._stack.append((tag, skip))
        if skip:
            self._skipping += 1
        if self._skipping:
            return
        if tag in ("h1", "h2"):
            self._flush()
            self.sections.append([])
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag):
        if tag in _VOID or not any(t == tag for t, _ in self._stack):
            return
        while self._stack:  # close what the page left open inside this element too
            t, skip = self._stack.pop()
            self._skipping -= skip
            if t == tag:
                break
        if not self._skipping and (tag in _BLOCK or tag in ("h1", "h2")):
            self._flush()

    def handle_data(self, data):
        if not self._skipping:
            self._text.append(data)

    def close(self):
        super().close()
        self._flush()


def html_sections(text: str) -> list[list[str]]:
    """The sections of an HTML page (:class:`_HtmlText`), each a list of paragraphs."""
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    return [s for s in parser.sections if s]


_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+_:.])\1{2,}\s*$")
_ADMONITIONS = {"note", "warning", "important", "tip", "attention", "caution", "hint", "danger",
                "error", "admonition", "seealso"}
_ROLE = re.compile(r":[\w:+.-]+:`([^`]*)`")
_LINK = re.compile(r"`([^`<]*?)\s*<[^`>]*>`_{1,2}")
_INLINE = re.compile(r"``([^`]+)``|`([^`]+)`_{0,2}")
_TARGET_TEXT = re.compile(r"^(.*?)\s*<[^>]*>$")


def _inline_rst(line: str) -> str:
    line = _ROLE.sub(lambda m: _TARGET_TEXT.sub(r"\1", m.group(1)) or m.group(1), line)
    line = _LINK.sub(r"\1", line)
    line = _INLINE.sub(lambda m: m.group(1) or m.group(2), line)
    line = re.sub(r"\|[\w -]+\|", "", line)  # substitutions
    line = re.sub(r"(?<=\w)__?(?=\W|$)", "", line)  # reference_ marks
    return line.replace("\\", "")


def rst_text(text: str) -> list[list[str]]:
    """The sections of a reStructuredText file, each a list of paragraphs.

    Sections start at titles of the file's first two adornment styles; literal blocks
    (after ``::``) and directive bodies are dropped, except admonitions (``.. note::`` …),
    whose prose is kept; comments, tables' rules and substitutions are dropped; roles,
    links and inline literals keep their text.
    """
    lines = text.replace("\t", "    ").splitlines()
    styles: list[tuple[str, bool]] = []
    sections: list[list[str]] = [[]]
    para: list[str] = []
    drop_indent = None  # drop lines indented more than this (a literal block or directive body)

    def flush():
        joined = " ".join(" ".join(para).split())
        if joined:
            sections[-1].append(joined)
        para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if drop_indent is not None:
            if not stripped or indent > drop_indent:
                i += 1
                continue
            drop_indent = None
        if not stripped:
            flush()
            i += 1
            continue
        # a title: text underlined (optionally overlined) by a run of one punctuation character
        over = bool(_ADORNMENT.match(line)) and i + 2 < len(lines) and _ADORNMENT.match(lines[i + 2])
        under = i + 1 < len(lines) and _ADORNMENT.match(lines[i + 1]) and not _ADORNMENT.match(line) \
            and len(lines[i + 1].strip()) >= len(stripped) >= 1
        if over or under:
            title = lines[i + 1].strip() if over else stripped
            style = ((lines[i] if over else lines[i + 1]).strip()[0], bool(over))
            if style not in styles:
                styles.append(style)
            flush()
            if styles.index(style) < 2 and sections[-1]:
                sections.append([])
            sections[-1].append(_inline_rst(title))
            i += 3 if over else 2
            continue
        if _ADORNMENT.match(line) or re.match(r"^\+[-=+]+\+\s*$", stripped) or \
                re.match(r"^[=\s]+$", stripped):
            flush()  # a transition, or a table's rule
            i += 1
            continue
        directive = re.match(r"^\.\.\s+([\w:-]+)::", stripped)
        if stripped.startswith(".."):
            flush()
            if directive and directive.group(1).lower() in _ADMONITIONS:
                rest = stripped[directive.end():].strip()
                if rest:
                    para.append(_inline_rst(rest))
            else:
                drop_indent = indent  # a comment, a target, or a directive: its body goes too
            i += 1
            continue
        if stripped.startswith("|") and stripped.endswith("|"):
            i += 1  # a grid table's row
            continue
        if stripped.endswith("::"):
            kept = stripped[:-2].rstrip()
            if kept:
                para.append(_inline_rst(kept + ("" if kept.endswith(":") else ":")))
            flush()
            drop_indent = indent  # the literal block that follows
            i += 1
            continue
        para.append(_inline_rst(stripped))
        i += 1
    flush()
    return [s for s in sections if s]


def documents_of(sections: list[list[str]]) -> list[str]:
    """Documents from a page's sections: each section, short ones joined to the next."""
    docs, pending = [], []
    for section in sections:
        pending += section
        text = "\n\n".join(pending)
        if len(text) >= MIN_DOC_CHARS:
            docs.append(text)
            pending = []
    if pending:
        text = "\n\n".join(pending)
        if docs and len(text) < MIN_DOC_CHARS:
            docs[-1] += "\n\n" + text
        else:
            docs.append(text)
    return docs


def _read(path: Path) -> str:
    raw = gzip.open(path, "rb").read() if path.name.endswith(".gz") else path.read_bytes()
    return unicodedata.normalize("NFC", raw.decode("utf-8", errors="replace"))


def source_files(source: Source, deb_root: Path = DEB_ROOT) -> list[Path]:
    """The files of ``source``, sorted; a missing package is a one-line error naming it."""
    root = Path(deb_root) / source.root
    if not root.is_dir():
        raise MissingPackage(f"natural corpus: {root} not found: install the Debian package "
                             f"{source.package} (apt-get install {source.package}).")
    files = sorted(p for p in root.glob(source.pattern)
                   if p.is_file() and not set(p.relative_to(root).parts) & set(source.exclude))
    if not files:
        raise MissingPackage(f"natural corpus: no {source.pattern} under {root}: reinstall "
                             f"{source.package}.")
    return files


def extract(source: Source, deb_root: Path = DEB_ROOT) -> list[str]:
    """Every document of ``source``, in file order (see the module's steps 1–2)."""
    parse = html_sections if source.form == "html" else rst_text
    docs = []
    for path in source_files(source, deb_root):
        docs += documents_of(parse(_read(path)))
    return docs


def _fingerprint(doc: str) -> bytes:
    return hashlib.sha256(" ".join(doc.casefold().split()).encode()).digest()


def split_documents(docs: list[str]) -> tuple[list[str], list[str], int]:
    """(train, validation, duplicates dropped): exact deduplication, then the held-out share
    chosen by each document's hash, so a document's side does not depend on the others."""
    seen, train, valid = set(), [], []
    for doc in docs:
        h = _fingerprint(doc)
        if h in seen:
            continue
        seen.add(h)
        (valid if int.from_bytes(h[:4], "big") < VALIDATION_SHARE * 2 ** 32 else train).append(doc)
    return train, valid, len(docs) - len(train) - len(valid)


# ---------------------------------------------------------------------- reference tasks

_OPERAND = r"(?:\d+(?:\.\d+)?|[A-Za-z_][A-Za-z_0-9]{0,11})"
_SIMPLE = r"(?:\d+(?:\.\d+)?|[A-Za-z])"  # a number or a one-letter variable
REFERENCE_PATTERNS = {
    "Rcmp": {
        "symbolic": rf"(?<![\w<>=!-]){_OPERAND}\s(?:<|>|<=|>=)\s{_OPERAND}(?![\w<>=(])",
        "verbal": r"\b(?:greater|less|smaller|larger|bigger|higher|lower)\s+than\b",
    },
    "Radd": {
        "symbolic": rf"(?<![\w+])(?:{_SIMPLE}\s\+\s{_OPERAND}|{_OPERAND}\s\+\s{_SIMPLE})(?![\w+(])",
        "verbal": r"\b\d+\s+plus\s+\d+\b|\bthe\s+sum\s+of\b",
    },
}
"""What counts as a natural comparison (Rcmp) and addition (Radd): an operator with a space
on each side between two operands, each a number or a short identifier (so that markup,
``<a>``, ``<user@host>``, and names such as ``C++`` or ``NTSC+FM`` are not counted), one
of an addition's operands a number or a one-letter variable (``N + 2``, ``x + y``, not
``SN9C201 + MT9M111``); and the English phrasings. "More than" is left out: it is
mostly a quantifier ("more than one"), not a comparison of two quantities."""
_COMPILED = {task: {k: re.compile(p) for k, p in pats.items()} for task, pats in REFERENCE_PATTERNS.items()}


def reference_counts(docs) -> dict:
    """Occurrences of each pattern of :data:`REFERENCE_PATTERNS` in ``docs``: ``{task: {kind: n}}``."""
    counts = {task: {k: 0 for k in pats} for task, pats in _COMPILED.items()}
    for doc in docs:
        for task, pats in _COMPILED.items():
            for kind, pattern in pats.items():
                counts[task][kind] += sum(1 for _ in pattern.finditer(doc))
    return counts


# ---------------------------------------------------------------------------- statistics

def zipf_exponent(tokens: np.ndarray, vocab_size: int, ranks=(10, 1000)) -> float:
    """The Zipf exponent s of token frequencies, ``f(r) ∝ r^(−s)``: minus the least-squares
    slope of log frequency on log rank over ``ranks`` (a middle range: the head holds
    punctuation and the tail unseen merges, in both corpora)."""
    counts = np.sort(np.bincount(np.asarray(tokens, dtype=np.int64), minlength=vocab_size))[::-1]
    lo, hi = ranks
    r = np.arange(lo, min(hi, int((counts > 0).sum())) + 1)
    slope = np.polyfit(np.log(r), np.log(counts[r - 1]), 1)[0]
    return float(-slope)


def token_statistics(tokens: np.ndarray, vocab_size: int, eos_id: int) -> dict:
    """Documents (EOS count), tokens, distinct tokens used, the Zipf exponent."""
    tokens = np.asarray(tokens)
    return {"documents": int((tokens == eos_id).sum()), "tokens": int(tokens.size),
            "distinct_tokens": int(np.unique(tokens).size),
            "zipf_exponent": zipf_exponent(tokens, vocab_size)}


# ---------------------------------------------------------------------------- the build

class MissingPackage(ConfigError):
    """A source's Debian package is not installed."""


def package_version(package: str) -> str:
    """The installed version of a Debian package ("" when dpkg is unavailable)."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                             text=True, check=False)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def corpus_name(sources, vocab_size: int) -> str:
    """``natural-v4096`` for every source, else the sources it uses: ``natural-python-docs-v4096``."""
    used = "" if list(sources) == list(SOURCES) else "+".join(sources) + "-"
    return f"natural-{used}v{vocab_size}"


def tokenizer_path(sources, vocab_size: int, book_data: Path) -> Path:
    return Path(book_data) / "tokenizers" / f"{corpus_name(sources, vocab_size)}.json"


def build(sources, vocab_size: int, out_dir, book_data, deb_root: Path = DEB_ROOT,
          min_tokens: int = 1, retrain_tokenizer: bool = False, log=print) -> dict:
    """Build the corpus of ``sources`` (names of :data:`SOURCES`) at ``vocab_size``.

    Writes ``<out_dir>/<name>.bin`` (uint16 or uint32 tokens, validation documents last)
    and ``<name>.json`` (its statistics and checksum), each atomically; reuses the
    committed tokenizer under ``<book_data>/tokenizers`` unless ``retrain_tokenizer``.
    Returns the statistics. Raises a one-line :class:`ConfigError` on bad input, before
    anything is written.
    """
    from tokenizers import Tokenizer

    from rarescale.pretrain.corpus import DTYPES, train_tokenizer, write_tokens
    from rarescale.store.files import write_atomically

    start = time.perf_counter()
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ConfigError(f"natural corpus: unknown source {unknown[0] if unknown else '(none)'!r}; "
                          f"the sources are {', '.join(SOURCES)}.")
    sources = list(sources)
    per_source, train, valid, duplicates, origin = {}, [], [], 0, ([], [])
    for source in sources:
        docs = extract(SOURCES[source], deb_root)
        if not docs:
            raise ConfigError(f"natural corpus: {source} gave no text (an empty extraction); "
                              f"check {Path(deb_root) / SOURCES[source].root}.")
        t, v, d = split_documents(docs)
        per_source[source] = {"package": SOURCES[source].package,
                              "version": package_version(SOURCES[source].package),
                              "licence": SOURCES[source].licence, "documents": len(t) + len(v),
                              "characters": sum(map(len, t + v)), "duplicates": d}
        train, valid, duplicates = train + t, valid + v, duplicates + d
        origin[0].extend([source] * len(t))
        origin[1].extend([source] * len(v))
        log(f"  {source}: {len(t) + len(v):,} documents, {per_source[source]['characters']:,} characters")
    out_dir, book_data = Path(out_dir), Path(book_data)
    name = corpus_name(sources, vocab_size)
    tok_file = tokenizer_path(sources, vocab_size, book_data)
    trained_here = retrain_tokenizer or not tok_file.is_file()
    if trained_here:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            text = Path(tmp) / "train.txt"
            text.write_text("\n\n".join(d.replace("\n\n", "\n") for d in train), encoding="utf-8")
            trained = train_tokenizer([text], vocab_size, Path(tmp) / "tok.json", eos=EOS)
            payload = trained.read_text()
        found = Tokenizer.from_str(payload).get_vocab_size()
        if found != vocab_size:
            raise ConfigError(f"natural corpus: the text is too small for a vocabulary of "
                              f"{vocab_size}: byte-level BPE found {found} tokens in it.")
        write_atomically(tok_file, lambda tmp: Path(tmp).write_text(payload))
        log(f"  tokenizer trained: {tok_file}")
    tok = Tokenizer.from_file(str(tok_file))
    if tok.get_vocab_size() != vocab_size:
        raise ConfigError(f"natural corpus: the tokenizer {tok_file} has {tok.get_vocab_size()} "
                          f"tokens, not vocab_size {vocab_size}; retrain it (--retrain-tokenizer).")
    eos_id = tok.token_to_id(EOS)
    dtype = "uint16" if vocab_size <= 2 ** 16 else "uint32"
    if vocab_size - 1 > np.iinfo(DTYPES[dtype]).max:
        raise ConfigError(f"natural corpus: vocab_size {vocab_size} does not fit {dtype}.")
    encoded = [np.array(e.ids + [eos_id], dtype=np.int64) for e in tok.encode_batch(train + valid)]
    tokens = np.concatenate(encoded) if encoded else np.zeros(0, np.int64)
    n_valid = int(sum(len(e) for e in encoded[len(train):]))
    for source, e in zip(origin[0] + origin[1], encoded):
        per_source[source]["tokens"] = per_source[source].get("tokens", 0) + len(e)
    if tokens.size < min_tokens:
        raise ConfigError(f"natural corpus: {tokens.size:,} tokens, fewer than the {min_tokens:,} "
                          "requested (--min-tokens); add a source.")
    counts = reference_counts(train + valid)
    stats = {
        "name": name, "sources": per_source, "vocab_size": vocab_size, "dtype": dtype,
        "tokenizer": str(tok_file.relative_to(book_data.parent.parent)
                         if book_data.parent.parent in tok_file.parents else tok_file),
        "tokenizer_sha256": hashlib.sha256(tok_file.read_bytes()).hexdigest(),
        "train_documents": len(train), "validation_documents": len(valid),
        "validation_tokens": n_valid, "duplicates": duplicates,
        "characters": sum(map(len, train + valid)),
        **token_statistics(tokens, vocab_size, eos_id),
        "reference": {task: {**c, "total": sum(c.values()),
                             "per_token": sum(c.values()) / max(tokens.size, 1)}
                      for task, c in counts.items()},
        "code_block_rule": "dropped", "min_doc_chars": MIN_DOC_CHARS,
        "validation_share": VALIDATION_SHARE,
    }
    data = tokens.astype(DTYPES[dtype]).tobytes()
    stats["sha256"] = hashlib.sha256(data).hexdigest()
    stats["build_time_s"] = round(time.perf_counter() - start, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tokens(out_dir / f"{name}.bin", [tokens], dtype)
    text = json.dumps(stats, indent=1, sort_keys=True)
    write_atomically(out_dir / f"{name}.json", lambda tmp: Path(tmp).write_text(text))
    return stats


def recorded_checksums(book_data) -> dict:
    path = Path(book_data) / "natural_corpus.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def versions_key(stats: dict) -> str:
    """What a checksum is recorded against: the corpus, its packages' versions, its tokenizer."""
    packages = ", ".join(f"{s['package']} {s['version']}" for s in stats["sources"].values())
    return f"{stats['name']} | {packages} | tokenizer {stats['tokenizer_sha256'][:12]}"


# ------------------------------------------------------------------ the book's artifact

ARTIFACT = "natural_corpus"
SYNTHETIC_SAMPLE = 3_000_000
"""Tokens of the synthetic web measured beside the natural corpus (a ladder run's budget)."""


def statistics_config(sources, vocab_size: int) -> dict:
    """The key of a build's statistics: its sources, vocabulary, and the code that made them."""
    from rarescale.store.artifacts import code_digest

    return {"name": corpus_name(sources, vocab_size), "sources": list(sources),
            "vocab_size": vocab_size, "synthetic_sample": SYNTHETIC_SAMPLE,
            "code": code_digest(__name__)}


def synthetic_statistics(vocab_size: int = 4096, n_tokens: int = SYNTHETIC_SAMPLE) -> dict:
    """The same statistics of the generated synthetic web (chapter 4's other corpus)."""
    import tempfile

    from rarescale.pretrain.corpus import write_synthetic_web

    with tempfile.TemporaryDirectory() as tmp:
        path = write_synthetic_web(Path(tmp) / "web.bin", n_tokens, vocab_size=vocab_size, eos=0)
        tokens = np.fromfile(path, dtype=np.uint16)
    return token_statistics(tokens, vocab_size, eos_id=0)


def save_statistics(stats: dict):
    """Save a build's statistics, with the synthetic web's beside them, as the book's artifact."""
    from rarescale.store.artifacts import save_artifact

    config = statistics_config(list(stats["sources"]), stats["vocab_size"])
    return save_artifact(ARTIFACT, config, {**stats, "synthetic": synthetic_statistics(stats["vocab_size"])},
                         seed=0, wall_time_s=stats["build_time_s"])


def load_statistics(sources=tuple(SOURCES), vocab_size: int = 4096) -> dict:
    """The statistics of the built corpus (chapter 4); missing or stale: a loud error."""
    from rarescale.store.artifacts import load_artifact

    return load_artifact(ARTIFACT, statistics_config(list(sources), vocab_size),
                         produce="make corpus").result
