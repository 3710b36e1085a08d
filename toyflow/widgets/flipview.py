"""The flip map, drawn: for each noise of a fixed bank, model A's cloud (red) beside model B's (green) in a frame
whose colour says what B did with that noise (see :mod:`toyflow.flips`); a dashed frame means B's cloud is not
clean. With the counts."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch

from ..flips import CATEGORIES, DESCRIPTIONS, STAYED_ROLL, STAYED_S, TO_ROLL, TO_S, FlipMap
from ..plotting import GREEN, RED, indexed_png, pixel_places, rgb_bytes

COLORS = {  # RGB 0-255 of each category's frame
    STAYED_ROLL: (163, 163, 163),
    TO_S: (22, 163, 74),
    STAYED_S: (37, 99, 235),
    TO_ROLL: (234, 88, 12),
}
FRAME, INNER, GAP = 3, 2, 5  # frame width, gap between A and B inside a cell, gap between cells (pixels)


PALETTE = np.array(  # the map's colour numbers: white, A's red, B's green, then each category's frame
    [(255, 255, 255), tuple(rgb_bytes(RED)), tuple(rgb_bytes(GREEN))] + [COLORS[c] for c in CATEGORIES], dtype=np.uint8
)


def frame_masks(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a cell of :func:`flip_map_indices` (``size``-pixel clouds) has its ``FRAME``-pixel border: bool ``(h,
    w)`` masks of the solid frame and of the dashed one (every other 4 pixels along the diagonals)."""
    h, w = size + 2 * FRAME + 2, 2 * size + INNER + 2 * FRAME + 2
    solid = np.zeros((h, w), dtype=bool)
    solid[:FRAME], solid[-FRAME:], solid[:, :FRAME], solid[:, -FRAME:] = True, True, True, True
    rows, cols = np.indices((h, w))
    return solid, solid & (((rows + cols) // 4) % 2 == 0)


def flip_map_indices(
    a_clouds: torch.Tensor, b_clouds: torch.Tensor, flips: FlipMap, size: int = 40, columns: int = 8
) -> np.ndarray:
    """The flip map as colour numbers into :data:`PALETTE`, uint8 ``(height, width)``: ``columns`` cells a row, one
    per noise: A's cloud ``(num_points, 2)`` in red beside B's in green, each in a ``size``-pixel square (one pixel a
    point; points outside [-1.1, 1.1]^2 on the square's edge), framed in the colour of its category of ``flips``
    (dashed when B's cloud is not clean). Every cloud's points are placed at once."""
    n = len(flips.categories)
    solid, dashed = frame_masks(size)
    h, w = solid.shape
    image = np.zeros((-(-n // columns) * (h + GAP) - GAP, columns * (w + GAP) - GAP), dtype=np.uint8)
    cell_row, cell_col = np.divmod(np.arange(n), columns)
    tops, lefts = cell_row * (h + GAP) + FRAME + 1, cell_col * (w + GAP) + FRAME + 1
    for colour, clouds, shift in ((1, a_clouds, 0), (2, b_clouds, size + INNER)):
        places = pixel_places(clouds[:n], size)
        (cloud,) = places.cloud
        image[tops[cloud] + places.row, lefts[cloud] + shift + places.col] = colour
    for i, category in enumerate(flips.categories):
        top, left = tops[i] - FRAME - 1, lefts[i] - FRAME - 1
        mask = solid if flips.b_clean[i] else dashed
        image[top : top + h, left : left + w][mask] = 3 + CATEGORIES.index(category)
    return image


def flip_map_png(
    a_clouds: torch.Tensor, b_clouds: torch.Tensor, flips: FlipMap, size: int = 40, columns: int = 8
) -> bytes:
    """The flip map as one indexed PNG (:func:`flip_map_indices`), for A's and B's clouds ``(n, num_points, 2)`` of
    the same noises and their :class:`~toyflow.flips.FlipMap`."""
    return indexed_png(flip_map_indices(a_clouds, b_clouds, flips, size, columns), PALETTE)


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
