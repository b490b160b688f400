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

import math
import os
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np

from rarescale.validation import ConfigError, Interval, Options, check

DTYPES = {"uint16": np.uint16, "uint32": np.uint32}


def write_tokens(path, chunks, dtype: str = "uint16") -> Path:
    """Write token chunks to ``path`` as one flat array, atomically (temp file + rename)."""
    check("write_tokens", "dtype", dtype, Options(frozenset(DTYPES)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    limit = np.iinfo(DTYPES[dtype]).max
    with open(tmp, "wb") as f:
        for chunk in chunks:
            chunk = np.asarray(chunk)
            if chunk.size and (chunk.min() < 0 or chunk.max() > limit):
                raise ConfigError(f"write_tokens: a token does not fit in {dtype}.")
            f.write(chunk.astype(DTYPES[dtype]).tobytes())
    os.replace(tmp, path)
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
    """Fixed-length sequences from memory-mapped token files (OLMo's numpy format).

    Each file is cut into ``len // seq_len`` sequences (the tail is dropped);
    sequence ``k`` of the corpus is the ``k``-th in file order. The last
    ``holdout`` sequences are a validation set; the order of training is a
    seeded permutation of the others, epoch after epoch.
    """

    def __init__(self, paths, seq_len: int, dtype: str = "uint16", seed: int = 0,
                 holdout: int = 0):
        check("TokenCorpus", "seq_len", seq_len, Interval(Integral, 4, None))
        check("TokenCorpus", "holdout", holdout, Interval(Integral, 0, None))
        check("TokenCorpus", "dtype", dtype, Options(frozenset(DTYPES)))
        paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        if not paths:
            raise ConfigError("TokenCorpus.paths must name at least one token file.")
        itemsize = np.dtype(DTYPES[dtype]).itemsize
        self.seq_len, self.dtype, self.itemsize = seq_len, dtype, itemsize
        self.paths, counts = paths, []
        for p in paths:
            if not p.is_file():
                raise ConfigError(f"TokenCorpus: token file not found: {p}")
            size = p.stat().st_size
            if size == 0 or size % itemsize:
                raise ConfigError(f"TokenCorpus: {p} is not a {dtype} token file "
                                  f"({size} bytes is not a positive multiple of {itemsize}).")
            counts.append(size // itemsize // seq_len)
        self.starts = np.concatenate([[0], np.cumsum(counts)])  # first sequence of each file
        if self.starts[-1] <= holdout:
            raise ConfigError(f"TokenCorpus: the files hold {self.starts[-1]} sequences of "
                              f"{seq_len} tokens; at least {holdout + 1} are needed.")
        self.holdout = holdout
        self.order = _Permutation.seeded(len(self), seed)
        self._files = [os.open(p, os.O_RDONLY) for p in paths]

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
        offset = int(k - self.starts[f]) * self.seq_len * self.itemsize
        raw = os.pread(self._files[f], self.seq_len * self.itemsize, offset)
        return np.frombuffer(raw, dtype=DTYPES[self.dtype]).astype(np.int64)

    def batch(self, step: int, batch: int) -> np.ndarray:
        """The sequences of ``step`` in training order, (batch, seq_len) int64; a pure
        function of (seed, step), so a resumed run reads exactly what it would have."""
        index = self.order((step * batch + np.arange(batch)) % len(self))
        return np.stack([self.sequence(int(k)) for k in index])


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

    return write_tokens(path, chunks(), dtype)


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
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[eos],
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
