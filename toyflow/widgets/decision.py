"""The decision over time, drawn: per proposal, the probability of an S curve from noise (t = 0) to shape (t = 1),
model A in red and model B on the same noise in green (see :mod:`toyflow.decision` for what is read)."""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
import torch

from ..plotting import GREEN, RED, png_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

DECISION_HEADING = (
    "<b>The decision over time</b>: P(S curve) from noise (t = 0) to shape (t = 1), "
    '<span style="color:#d62728">model A</span> and <span style="color:#2ca02c">model B on the same noise</span>'
)


_FIGURES = threading.local()  # per thread (the views are drawn on a worker thread): the plots' figures, kept


@dataclass
class DecisionFigure:
    """The figure of :func:`decision_png` for one size: its axes, A's and B's lines, and ``background``, the canvas
    with the axes, ticks and labels drawn once and no line (restored before each plot's lines are drawn on it)."""

    figure: Figure
    axes: Axes
    line_a: Line2D
    line_b: Line2D
    background: object


def _decision_figure(width: float, height: float) -> DecisionFigure:
    """The :class:`DecisionFigure` for this size, made once per thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figures = _FIGURES.__dict__.setdefault("decision", {})
    if (width, height) not in figures:
        fig = Figure(figsize=(width, height), dpi=80)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.2, 0.24, 0.76, 0.7))
        ax.axhline(0.5, color="#bbbbbb", lw=0.8, ls=":")
        (line_a,) = ax.plot([], [], "o--", color=RED, ms=2.5, lw=1.2, label="A")
        (line_b,) = ax.plot([], [], "o-", color=GREEN, ms=2.5, lw=1.6, label="B")
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.06, 1.06)
        ax.set_xticks([0, 0.5, 1])
        ax.set_yticks([0, 0.5, 1])
        ax.set_xlabel("t", fontsize=7, labelpad=0)
        ax.set_ylabel("P(S)", fontsize=7, labelpad=1)
        ax.tick_params(labelsize=6, length=2, pad=1)
        for line in (line_a, line_b):
            line.set_visible(False)
        fig.canvas.draw()
        figures[(width, height)] = DecisionFigure(fig, ax, line_a, line_b, fig.canvas.copy_from_bbox(fig.bbox))
    return figures[(width, height)]


def decision_png(
    times: torch.Tensor,
    p_a: torch.Tensor | None = None,
    p_b: torch.Tensor | None = None,
    width: float = 2.0,
    height: float = 1.2,
) -> bytes:
    """A small PNG plot of one noise's decision over time: ``p_a`` (model A, red, dashed) and ``p_b`` (model B,
    green), each ``(k,)`` at ``times (k,)`` in [0, 1]; either may be ``None``. Matplotlib's Agg canvas, no pyplot
    (nothing pops up in a notebook). The axes are drawn once per size and thread (:class:`DecisionFigure`); each plot
    restores them and draws its two lines on top (the lines stay inside the axes' margins, so the picture is the
    same pixels as a whole figure drawn again, in a ninth of the time)."""
    plot = _decision_figure(width, height)
    canvas = plot.figure.canvas
    canvas.restore_region(plot.background)
    t = torch.as_tensor(times).detach().cpu().numpy()
    for line, p in ((plot.line_a, p_a), (plot.line_b, p_b)):
        line.set_visible(p is not None)
        if p is not None:
            line.set_data(t, torch.as_tensor(p).detach().cpu().numpy())
            plot.axes.draw_artist(line)
    return png_bytes(np.asarray(canvas.buffer_rgba())[..., :3])


class DecisionRow(widgets.VBox):
    """A heading and one small plot per proposal (boxes of class ``toyflow-decision``, laid out like the tiles
    above them, so each plot sits under its pair of tiles); empty until :meth:`show`. Its methods only set widget
    values, so a worker thread may call them."""

    def __init__(self, n: int, size: int) -> None:
        self.size = size
        self.images = [widgets.Image(format="png", layout=widgets.Layout(width=f"{size}px")) for _ in range(n)]
        self.boxes = []
        for image in self.images:
            box = widgets.VBox(
                [image],
                layout=widgets.Layout(
                    border="3px solid transparent", margin="2px", padding="4px", align_items="center"
                ),
            )
            box.add_class("toyflow-decision")
            self.boxes.append(box)
        self.caption = widgets.HTML("")
        self.row = widgets.HBox([])
        self.pngs: list[bytes] = []
        super().__init__([self.caption, self.row])

    def show(self, times: torch.Tensor, p_a: torch.Tensor, p_b: torch.Tensor | None, reading: str = "") -> None:
        """Draw each proposal's ``p_a[i]`` and ``p_b[i]`` (``(n, k)``) at ``times (k,)``; ``reading`` says what P(S)
        is (the gate's, or the judge's reading of the straight-line endpoint)."""
        self.pngs = [decision_png(times, p_a[i], None if p_b is None else p_b[i]) for i in range(p_a.shape[0])]
        for image, png in zip(self.images, self.pngs, strict=True):
            image.value = png
        self.row.children = tuple(self.boxes)
        what = f" (read as {html.escape(reading)})" if reading else ""
        self.caption.value = f"{DECISION_HEADING}{what}"

    def pending(self) -> None:
        """Say that the plots are being drawn (the tiles above are already shown)."""
        self.row.children = ()
        self.caption.value = "<small><i>drawing the decision over time…</i></small>"

    def clear(self) -> None:
        """Hide the plots."""
        self.row.children = ()
        self.caption.value = ""
        self.pngs = []

    def failed(self, message: str) -> None:
        """No plots, and ``message`` (why) in their place."""
        self.row.children = ()
        self.pngs = []
        self.caption.value = f"<small>{html.escape(message)}</small>"
