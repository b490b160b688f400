"""File locks for files several processes share (corpora, artifacts, run folders).

``fcntl.flock`` locks, held on a small ``.lock`` file beside what they guard: the
kernel drops them when their process dies, so a killed run never leaves a lock
that blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


@contextlib.contextmanager
def _locked(path, mode: int):
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only place: nobody can write there, so nothing to guard
        yield False
        return
    try:
        fcntl.flock(fd, mode)
        taken = True
    except BlockingIOError:
        taken = False
    try:
        yield taken
    finally:
        os.close(fd)  # closing drops the lock


def exclusive(path):
    """Hold an exclusive lock on ``path`` (created if missing), waiting for it."""
    return _locked(path, fcntl.LOCK_EX)


def shared(path):
    """Hold a shared lock on ``path``: many readers, no writer."""
    return _locked(path, fcntl.LOCK_SH)


def try_exclusive(path):
    """An exclusive lock on ``path`` if free now; the context yields whether it was taken."""
    return _locked(path, fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextlib.contextmanager
def wait_for_lock(path, wait_s: float, poll_s: float = 0.25):
    """An exclusive lock on ``path``, waiting up to ``wait_s``; yields whether it was taken."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        with try_exclusive(path) as taken:
            if taken or time.monotonic() >= deadline:
                yield taken
                return
        time.sleep(poll_s)
