"""Tiles of the picker: a clickable proposal tile, rows of B's result tiles, and finding widgets by CSS class.

Why the picture is a transparent :class:`ipywidgets.Button` laid over the image, not ``ipyevents``:
:class:`ipywidgets.Image` has no click event. ``ipyevents`` would add one, but it is a second
front-end extension that must be installed in the environment that *runs JupyterLab* (not only in the
kernel's); where it is missing or mismatched (another JupyterLab environment, VS Code, a front-end with
no network to fetch it) the pictures silently stop answering clicks. The overlay uses only core
ipywidgets: a one-cell :class:`ipywidgets.GridBox` holds the image and, in the same grid cell on top of
it, a button with a transparent background. The button receives the click (and keyboard focus: Tab then
Space/Enter ticks a tile, which the image never could), the image shows through, and the selection
highlight is a layout border, so the picker works wherever ipywidgets 8 renders, with no extra
dependency. (Keys are another matter: :mod:`~toyflow.widgets.keys` takes them through ipyevents, an add-on
that, where its extension is missing, leaves every click working.) A small stylesheet (:data:`STYLE`, an
:class:`ipywidgets.HTML` ``<style>`` block inside the picker) only adds a background tint and the pointer cursor.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import torch

from ..plotting import RED, cloud_png

SELECTED_BORDER = "3px solid #1d4ed8"
IDLE_BORDER = "3px solid #d4d4d4"

STYLE = """<style>
.toyflow-picker .toyflow-tile { border-radius: 8px; transition: background-color 0.1s; }
.toyflow-picker .toyflow-tile-selected { background-color: #dbeafe; }
.toyflow-picker .toyflow-tile-hit { cursor: pointer; background-color: transparent !important; }
.toyflow-picker .toyflow-tile-hit:hover:enabled { background-color: rgba(29, 78, 216, 0.08) !important; }
.toyflow-picker .toyflow-tile-hit:disabled { cursor: default; }
.toyflow-picker .toyflow-tile-picture img { pointer-events: none; }
.toyflow-picker .toyflow-status { font-size: 0.95em; }
</style>"""


def find_by_class(root: widgets.Widget, css_class: str) -> list[widgets.Widget]:
    """Every widget under ``root`` (``root`` included, depth first) that carries ``css_class``.

    Mirrors ``document.querySelectorAll('.' + css_class)`` on the displayed picker: only widgets that are
    children of a displayed box count.
    """
    found = []
    if css_class in getattr(root, "_dom_classes", ()):
        found.append(root)
    for child in getattr(root, "children", ()):
        found.extend(find_by_class(child, css_class))
    return found


def set_class(widget: widgets.DOMWidget, css_class: str, on: bool) -> None:
    """Add ``css_class`` to ``widget`` or remove it."""
    if on and css_class not in widget._dom_classes:
        widget.add_class(css_class)
    elif not on and css_class in widget._dom_classes:
        widget.remove_class(css_class)


class ProposalTile:
    """One proposal: a clickable picture (class ``toyflow-tile-picture``) over a checkbox or a probability slider.

    ``box`` (class ``toyflow-tile``) is the displayed container; ``hit`` is the transparent button laid
    over ``image`` that receives the picture's clicks.
    """

    def __init__(self, index: int, size: int, soft: bool) -> None:
        self.index = index
        self.size = size
        cell = f"{size}px"
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=cell, height=cell, grid_area="pic"))
        self.image.add_class("toyflow-tile-image")
        self.hit = widgets.Button(
            description="",
            tooltip=f"click to tick or untick proposal #{index}",
            layout=widgets.Layout(width=cell, height=cell, grid_area="pic", margin="0", padding="0"),
        )
        self.hit.style.button_color = "transparent"
        self.hit.add_class("toyflow-tile-hit")
        self.picture = widgets.GridBox(
            [self.image, self.hit],
            layout=widgets.Layout(
                grid_template_areas='"pic"',
                grid_template_columns=cell,
                grid_template_rows=cell,
                width=cell,
                height=cell,
            ),
        )
        self.picture.add_class("toyflow-tile-picture")
        self.checkbox = widgets.Checkbox(
            value=False, description=f"#{index} tick", indent=False, layout=widgets.Layout(width=cell)
        )
        self.slider = widgets.FloatSlider(
            value=0.0,
            min=0.0,
            max=1.0,
            step=0.05,
            description=f"#{index}",
            readout_format=".2f",
            continuous_update=False,
            layout=widgets.Layout(width=cell),
            style={"description_width": "24px"},
        )
        self.soft = soft
        self.control = self.slider if soft else self.checkbox
        self.box = widgets.VBox(
            [self.picture, self.control],
            layout=widgets.Layout(border=IDLE_BORDER, margin="2px", padding="4px", align_items="center"),
        )
        self.box.add_class("toyflow-tile")

    @property
    def selected(self) -> bool:
        """Ticked (soft mode: a probability above 0)."""
        return self.slider.value > 0 if self.soft else bool(self.checkbox.value)

    @property
    def probability(self) -> float:
        """The slider's value (soft mode); ticks mode: 1.0 when ticked, else 0.0."""
        return float(self.slider.value) if self.soft else float(self.checkbox.value)

    def show(self, cloud: torch.Tensor) -> None:
        """Draw a proposal ``(num_points, 2)`` in red."""
        self.image.value = cloud_png(cloud, self.size, RED)

    def clear(self) -> None:
        """Untick (probability 0) and redraw the highlight."""
        self.slider.value = 0.0
        self.checkbox.value = False
        self.highlight()

    def highlight(self) -> None:
        """Border and CSS class follow the selection."""
        on = self.selected
        self.box.layout.border = SELECTED_BORDER if on else IDLE_BORDER
        set_class(self.box, "toyflow-tile-selected", on)

    def enable(self, on: bool) -> None:
        """Let the person change this tile, or not."""
        self.hit.disabled = not on
        self.checkbox.disabled = not on
        self.slider.disabled = not on


class ProposalTiles(widgets.HBox):
    """A row of ``n`` :class:`ProposalTile` (``soft``: sliders) whose selection is read as a whole.

    It applies changes without asking whether they are allowed (the picker decides that) and tells every
    callback registered with :meth:`on_change` after each change of a tile.
    """

    def __init__(self, n: int, soft: bool, size: int) -> None:
        self.n, self.soft = n, soft
        self.tiles = [ProposalTile(i, size, soft) for i in range(n)]
        self._callbacks: list[Callable[[], None]] = []
        super().__init__([t.box for t in self.tiles])
        for tile in self.tiles:
            tile.control.observe(lambda _change, t=tile: self._changed(t), names="value")

    @property
    def selected(self) -> list[int]:
        """Indices of the ticked tiles (soft mode: probability above 0)."""
        return [t.index for t in self.tiles if t.selected]

    @property
    def probabilities(self) -> list[float]:
        """Each tile's probability (ticks mode: 1.0 when ticked, else 0.0)."""
        return [t.probability for t in self.tiles]

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change of a tile's checkbox or slider."""
        self._callbacks.append(callback)

    def _changed(self, tile: ProposalTile) -> None:
        tile.highlight()
        for callback in self._callbacks:
            callback()

    def check(self, indices: set[int]) -> None:
        """Raise ``ValueError`` naming the first index that is not a tile."""
        bad = sorted(i for i in indices if not 0 <= i < self.n)
        if bad:
            raise ValueError(f"no tile #{bad[0]}; tiles are numbered 0 to {self.n - 1}")

    def toggle(self, index: int) -> None:
        """Tick or untick tile ``index`` (soft mode: probability 1 or 0)."""
        self.check({index})
        tile = self.tiles[index]
        if self.soft:
            tile.slider.value = 0.0 if tile.slider.value > 0 else 1.0
        else:
            tile.checkbox.value = not tile.checkbox.value

    def select(self, indices: set[int]) -> None:
        """Tick exactly the tiles ``indices`` (soft mode: probability 1 for them, 0 for the others)."""
        self.check(indices)
        for tile in self.tiles:
            if self.soft:
                tile.slider.value = 1.0 if tile.index in indices else 0.0
            else:
                tile.checkbox.value = tile.index in indices

    def set_probabilities(self, values: list[float]) -> None:
        """Set every slider (``values``: one number in [0, 1] per tile, already checked)."""
        for tile, v in zip(self.tiles, values, strict=True):
            tile.slider.value = v

    def show(self, clouds: torch.Tensor) -> None:
        """Draw ``clouds (n, num_points, 2)`` in red and untick every tile."""
        for tile, cloud in zip(self.tiles, clouds, strict=True):
            tile.show(cloud)
            tile.clear()

    def enable(self, on: bool) -> None:
        """Let the person change the tiles, or not."""
        for tile in self.tiles:
            tile.enable(on)
