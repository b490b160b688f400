"""What a run trains on (C15, C16): its corpus, its tasks, and each step's batch with injections.

The batch of a step and its injections are pure functions of (seed, step), so a
resumed run sees what the uninterrupted one would have.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rarescale.pretrain.config import RunConfig
from rarescale.pretrain.injection import InjectionSchedule, inject, plan_step
from rarescale.pretrain.tasks import draw_tasks
from rarescale.validation import ConfigError


def data_root() -> Path:
    """Where generated corpora live (``$RARESCALE_DATA``, default ``data/`` in the repo)."""
    from rarescale.store.artifacts import REPO_ROOT

    return Path(os.environ.get("RARESCALE_DATA", REPO_ROOT / "data"))


def synthetic_web_path(config: RunConfig) -> Path:
    return data_root() / f"synthetic_web-v{config.vocab_size}-n{config.corpus_tokens}-eos{config.eos}.bin"


def _token_corpus(config: RunConfig, paths):
    from rarescale.pretrain.corpus import TokenCorpus

    return TokenCorpus(paths, config.seq_len, config.corpus_dtype, seed=config.seed,
                       holdout=config.holdout, vocab_size=config.vocab_size)


def open_corpus(config: RunConfig):
    """The run's :class:`~rarescale.pretrain.corpus.TokenCorpus`, generating the synthetic web once."""
    from rarescale.pretrain.corpus import write_synthetic_web

    paths = config.corpus_files()
    if not paths:
        path = synthetic_web_path(config)
        write_synthetic_web(path, config.corpus_tokens, vocab_size=config.vocab_size,
                            eos=config.eos, seed=0)  # once: a file that exists is whole
        paths = [path]
    return _token_corpus(config, paths)


def check_corpus(config: RunConfig) -> None:
    """Everything about ``config``'s corpus that can be checked before training (a dry run):
    the files exist, and a sample of each fits the vocabulary (see :class:`TokenCorpus`)."""
    paths = config.corpus_files()
    if paths:
        _token_corpus(config, paths)


def corpus_checksums(config: RunConfig) -> dict[str, str]:
    """SHA-256 of each token file ``config`` trains on, by the path its config names (empty for
    the synthetic corpus, which the config itself determines). The natural corpus is rebuilt on
    each machine from the Debian packages there, and another package version gives other bytes
    under the same path: a run records these, and a run resumed on other bytes stops."""
    from rarescale.store.files import file_sha256

    return {str(path): file_sha256(path) for path in config.corpus_files()}


def run_tasks(config: RunConfig):
    """The run's drawn tasks, in the order of ``config.tasks``."""
    return draw_tasks([t.spec for t in config.tasks], config.vocab_size, reserved=[config.eos])


def schedules(config: RunConfig) -> list[InjectionSchedule]:
    return [InjectionSchedule(t.rate, config.global_batch, config.seq_len, config.per_sequence)
            for t in config.tasks]


def check_vocab(tokens: np.ndarray, config: RunConfig) -> None:
    if tokens.size and tokens.max() >= config.vocab_size:
        raise ConfigError(f"RunConfig.vocab_size {config.vocab_size} is too small for the corpus "
                          f"(it holds token {tokens.max()}).")


def training_batch(corpus, plan, tasks, step: int, config: RunConfig):
    """The global batch of ``step`` with its injections, and per task the indices of the
    train instances injected."""
    tokens = corpus.batch(step, config.global_batch)
    check_vocab(tokens, config)
    plans = plan_step(plan, step, [len(t.train) for t in tasks], config.seed)
    for task, (rows, idx) in zip(tasks, plans):
        inject(tokens, rows, task.train[idx], config.eos, config.per_sequence)
    return tokens, [idx for _, idx in plans]
