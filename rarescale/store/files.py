"""Files written so that a reader never sees half of one.

:func:`write_atomically` writes under a temporary name no other writer uses
(the process id and a random suffix), then renames the file into place: a
reader, or a concurrent writer of the same file, sees the old file, the new
one, or none.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes, read in 4 MiB blocks (a corpus or checkpoint need not fit twice)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def write_atomically(path, write) -> Path:
    """Call ``write(tmp)`` to write a temporary file beside ``path``, then rename it to ``path``.

    The folder is created if missing; the temporary file never outlives the call.
    """
    return write_together([(path, write)])[0]


def write_together(items) -> list[Path]:
    """:func:`write_atomically` for several files that go together: each ``(path, write)`` of
    ``items`` written to its temporary file first, and all renamed into place only when every one
    is written, so a failing write (a full disk) leaves none of them. An ``OSError`` from a write
    names that write's ``path`` in its ``filename``; no temporary file outlives the call."""
    pending = []  # (temporary, final)
    try:
        for path, write in items:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            pending.append((path.with_name(f"{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"), path))
            try:
                write(pending[-1][0])
            except OSError as exc:
                exc.filename = str(path)
                raise
        for tmp, path in pending:
            os.replace(tmp, path)
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
    return [path for _, path in pending]
