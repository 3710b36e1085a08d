"""The flip map, drawn: for each noise of a fixed bank, model A's cloud (red) beside model B's (green) in a frame
whose colour says what B did with that noise (see :mod:`toyflow.flips`); a dashed frame means B's cloud is not
clean. With the counts."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch

from ..flips import CATEGORIES, DESCRIPTIONS, STAYED_ROLL, STAYED_S, TO_ROLL, TO_S, FlipMap
from ..plotting import GREEN, RED, png_bytes, rasterize

COLORS = {  # RGB 0-255 of each category's frame
    STAYED_ROLL: (163, 163, 163),
    TO_S: (22, 163, 74),
    STAYED_S: (37, 99, 235),
    TO_ROLL: (234, 88, 12),
}
FRAME, INNER, GAP = 3, 2, 5  # frame width, gap between A and B inside a cell, gap between cells (pixels)


def _frame(cell: np.ndarray, color: tuple[int, int, int], dashed: bool) -> None:
    """Paint a ``FRAME``-pixel border of ``color`` on ``cell (h, w, 3)`` in place (dashed: every other 4 pixels)."""
    h, w = cell.shape[:2]
    mask = np.zeros((h, w), dtype=bool)
    mask[:FRAME], mask[-FRAME:], mask[:, :FRAME], mask[:, -FRAME:] = True, True, True, True
    if dashed:
        rows, cols = np.indices((h, w))
        mask &= ((rows + cols) // 4) % 2 == 0
    cell[mask] = color


def flip_cell(a_cloud: torch.Tensor, b_cloud: torch.Tensor, category: str, clean: bool, size: int) -> np.ndarray:
    """One noise of the map: A's cloud ``(num_points, 2)`` in red beside B's in green, framed in the colour of
    ``category`` (dashed when B's cloud is not ``clean``); an RGB image."""
    h, w = size + 2 * FRAME + 2, 2 * size + INNER + 2 * FRAME + 2
    cell = np.full((h, w, 3), 255, dtype=np.uint8)
    top = FRAME + 1
    cell[top : top + size, top : top + size] = rasterize(a_cloud, size, RED, dot=1)
    left = top + size + INNER
    cell[top : top + size, left : left + size] = rasterize(b_cloud, size, GREEN, dot=1)
    _frame(cell, COLORS[category], dashed=not clean)
    return cell


def flip_map_png(
    a_clouds: torch.Tensor, b_clouds: torch.Tensor, flips: FlipMap, size: int = 40, columns: int = 8
) -> bytes:
    """The flip map as one PNG: a grid of :func:`flip_cell` s, ``columns`` per row, for A's and B's clouds
    ``(n, num_points, 2)`` of the same noises and their :class:`~toyflow.flips.FlipMap`."""
    cells = [
        flip_cell(a_clouds[i], b_clouds[i], flips.categories[i], bool(flips.b_clean[i]), size)
        for i in range(len(flips.categories))
    ]
    h, w = cells[0].shape[:2]
    rows = -(-len(cells) // columns)
    image = np.full((rows * (h + GAP) - GAP, columns * (w + GAP) - GAP, 3), 255, dtype=np.uint8)
    for i, cell in enumerate(cells):
        r, c = divmod(i, columns)
        image[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = cell
    return png_bytes(image)


def legend_html(flips: FlipMap) -> str:
    """The counts of each category, each after a swatch of its frame colour, and how many of B's clouds are clean."""
    counts, clean = flips.counts, flips.clean_counts
    items = []
    for c in CATEGORIES:
        r, g, b = COLORS[c]
        swatch = f'<span style="display:inline-block;width:10px;height:10px;border:3px solid rgb({r},{g},{b})"></span>'
        items.append(
            f'<span class="toyflow-flip-count" data-category="{html.escape(c)}">{swatch} '
            f"{html.escape(DESCRIPTIONS[c])}: <b>{counts[c]}</b> ({clean[c]} clean)</span>"
        )
    return " &nbsp; ".join(items)


class FlipMapView(widgets.VBox):
    """The flip map (an image of class ``toyflow-flipmap``), its counts (class ``toyflow-flip-counts``) and a key;
    empty until :meth:`show`. Its methods only set widget values, so a worker thread may call them."""

    def __init__(self, size: int = 40, columns: int = 8) -> None:
        self.size, self.columns = size, columns
        self.flips: FlipMap | None = None
        self.image = widgets.Image(format="png")
        self.image.add_class("toyflow-flipmap")
        self.caption = widgets.HTML("")
        self.counts = widgets.HTML("")
        self.counts.add_class("toyflow-flip-counts")
        super().__init__([self.caption])

    def show(self, a_clouds: torch.Tensor, b_clouds: torch.Tensor, flips: FlipMap, title: str = "") -> None:
        """Draw the map of A's and B's clouds ``(n, num_points, 2)`` of the bank and their ``flips``."""
        self.flips = flips
        self.image.value = flip_map_png(a_clouds, b_clouds, flips, self.size, self.columns)
        self.counts.value = f"<small>{legend_html(flips)}</small>"
        n = len(flips.categories)
        self.caption.value = (
            f"<b>The flip map</b>{' · ' + html.escape(title) if title else ''}<br><small>{n} held-out noises: "
            "model A's cloud (red) beside model B's (green); the frame says what B did with that noise; "
            "a dashed frame: B's cloud is not clean</small>"
        )
        self.children = (self.caption, self.image, self.counts)

    def pending(self) -> None:
        """Say that the map is being measured (the last map stays until the new one is ready)."""
        self.caption.value = "<b>The flip map</b><br><small><i>measuring B on the held-out noises…</i></small>"

    def failed(self, message: str) -> None:
        """Say that measuring failed (never raised: this may run on a worker thread)."""
        self.caption.value = f'<small style="color:#b91c1c">flip map: {html.escape(message)}</small>'
