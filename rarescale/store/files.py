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


def write_atomically(path, write) -> Path:
    """Call ``write(tmp)`` to write a temporary file beside ``path``, then rename it to ``path``.

    The folder is created if missing; the temporary file never outlives the call.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
