"""The picker's chart: S-fraction and clean fraction of models A and B over the rounds."""

from __future__ import annotations

import html
import io
import threading
from collections.abc import Sequence

import ipywidgets as widgets

from ..plotting import GREEN, RED
from ..preference.records import ChartPoint

_FIGURES = threading.local()  # per thread (the chart is drawn on a worker thread): the chart's figure, kept


def _chart_figure(width: float, height: float):
    """The figure of :func:`chart_png` for this size, made once per thread: ``(figure, axes, lines)``, the lines
    being A's and B's S-fraction, then A's and B's clean fraction."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figures = _FIGURES.__dict__.setdefault("chart", {})
    if (width, height) not in figures:
        fig = Figure(figsize=(width, height), dpi=80)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        lines = (
            ax.plot([], [], "o--", color=RED, label="A: S-fraction", markersize=3)[0],
            ax.plot([], [], "o-", color=GREEN, label="B: S-fraction", markersize=3)[0],
            ax.plot([], [], ":", color=RED, label="A: clean", lw=1)[0],
            ax.plot([], [], ":", color=GREEN, label="B: clean", lw=1.5)[0],
        )
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("round", fontsize=8)
        ax.set_ylabel("fraction (judge)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        figures[(width, height)] = (fig, ax, lines)
    return figures[(width, height)]


def chart_png(points: Sequence[ChartPoint], width: float = 3.4, height: float = 2.2) -> bytes:
    """A small PNG line chart of the S-fraction (solid) and the clean fraction (dotted) of A and B, one
    :class:`~toyflow.preference.records.ChartPoint` per round. Uses matplotlib's Agg canvas directly (no pyplot),
    so it never pops up a figure of its own in a notebook; one figure per size and thread, made once and redrawn
    with the new lines.
    """
    fig, ax, lines = _chart_figure(width, height)
    rounds = [p.round for p in points]
    columns = ("s_fraction_a", "s_fraction_b", "clean_a", "clean_b")
    for column, line in zip(columns, lines, strict=True):
        line.set_data(rounds, [getattr(p, column) for p in points])
    ax.set_xlim(min(rounds, default=0) - 0.3, max(max(rounds, default=0), 1) + 0.3)
    ax.set_xticks(sorted(set(rounds)) or [0])
    ax.legend(handles=list(lines), fontsize=6, loc="best", ncol=2)
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class ChartView(widgets.HBox):
    """The chart (an image of class ``toyflow-chart``) and its caption; empty until the first :meth:`show`.

    Its methods only set widget values, so a worker thread may call them.
    """

    def __init__(self) -> None:
        super().__init__([], layout=widgets.Layout(align_items="center"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="272px"))
        self.image.add_class("toyflow-chart")
        self.caption = widgets.HTML("")

    def show(self, points: Sequence[ChartPoint], eval_n: int) -> None:
        """Draw ``points`` (see :func:`chart_png`) and say what the last one measured on ``eval_n`` clouds."""
        self.image.value = chart_png(points)
        self.children = (self.image, self.caption)
        last = points[-1]
        self.caption.value = (
            f"<small>after round {last.round}, read by the judge on {eval_n} clouds from fixed noises:<br>"
            f"S-fraction: model A {last.s_fraction_a:.2f}, model B {last.s_fraction_b:.2f}; "
            f"clean: A {last.clean_a:.2f}, B {last.clean_b:.2f}</small>"
        )

    def pending(self) -> None:
        """Say that a new point is being measured."""
        self.caption.value = "<small><i>measuring the S-fraction and clean fraction of B…</i></small>"

    def clear(self) -> None:
        """Hide the chart and its caption."""
        self.children = ()
        self.caption.value = ""

    def failed(self, message: str) -> None:
        """Say that measuring failed (never raised: this may run on a worker thread)."""
        self.caption.value = f'<small style="color:#b91c1c">chart: {html.escape(message)}</small>'
