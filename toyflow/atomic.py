"""Writing a file atomically: into a temporary file beside it, then a rename over the target.

:func:`check_target` says before any work whether a file can be written at a path: not a folder, in a folder that
exists or can be made, in a place that can be written, on a disk with room left. :func:`atomic_write` checks the
same, then writes; whatever stops the write (an error, Ctrl-C, a disk that fills up on the way), the temporary file
and any folder made for it are removed and the target keeps its old content, or stays absent: a reader never sees
half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

MIN_FREE = 64 * 1024  # bytes a disk must have left for any file to be written on it
TMP_EXTRA = 16  # bytes the temporary file's name adds to the target's (".", ".XXXXXXXX.tmp" and a margin)


def _umask() -> int:
    """The process's umask (the permissions a new file does not get). Read from ``/proc`` where the system has it:
    setting it to read it would, for a moment, change the files that other threads make (the picker's worker)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # elsewhere: the moment's files are private, never open to all
    os.umask(mask)
    return mask


class UnwritableTarget(ValueError):
    """A file that cannot be written where asked (the path is a folder, its folder cannot be made or written, or its
    disk is full); raised before anything is written."""


class WriteFailed(OSError):
    """A write that failed on the way (the disk filled up, an input/output error): nothing was left behind and the
    target is as it was."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.path = path
        self.message = f"could not write {path}: {cause.strerror or cause}; nothing was written ({path} is unchanged)"

    def __str__(self) -> str:
        return self.message


def _nearest_existing(path: Path) -> Path:
    """``path`` itself or its nearest ancestor that exists (as a file, a folder or a dangling link)."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def check_folder(folder: str | os.PathLike, for_path: str | os.PathLike | None = None, size: int = 0) -> Path:
    """Raise :class:`UnwritableTarget` (one line) unless files of ``size`` bytes can be written in ``folder``: it is a
    folder or can be made (its nearest existing ancestor is a folder), the place can be written (a probe file is
    created there and removed at once), and its disk has ``max(size, MIN_FREE)`` bytes free. Nothing is left."""
    folder = Path(folder).absolute()
    target = Path(for_path) if for_path is not None else folder
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        what = "a file" if existing.exists() else "a broken link"
        raise UnwritableTarget(f"cannot make the folder {folder} for {target}: {existing} is {what}, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".toyflow-probe-"):
            pass
    except OSError as e:
        raise UnwritableTarget(f"cannot write {target}: {existing} cannot be written into ({_reason(e)})") from None
    free = shutil.disk_usage(existing).free
    need = max(size, MIN_FREE)
    if free < need:
        raise UnwritableTarget(
            f"cannot write {target}: the disk holding {existing} is full ({free} bytes free, {need} needed)"
        )
    return folder


def special_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is there but not a regular file (a folder, a pipe, a device): a reader refuses it rather than
    wait on it for ever."""
    return os.path.exists(path) and not os.path.isfile(path)


def check_target(path: str | os.PathLike, size: int = 0) -> Path:
    """``path`` when a file of ``size`` bytes can be written there (see :func:`check_folder`); raise
    :class:`UnwritableTarget` (one line naming the path) when ``path`` is a folder or another thing than a file (a
    device), its folder cannot be made or written into, or its disk is full. Nothing is written."""
    path = Path(path)
    name_max = 255 - TMP_EXTRA  # the temporary file beside it is named .NAME.XXXXXXXX.tmp
    if len(os.fsencode(path.name)) > name_max:
        raise UnwritableTarget(f"cannot write {path}: its name is too long (at most {name_max} bytes here)")
    try:
        if path.is_dir():
            raise UnwritableTarget(f"{path} is a folder; name a file to write")
        if os.path.lexists(path) and not (path.is_file() or path.is_symlink()):
            raise UnwritableTarget(f"{path} is not a regular file (a device, a pipe or a socket); name a file to write")
    except OSError as e:  # a path the system cannot even look at (a folder's name too long, ...)
        raise UnwritableTarget(f"cannot write {path}: {_reason(e)}") from None
    check_folder(path.parent, path, size)
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Create or replace ``path`` with what ``write(tmp)`` writes into the temporary file ``tmp`` (same folder, so the
    final rename is atomic); returns ``path``. Parent folders are created. The file gets the usual permissions (as
    ``open`` would give it), not the private ones of a temporary file. :class:`UnwritableTarget` before anything is
    written when :func:`check_target` refuses ``path``; :class:`WriteFailed` when the write fails on the way (a full
    disk): either way nothing is left behind, not even the folders made for it, and an existing file is unchanged."""
    path = Path(path)
    check_target(path)
    made: list[Path] = []
    tmp: Path | None = None
    try:
        missing = path.parent.absolute()
        while not missing.exists():
            made.append(missing)
            missing = missing.parent
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as e:
            raise UnwritableTarget(f"cannot write {path}: {_reason(e)}") from None
        tmp = Path(name)
        os.close(fd)
        try:
            write(tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as e:
            if isinstance(e, WriteFailed):
                raise
            raise WriteFailed(path, e) from e
        tmp = None
        made = []
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        for folder in made:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
    return path
