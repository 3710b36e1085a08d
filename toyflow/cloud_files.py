"""Files of clouds: a ``.npy`` file of float32 ``(n, num_points, 2)`` written whole or not at all, and read back with
one clear error for anything the judge cannot read (not an array, wrong shape or dtype, too few points, NaN or
infinite values)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .data import MIN_POINTS


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


def load_clouds(path: str | os.PathLike) -> np.ndarray:
    """The clouds of a ``.npy`` file as float32 ``(n, num_points, 2)``, ``n >= 1`` and ``num_points >= MIN_POINTS``;
    :class:`CloudFileError` (naming the file) for anything else."""
    try:
        clouds = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise CloudFileError(f"{path}: not a readable .npy file ({e})") from None
    if not isinstance(clouds, np.ndarray):  # an .npz archive of several arrays
        clouds.close()
        raise CloudFileError(f"{path}: an .npz archive, not a .npy file of one array")
    if clouds.dtype == np.bool_ or not np.issubdtype(clouds.dtype, np.number) or np.iscomplexobj(clouds):
        raise CloudFileError(f"{path}: expected real numbers (float or int), got dtype {clouds.dtype}")
    if clouds.ndim != 3 or clouds.shape[-1] != 2:
        raise CloudFileError(f"{path}: expected shape (n, num_points, 2), got {clouds.shape}")
    if clouds.shape[0] == 0:
        raise CloudFileError(f"{path}: holds no clouds (shape {clouds.shape})")
    if clouds.shape[1] < MIN_POINTS:
        raise CloudFileError(
            f"{path}: clouds of {clouds.shape[1]} points; the judge needs at least {MIN_POINTS} (shape {clouds.shape})"
        )
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
