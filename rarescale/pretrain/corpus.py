"""Token corpora in OLMo's format, and a generated "synthetic web" to train on here.

OLMo (and Dolma, as shipped for it) stores tokenised text as flat ``uint16`` or
``uint32`` arrays on disk, documents separated by an end-of-document token, in
a list of files. :class:`TokenCorpus` serves fixed-length sequences from them in
a seeded order, reading each sequence at its offset when it is served; memory
stays flat in the corpus size (nothing is loaded or mapped in advance, and the
order is a permutation computed per index). Reading by offset rather than
through a memory map keeps that true on this machine's kernel, where mapping a
file's pages counts megabytes of page cache per read in the process's memory.

:func:`write_synthetic_web` writes a corpus with learnable structure and a
power-law spread of frequencies, for machines that cannot download Dolma:
documents have a Zipf-distributed topic, and each topic is a sparse Markov
chain over a Zipfian vocabulary.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np

from rarescale.store.files import write_atomically
from rarescale.validation import ConfigError, Interval, Options, check

DTYPES = {"uint16": np.uint16, "uint32": np.uint32}


def write_tokens(path, chunks, dtype: str = "uint16") -> Path:
    """Write token chunks to ``path`` as one flat array, atomically.

    The data go to a temporary file of a name no other writer uses, then are
    renamed into place: a reader sees the old file, the new one, or none.
    """
    check("write_tokens", "dtype", dtype, Options(frozenset(DTYPES)))
    limit = np.iinfo(DTYPES[dtype]).max

    def write(tmp):
        with open(tmp, "wb") as f:
            for chunk in chunks:
                chunk = np.asarray(chunk)
                if chunk.size and (chunk.min() < 0 or chunk.max() > limit):
                    raise ConfigError(f"write_tokens: a token does not fit in {dtype}.")
                f.write(chunk.astype(DTYPES[dtype]).tobytes())

    return write_atomically(path, write)


def write_once(path, make) -> Path:
    """``make(path)`` unless ``path`` exists; concurrent callers wait, and only one writes.

    An exclusive lock on ``<path>.lock`` serialises the writers; under it, any
    temporary file left by a killed writer is removed before writing.
    """
    from rarescale.store.locks import exclusive

    path = Path(path)
    if path.exists():  # written atomically, so a file that exists is whole
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path.with_name(path.name + ".lock")):
        if not path.exists():
            for stale in path.parent.glob(glob.escape(path.name) + ".tmp*"):
                stale.unlink(missing_ok=True)
            make(path)
    return path


@dataclass(frozen=True)
class _Permutation:
    """A bijection of ``range(n)`` computed per index: ``i -> (a·i + c) mod n``, gcd(a, n) = 1."""

    n: int
    a: int
    c: int

    @classmethod
    def seeded(cls, n: int, seed: int) -> "_Permutation":
        rng = np.random.default_rng([seed, 11])
        a = int(rng.integers(1, max(n, 2)))
        while math.gcd(a, n) != 1:
            a = a % (n - 1) + 1 if n > 1 else 1
        return cls(n, a, int(rng.integers(0, max(n, 1))))

    def __call__(self, i):
        return (self.a * np.asarray(i, dtype=np.int64) + self.c) % self.n


class TokenCorpus:
    """Fixed-length sequences from token files (OLMo's numpy format).

    Each file is cut into ``len // seq_len`` sequences (the tail is dropped);
    sequence ``k`` of the corpus is the ``k``-th in file order. The last
    ``holdout`` sequences are a validation set; the order of training is a
    seeded permutation of the others, epoch after epoch.

    A ``.npy`` file (found by its magic bytes, whatever its name) is read by its
    header: its dtype and where its data start. A raw file is read as ``dtype``.
    With ``vocab_size``, a sample spread over each file is checked on open, so
    a file of the wrong width (uint32 read as uint16, or the reverse) is a
    one-line error before any training.
    """

    SAMPLE = (16, 2048)  # chunks per file, tokens per chunk, read by the width check

    def __init__(self, paths, seq_len: int, dtype: str = "uint16", seed: int = 0,
                 holdout: int = 0, vocab_size: int | None = None):
        check("TokenCorpus", "seq_len", seq_len, Interval(Integral, 4, None))
        check("TokenCorpus", "holdout", holdout, Interval(Integral, 0, None))
        check("TokenCorpus", "dtype", dtype, Options(frozenset(DTYPES)))
        paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        if not paths:
            raise ConfigError("TokenCorpus.paths must name at least one token file.")
        self.seq_len, self.dtype = seq_len, dtype
        self.paths, counts, self._layout = paths, [], []
        for p in paths:
            if not p.is_file():
                raise ConfigError(f"TokenCorpus: token file not found: {p}")
            file_dtype, offset, n_tokens = _token_layout(p, dtype)
            self._layout.append((file_dtype, offset))
            counts.append(n_tokens // seq_len)
        self.starts = np.concatenate([[0], np.cumsum(counts)])  # first sequence of each file
        if self.starts[-1] <= holdout:
            raise ConfigError(f"TokenCorpus: the files hold {self.starts[-1]} sequences of "
                              f"{seq_len} tokens; at least {holdout + 1} are needed.")
        self.holdout = holdout
        self.order = _Permutation.seeded(len(self), seed)
        self._files = [os.open(p, os.O_RDONLY) for p in paths]
        if vocab_size is not None:
            for f, p in enumerate(paths):
                _check_width(p, self._sample(f), self._layout[f][0], vocab_size)

    def _read(self, f: int, start: int, count: int) -> np.ndarray:
        """``count`` tokens of file ``f`` from token ``start``, int64."""
        file_dtype, offset = self._layout[f]
        size = np.dtype(file_dtype).itemsize
        raw = os.pread(self._files[f], count * size, offset + start * size)
        return np.frombuffer(raw, dtype=file_dtype).astype(np.int64)

    def _sample(self, f: int) -> np.ndarray:
        chunks, length = self.SAMPLE
        n = int(self.starts[f + 1] - self.starts[f]) * self.seq_len
        # even starts: a uint32 file read as uint16 then shows its high halves at odd positions
        starts = np.unique(np.linspace(0, max(n - length, 0), chunks).astype(int) // 2 * 2)
        return np.concatenate([self._read(f, int(s), min(length, n)) for s in starts])

    def __del__(self):
        for fd in getattr(self, "_files", []):
            os.close(fd)

    def __len__(self) -> int:
        """Number of training sequences (the held-out ones excluded)."""
        return int(self.starts[-1]) - self.holdout

    def validation(self) -> np.ndarray:
        """The ``holdout`` last sequences in file order, never trained on, (holdout, seq_len)."""
        last = int(self.starts[-1])
        return np.stack([self.sequence(k) for k in range(last - self.holdout, last)])

    @property
    def n_tokens(self) -> int:
        return len(self) * self.seq_len

    def sequence(self, k: int) -> np.ndarray:
        """Sequence ``k`` in file order, (seq_len,) int64."""
        f = int(np.searchsorted(self.starts, k, side="right") - 1)
        return self._read(f, int(k - self.starts[f]) * self.seq_len, self.seq_len)

    def batch(self, step: int, batch: int) -> np.ndarray:
        """The sequences of ``step`` in training order, (batch, seq_len) int64; a pure
        function of (seed, step), so a resumed run reads exactly what it would have."""
        index = self.order((step * batch + np.arange(batch)) % len(self))
        return np.stack([self.sequence(int(k)) for k in index])


def _token_layout(path: Path, dtype: str) -> tuple[np.dtype, int, int]:
    """(dtype, byte offset of the first token, tokens) of a raw or ``.npy`` token file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            f.seek(0)
            try:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, file_dtype = read_header(f)
            except ValueError as exc:
                raise ConfigError(f"TokenCorpus: {path} has a broken .npy header ({exc}).") from None
            if file_dtype.kind not in "ui" or len(shape) != 1:
                raise ConfigError(f"TokenCorpus: {path} must hold a flat integer array; its header "
                                  f"says dtype {file_dtype}, shape {shape}.")
            offset = f.tell()
            n = (size - offset) // file_dtype.itemsize
            if n < int(shape[0]):
                raise ConfigError(f"TokenCorpus: {path} is truncated: its header says {shape[0]} "
                                  f"tokens, the file holds {n}.")
            return file_dtype, offset, int(shape[0])
    itemsize = np.dtype(DTYPES[dtype]).itemsize
    if size == 0 or size % itemsize:
        raise ConfigError(f"TokenCorpus: {path} is not a {dtype} token file "
                          f"({size} bytes is not a positive multiple of {itemsize}).")
    return np.dtype(DTYPES[dtype]), 0, size // itemsize


def _check_width(path: Path, sample: np.ndarray, file_dtype, vocab_size: int) -> None:
    """One-line error when a sample of ``path`` does not look like tokens of ``vocab_size``."""
    if sample.size and sample.min() < 0:
        raise ConfigError(f"TokenCorpus: {path} holds token {sample.min()} < 0: token ids are "
                          "non-negative (a signed array of something else?).")
    if sample.size and sample.max() >= vocab_size:
        raise ConfigError(f"TokenCorpus: {path} holds token {sample.max()} >= vocab_size {vocab_size}: "
                          f"a file of another width than {np.dtype(file_dtype).name}, or the "
                          "vocabulary of another tokenizer.")
    if (np.dtype(file_dtype).itemsize == 2 and len(sample) >= 64 and sample[0::2].any()
            and not sample[1::2].any()):
        raise ConfigError(f"TokenCorpus: {path} read as {np.dtype(file_dtype).name} has every "
                          "second token 0: it looks like a uint32 file (set corpus_dtype: uint32).")


def write_synthetic_web(path, n_tokens: int, vocab_size: int = 4096, seed: int = 0,
                        n_topics: int = 64, successors: int = 8, mean_doc_len: int = 256,
                        eos: int = 0, dtype: str = "uint16", chains: int = 4096) -> Path:
    """Write a synthetic corpus of about ``n_tokens`` tokens to ``path`` (OLMo format).

    Tokens ``1 … vocab_size − 1`` have Zipfian frequencies; each of ``n_topics``
    topics (Zipf-distributed across documents) is a Markov chain in which every
    token has ``successors`` possible next tokens, drawn from the Zipfian
    vocabulary, with Zipfian probabilities. Documents end with ``eos`` after a
    geometric number of tokens (mean ``mean_doc_len``). ``chains`` documents are
    generated side by side and written in chunks, so memory does not grow with
    ``n_tokens``.
    """
    check("write_synthetic_web", "n_tokens", n_tokens, Interval(Integral, 1, None))
    check("write_synthetic_web", "vocab_size", vocab_size, Interval(Integral, 3, None))
    rng = np.random.default_rng([seed, 17])
    vocab = np.arange(1, vocab_size)
    vocab = vocab[vocab != eos]
    zipf_vocab = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    zipf_vocab /= zipf_vocab.sum()
    topic_p = 1.0 / np.arange(1, n_topics + 1)
    topic_p /= topic_p.sum()
    succ_p = 1.0 / np.arange(1, successors + 1) ** 1.5
    succ_cdf = np.cumsum(succ_p / succ_p.sum())
    # next[t, v, j]: the j-th successor of token v in topic t (an index into vocab)
    nxt = rng.choice(len(vocab), size=(n_topics, len(vocab), successors), p=zipf_vocab).astype(np.int32)

    def new_docs(n):
        return rng.choice(n_topics, size=n, p=topic_p), rng.choice(len(vocab), size=n, p=zipf_vocab)

    def chunks():
        topic, state = new_docs(chains)
        written, length = 0, 256  # tokens per chain per chunk
        while written < n_tokens:
            out = np.empty((chains, length), dtype=np.int64)
            for i in range(length):
                ends = rng.random(chains) < 1.0 / mean_doc_len
                out[:, i] = np.where(ends, eos, vocab[state])
                j = np.searchsorted(succ_cdf, rng.random(chains))
                state = nxt[topic, state, np.minimum(j, successors - 1)]
                if ends.any():  # a new document: new topic, new first token
                    topic[ends], state[ends] = new_docs(int(ends.sum()))
            flat = out.ravel()[: n_tokens - written]
            written += len(flat)
            yield flat

    return write_once(path, lambda p: write_tokens(p, chunks(), dtype))


def read_texts(path):
    """Documents from a ``.txt`` file (one per blank-line-separated block) or a
    ``.jsonl`` / ``.jsonl.gz`` file (the ``"text"`` field of each line), lazily."""
    import gzip
    import json

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"read_texts: text file not found: {path}")
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)["text"]
                    except (ValueError, KeyError, TypeError):
                        raise ConfigError(f"read_texts: {path} line {n} is not JSON with a "
                                          '"text" field.') from None
    elif name.endswith(".txt"):
        block = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    block.append(line)
                elif block:
                    yield "".join(block)
                    block = []
        if block:
            yield "".join(block)
    else:
        raise ConfigError(f"read_texts: {path} must end in .txt, .jsonl or .jsonl.gz.")


def train_tokenizer(paths, vocab_size: int, out_path, eos: str = "<|endoftext|>") -> Path:
    """Train a byte-level BPE tokenizer (HF ``tokenizers``) on text files; EOS is token 0."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[eos], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator((t for p in paths for t in read_texts(p)), trainer=trainer)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_path))
    return out_path


def tokenize_to_corpus(paths, tokenizer_file, out_path, eos: str = "<|endoftext|>",
                       dtype: str | None = None, batch_docs: int = 1024) -> Path:
    """Tokenise text / JSONL(.gz) files with a HF ``tokenizers`` file into OLMo's format.

    Each document is followed by the ``eos`` token. The dtype defaults to
    ``uint16`` when the vocabulary fits, else ``uint32``.
    """
    from tokenizers import Tokenizer

    tokenizer_file = Path(tokenizer_file)
    if not tokenizer_file.is_file():
        raise ConfigError(f"tokenize_to_corpus: tokenizer file not found: {tokenizer_file}")
    tok = Tokenizer.from_file(str(tokenizer_file))
    eos_id = tok.token_to_id(eos)
    if eos_id is None:
        raise ConfigError(f"tokenize_to_corpus: the tokenizer has no {eos!r} token.")
    dtype = dtype or ("uint16" if tok.get_vocab_size() <= 2 ** 16 else "uint32")

    def chunks():
        docs = []
        for p in paths:
            for text in read_texts(p):
                docs.append(text)
                if len(docs) == batch_docs:
                    yield _encode(docs)
                    docs = []
        if docs:
            yield _encode(docs)

    def _encode(docs):
        return np.concatenate([np.append(e.ids, eos_id) for e in tok.encode_batch(docs)])

    return write_tokens(out_path, chunks(), dtype)
