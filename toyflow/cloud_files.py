"""Files of clouds: a ``.npy`` file of float32 ``(n, num_points, 2)`` written whole or not at all, and read back with
one clear error for anything the judge cannot read (not an array, wrong shape or dtype, too few points, a truncated
file, NaN or infinite values). The header is read by its schema (:class:`NpyHeader`) before any value."""

from __future__ import annotations

import ast
import math
import os
import struct
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import numpy as np
from numpy.lib.format import descr_to_dtype

from .atomic import atomic_write, special_file
from .data import MIN_POINTS
from .schema import Flag, Problem, StrictModel, check, leaf
from .validation import shown


class CloudFileError(ValueError):
    """A file of clouds that cannot be used: unreadable, or not real numbers of shape (n, num_points, 2)."""


class NonFiniteClouds(ValueError):
    """Clouds with NaN or infinite values: the judge cannot read them."""


def save_clouds(path: str | os.PathLike, clouds: np.ndarray) -> Path:
    """Write ``clouds (n, num_points, 2)`` to ``path`` as a float32 ``.npy`` file, atomically (exactly at ``path``: no
    ``.npy`` is appended); returns ``path``."""
    array = np.asarray(clouds, dtype=np.float32)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    return atomic_write(path, write)


MAGIC = b"\x93NUMPY"  # every .npy file starts with it, then its version (major, minor)
ZIP = b"PK\x03\x04"  # an .npz archive
MAX_HEADER = 10_000  # bytes of a .npy header numpy itself reads at most without trusting the file
HEADER_LENGTH = {1: ("<H", "latin1"), 2: ("<I", "latin1"), 3: ("<I", "utf8")}  # version -> its length's format


def _dtype_problem(value: object) -> str | None:
    try:
        dtype = descr_to_dtype(value)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError):
        return f"must be a numpy dtype, got {shown(value)}"
    if dtype.kind not in "iuf" or dtype.itemsize == 0:
        return f"must be real numbers (float or int), got dtype {dtype}"
    return None


def _shape_problem(value: object) -> str | None:
    if not isinstance(value, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        return f"must be a tuple of integers, got {shown(value)}"
    if len(value) != 3 or value[-1] != 2 or min(value) < 0:
        return f"must be (n, num_points, 2), got {shown(value)}"
    if value[0] == 0:
        return f"holds no clouds, got {value}"
    if value[1] < MIN_POINTS:
        return f"gives clouds of {value[1]} points; the judge needs at least {MIN_POINTS}, got {value}"
    return None


Dtype = Annotated[Any, leaf(_dtype_problem, descr_to_dtype)]
Shape = Annotated[tuple, leaf(_shape_problem, tuple)]


class NpyHeader(StrictModel):
    """The header of a ``.npy`` file of clouds (a Python dict literal of exactly these keys)."""

    descr: Dtype
    fortran_order: Flag
    shape: Shape


HEADER_WORDS = {"descr": "the values", "shape": "the shape", "fortran_order": "the order of the values"}


def read_header(f: BinaryIO, path: str | os.PathLike) -> NpyHeader:
    """The header of the ``.npy`` file open in ``f`` (left at the first value), checked by :class:`NpyHeader`;
    :class:`CloudFileError` naming ``path`` for anything else."""
    prefix = f.read(len(MAGIC) + 2)
    if prefix.startswith(ZIP):
        raise CloudFileError(f"{path}: an .npz archive, not a .npy file of one array")
    if len(prefix) < len(MAGIC) + 2 or not prefix.startswith(MAGIC):
        raise CloudFileError(f"{path}: not a readable .npy file (it does not start as one)")
    version, minor = prefix[len(MAGIC)], prefix[len(MAGIC) + 1]
    if version not in HEADER_LENGTH or minor != 0:  # as numpy: versions 1.0, 2.0 and 3.0
        raise CloudFileError(
            f"{path}: not a readable .npy file (format version {version}.{minor}, toyflow reads 1.0, 2.0 and 3.0)"
        )
    length_format, encoding = HEADER_LENGTH[version]
    size = struct.calcsize(length_format)
    raw = f.read(size)
    length = struct.unpack(length_format, raw)[0] if len(raw) == size else -1
    if not 0 < length <= MAX_HEADER:
        raise CloudFileError(f"{path}: not a readable .npy file (a header of {length} bytes)")
    header = f.read(length)
    if len(header) < length:
        raise CloudFileError(f"{path}: not a readable .npy file (truncated in its header)")
    try:
        fields = ast.literal_eval(header.decode(encoding))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise CloudFileError(f"{path}: not a readable .npy file (its header is not a Python literal)") from None
    try:
        return check(NpyHeader, fields)
    except Problem as p:
        what = HEADER_WORDS.get(p.field, f"the .npy header's '{p.field}'" if p.field else "the .npy header")
        raise CloudFileError(f"{path}: {what} {p.phrase}") from None


def load_clouds(path: str | os.PathLike) -> np.ndarray:
    """The clouds of a ``.npy`` file as float32 ``(n, num_points, 2)``, ``n >= 1`` and ``num_points >= MIN_POINTS``;
    :class:`CloudFileError` (naming the file) for anything else. The header is checked (:func:`read_header`) and the
    file's size compared with what it announces before a value is read; nothing is unpickled."""
    if special_file(path):
        raise CloudFileError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            header = read_header(f, path)
            count = math.prod(header.shape)
            expected = count * header.descr.itemsize
            left = os.fstat(f.fileno()).st_size - f.tell()
            if left != expected:
                cut = "truncated" if left < expected else "longer than its header says"
                raise CloudFileError(
                    f"{path}: {cut}: {left} bytes of values where its header announces {expected} ({header.shape})"
                )
            values = np.fromfile(f, dtype=header.descr, count=count)
    except OSError as e:
        raise CloudFileError(f"{path}: not a readable .npy file ({e.strerror or e})") from None
    clouds = values.reshape(header.shape, order="F" if header.fortran_order else "C")
    with np.errstate(over="ignore"):  # values beyond float32 become infinite, and check_finite counts them
        return clouds.astype(np.float32)


def check_finite(clouds: np.ndarray, what: str) -> None:
    """Raise :class:`NonFiniteClouds` (saying how many clouds and values) if ``clouds (n, num_points, 2)`` holds a NaN
    or an infinity; ``what`` names them in the message."""
    bad = ~np.isfinite(clouds)
    if bad.any():
        clouds_bad = int(bad.any(axis=(1, 2)).sum())
        raise NonFiniteClouds(
            f"{what}: {clouds_bad} of {len(clouds)} clouds have non-finite values ({int(bad.sum())} of {bad.size} "
            "values are NaN or infinite); the judge cannot read them"
        )
