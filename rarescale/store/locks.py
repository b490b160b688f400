"""File locks for files several processes share (corpora, artifacts, run folders).

``fcntl.flock`` locks, held on a small ``.lock`` file beside what they guard: the
kernel drops them when their process dies, so a killed run never leaves a lock
that blocks the next one. On a filesystem without ``flock`` (``ENOSYS`` or ``EOPNOTSUPP``,
as on some Lustre and NFS mounts) the same lock is taken with POSIX record locks
(``fcntl.lockf``); where neither exists, the lock is skipped with one warning, and runs in
one folder must then not overlap.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
from pathlib import Path

UNSUPPORTED = {errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK, errno.EINVAL}
"""What a filesystem without a kind of lock answers."""
_warned: set[str] = set()


def _lock(fd: int, mode: int, path: Path) -> bool:
    """Take the lock ``mode`` on ``fd``: flock, else lockf, else none (warned once a folder).
    True if taken (or skipped), False if another process holds it (non-blocking modes)."""
    for take in (fcntl.flock, fcntl.lockf):
        try:
            take(fd, mode)
            return True
        except (BlockingIOError, PermissionError):  # lockf says EACCES where flock says EAGAIN
            return False
        except OSError as exc:
            if exc.errno not in UNSUPPORTED:
                raise
    if str(path.parent) not in _warned:
        _warned.add(str(path.parent))
        print(f"warning: {path.parent} supports no file locks; runs there must not overlap",
              file=sys.stderr)
    return True


@contextlib.contextmanager
def _locked(path, mode: int):
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only place: nobody can write there, so nothing to guard
        yield False
        return
    try:
        taken = _lock(fd, mode, path)
    except BaseException:
        os.close(fd)
        raise
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
