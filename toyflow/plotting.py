"""Drawing clouds: fast PNG tiles for widgets and matplotlib grids for notebooks, the README and the CLI."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .atomic import atomic_write

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn, not with toyflow
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

RED = (0.84, 0.15, 0.16)
GREEN = (0.17, 0.63, 0.17)
WHITE = (1.0, 1.0, 1.0)
PNG_LEVEL = 1  # zlib's level for indexed PNGs: the fastest, and still fewer bytes than RGB at PIL's default level 6


@dataclass(frozen=True)
class PixelPlaces:
    """The pixels of points drawn on a square canvas (:func:`pixel_places`): for each point drawn, the index of its
    cloud in the leading dimensions (``cloud``, a tuple of index arrays, each ``(points,)``), and the ``row`` and
    ``col`` of each pixel of its dot, ``(dot * dot, points)``: index arrays that broadcast together."""

    cloud: tuple[np.ndarray, ...]
    row: np.ndarray
    col: np.ndarray


def _as_numpy(clouds: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(clouds, torch.Tensor):
        clouds = clouds.detach().cpu().numpy()
    return np.asarray(clouds, dtype=np.float32)


def dot_mask(cloud: torch.Tensor | np.ndarray, size: int = 160, dot: int = 2, drop_outside: bool = False) -> np.ndarray:
    """Where one cloud ``(num_points, 2)`` in [-1.1, 1.1]^2 puts its dots on a ``size`` x ``size`` canvas: bool
    ``(size, size)``, each point a ``dot`` x ``dot`` square. Points outside the square are drawn on its edge, or left
    out with ``drop_outside`` (noise, whose points reach far out, would otherwise draw a frame); non-finite points
    are left out."""
    places = pixel_places(cloud, size, drop_outside, dot)
    mask = np.zeros((size, size), dtype=bool)
    mask[places.row, places.col] = True
    return mask


def rgb_bytes(color: tuple[float, float, float]) -> np.ndarray:
    """A colour with components in [0, 1] as uint8 RGB ``(3,)``."""
    return (np.asarray(color, dtype=np.float32) * 255).astype(np.uint8)


def rasterize(
    cloud: torch.Tensor | np.ndarray,
    size: int = 160,
    color: tuple[float, float, float] = RED,
    dot: int = 2,
    drop_outside: bool = False,
) -> np.ndarray:
    """Render one cloud ``(num_points, 2)`` in [-1.1, 1.1]^2 as an RGB image ``(size, size, 3)`` uint8 on white
    (:func:`dot_mask`). Pure NumPy (about a millisecond), so tiles redraw instantly."""
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    img[dot_mask(cloud, size, dot, drop_outside)] = rgb_bytes(color)
    return img


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an RGB image ``(height, width, 3)`` uint8 as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def indexed_png(indices: np.ndarray, palette: Sequence[tuple[float, float, float]] | np.ndarray) -> bytes:
    """Encode an image of colour numbers ``indices (height, width)`` uint8, each an index into ``palette`` (colours
    with components in [0, 1], or uint8 RGB rows ``(k, 3)``; at most 256), as an indexed PNG: a third of an RGB
    image's bytes to compress, for pictures drawn in a few colours (A and B in motion, the flip map)."""
    from PIL import Image

    if not 1 <= len(palette) <= 256:
        raise ValueError(f"a palette holds 1 to 256 colours, got {len(palette)}")
    rows = palette if isinstance(palette, np.ndarray) else np.stack([rgb_bytes(c) for c in palette])
    image = Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint8), mode="P")
    image.putpalette(np.ascontiguousarray(rows, dtype=np.uint8).reshape(-1).tolist())
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=PNG_LEVEL)
    return buf.getvalue()


def pixel_places(clouds: torch.Tensor | np.ndarray, size: int, drop_outside: bool = False, dot: int = 1) -> PixelPlaces:
    """The pixels the points of ``clouds (..., num_points, 2)`` in [-1.1, 1.1]^2 cover on a ``size`` x ``size``
    canvas, each point a ``dot`` x ``dot`` square kept inside it (non-finite points left out; points outside the square
    on its edge, or left out with ``drop_outside``): :class:`PixelPlaces`."""
    pts = _as_numpy(clouds)
    keep = np.isfinite(pts).all(axis=-1)
    if drop_outside:
        keep &= (np.abs(pts) <= 1.1).all(axis=-1)
    where = np.nonzero(keep)
    xy = pts[where]
    scale = (size - 1) / 2.2
    col = np.clip(((xy[:, 0] + 1.1) * scale).round().astype(int), 0, size - 1)
    row = np.clip(((1.1 - xy[:, 1]) * scale).round().astype(int), 0, size - 1)
    shift_row, shift_col = np.divmod(np.arange(dot * dot), dot)
    return PixelPlaces(
        where[:-1],
        np.minimum(row[None, :] + shift_row[:, None], size - 1),
        np.minimum(col[None, :] + shift_col[:, None], size - 1),
    )


def cloud_png(cloud: torch.Tensor | np.ndarray, size: int = 160, color: tuple[float, float, float] = RED) -> bytes:
    """One cloud ``(num_points, 2)`` as a PNG tile (bytes): :func:`rasterize`'s pixels, encoded as an indexed PNG of
    two colours (a quarter of the time of the RGB image, and fewer bytes)."""
    return indexed_png(dot_mask(cloud, size).astype(np.uint8), [WHITE, color])


def draw_panel(
    ax: Axes, cloud: np.ndarray | None, color: tuple[float, float, float] | str, title: str | None = None
) -> None:
    """Draw one cloud ``(num_points, 2)`` on a matplotlib axis in [-1.1, 1.1]^2; ``None`` blanks the axis."""
    if cloud is None:
        ax.axis("off")
        return
    ax.set_xlim(-1.1, 1.1)
    ax.set_ylim(-1.1, 1.1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.scatter(cloud[:, 0], cloud[:, 1], s=2, color=color, linewidths=0)
    if title:
        ax.set_title(title, fontsize=9)


def plot_clouds(
    clouds: torch.Tensor | np.ndarray,
    color: tuple[float, float, float] | str = RED,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 1.8,
    suptitle: str | None = None,
) -> Figure:
    """A matplotlib figure with one panel per cloud of ``clouds (n, num_points, 2)``; returns the figure."""
    import matplotlib.pyplot as plt

    arr = _as_numpy(clouds)
    n = len(arr)
    ncols = ncols or n
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        draw_panel(ax, arr[i] if i < n else None, color, titles[i] if titles is not None and i < n else None)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def save_round_figure(
    path: str | os.PathLike,
    proposals: torch.Tensor | np.ndarray,
    same_noise: torch.Tensor | np.ndarray | None = None,
    fresh: torch.Tensor | np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Save a PNG of one feedback round: the proposals of A ``(n, num_points, 2)`` in red with their indices,
    then (if given) B on the same noise in green under them, then fresh samples of B in green. Returns the path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = [(proposals, RED, "A #{}")]
    if same_noise is not None:
        rows.append((same_noise, GREEN, "B, same noise #{}"))
    if fresh is not None:
        rows.append((fresh, GREEN, "B, fresh #{}"))
    ncols = max(len(r[0]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.9 * ncols, 2.0 * len(rows) + 0.3), squeeze=False)
    for (clouds, color, label), row in zip(rows, axes, strict=True):
        arr = _as_numpy(clouds)
        for i, ax in enumerate(row):
            draw_panel(ax, arr[i] if i < len(arr) else None, color, label.format(i))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:  # written whole or not at all: an interrupt never leaves half a picture
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    finally:
        plt.close(fig)
