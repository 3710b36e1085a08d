"""What the picker shows under the tiles after a round: model B on the same noise, the decision over time under
each pair of tiles, fresh samples of B, the chart."""

from __future__ import annotations

import html
from collections.abc import Sequence
from concurrent.futures import Future

import ipywidgets as widgets
import torch

from ..plotting import GREEN, cloud_png
from .chart import ChartView
from .decision import DecisionRow
from .status import Pending

B_HEADING = "<b>Model B on the same noise</b> (green), under A's proposals"
FRESH_HEADING = "<b>{} fresh samples of model B</b> (green)"


class ResultRow:
    """A heading and a row of ``count`` green tiles of model B (each a box of class ``css_class`` holding an image
    and a caption); empty until :meth:`show`."""

    def __init__(self, css_class: str, count: int, size: int, caption: str, heading: str) -> None:
        self.size, self.heading = size, heading
        self.tiles = []
        for i in range(count):
            image = widgets.Image(format="png", layout=widgets.Layout(width=f"{size}px", height=f"{size}px"))
            label = widgets.HTML(f"<small>{html.escape(caption.format(i))}</small>")
            box = widgets.VBox(
                [image, label],
                layout=widgets.Layout(
                    border="3px solid transparent", margin="2px", padding="4px", align_items="center"
                ),
            )
            box.add_class(css_class)
            self.tiles.append((box, image, label))
        self.caption = widgets.HTML("")
        self.row = widgets.HBox([])

    def show(self, clouds: torch.Tensor) -> None:
        """Draw ``clouds (count, num_points, 2)`` in green and show the row."""
        for (_box, image, _label), cloud in zip(self.tiles, clouds, strict=True):
            image.value = cloud_png(cloud, self.size, GREEN)
        self.row.children = tuple(box for box, _, _ in self.tiles)
        self.caption.value = self.heading

    def clear(self) -> None:
        """Hide the row."""
        self.row.children = ()
        self.caption.value = ""


class ResultsView(widgets.VBox):
    """B's tiles on the proposals' noise (class ``toyflow-b-tile``), the decision over time under them
    (``toyflow-decision``), B's fresh samples (``toyflow-b-fresh``) and the chart, each empty until shown.
    ``b_same (n, num_points, 2)``, ``b_fresh (fresh_n, num_points, 2)`` and ``points`` hold what is shown;
    ``pending`` the work still to come (the chart and the views, from a worker thread)."""

    def __init__(self, n: int, fresh_n: int, tile_size: int, fresh_size: int) -> None:
        self.same = ResultRow("toyflow-b-tile", n, tile_size, "B, same noise as #{}", B_HEADING)
        self.fresh = ResultRow("toyflow-b-fresh", fresh_n, fresh_size, "B, fresh noise", FRESH_HEADING.format(fresh_n))
        self.decision = DecisionRow(n, tile_size)
        self.chart = ChartView()
        self.b_same: torch.Tensor | None = None
        self.b_fresh: torch.Tensor | None = None
        self.points: list = []
        self.pending = Pending()
        rows = [self.same.caption, self.same.row, self.decision, self.fresh.caption, self.fresh.row, self.chart]
        super().__init__(rows)

    def show(self, b_same: torch.Tensor, b_fresh: torch.Tensor) -> None:
        """Draw B on the same noise, ``b_same (n, num_points, 2)``, and B's fresh samples, ``b_fresh (fresh_n,
        num_points, 2)``, in green."""
        self.b_same, self.b_fresh = b_same, b_fresh
        self.same.show(b_same)
        self.fresh.show(b_fresh)

    def clear_same(self) -> None:
        """Hide B on the old proposals' noise and its decision over time (new proposals are shown; B's fresh
        samples stay)."""
        self.same.clear()
        self.decision.clear()
        self.b_same = None

    def clear(self) -> None:
        """Hide every tile of B and the decision over time (B changed without a round: undo, reset)."""
        self.clear_same()
        self.fresh.clear()
        self.b_fresh = None

    def show_chart(self, points: Sequence[Sequence[float]], eval_n: int) -> None:
        """Draw the chart's ``points`` (see :func:`~toyflow.widgets.chart.chart_png`), measured on ``eval_n`` clouds."""
        self.points = list(points)
        self.chart.show(self.points, eval_n)

    def clear_chart(self) -> None:
        """Hide the chart (no point to draw)."""
        self.points = []
        self.chart.clear()

    def track(self, future: Future) -> None:
        """Count ``future`` as pending until it is done."""
        self.pending.add(future)
