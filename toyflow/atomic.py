"""Writing a file atomically: into a temporary file beside it, then a rename over the target.

Whatever stops the write (an error, Ctrl-C, a full disk), the temporary file is removed and the target keeps its old
content, or stays absent; a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class UnwritableTarget(ValueError):
    """A file that cannot be written where asked (the path is a folder, or its folder cannot be made or written);
    raised before anything is written."""


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Create or replace ``path`` with what ``write(tmp)`` writes into the temporary file ``tmp`` (same folder, so the
    final rename is atomic); returns ``path``. Parent folders are created. The file gets the usual permissions (as
    ``open`` would give it), not the private ones of a temporary file. :class:`UnwritableTarget` (one line naming the
    path) when ``path`` is a folder or its folder cannot be made or written into; nothing is left behind."""
    path = Path(path)
    if path.is_dir():
        raise UnwritableTarget(f"{path} is a folder; name a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UnwritableTarget(f"cannot make the folder {path.parent} for {path}: {e.strerror or e}") from None
    tmp: Path | None = None
    try:
        try:
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as e:
            raise UnwritableTarget(f"cannot write {path}: {e.strerror or e}") from None
        tmp = Path(name)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path
