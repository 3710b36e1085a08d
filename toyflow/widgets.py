"""JupyterLab widgets of the preference tutorial: the proposal picker and an environment check.

:class:`ProposalPicker` shows 4 proposals of model A as red tiles. Clicking a tile's picture or its
checkbox ticks it (a ticked tile is highlighted); "Teach model B" lets B learn from the ticks, then
draws, inline under the tiles, B on the **same noise** (green), 6 fresh samples of B (green), a status
line and a small chart of the S-fraction of A and B over the rounds. The chart's S-fractions (the judge
on ``eval_n`` clouds from fixed noises) cost more than the rest of the round together, so they are
measured on a frozen copy of B by a worker thread right after the tiles are drawn; the chart appears a
moment later (``ProposalPicker.wait()`` waits for it; ``background=False`` measures inline).

Why the picture is a transparent :class:`ipywidgets.Button` laid over the image, not ``ipyevents``:
:class:`ipywidgets.Image` has no click event. ``ipyevents`` would add one, but it is a second
front-end extension that must be installed in the environment that *runs JupyterLab* (not only in the
kernel's); where it is missing or mismatched (another JupyterLab environment, VS Code, a front-end with
no network to fetch it) the pictures silently stop answering clicks. The overlay uses only core
ipywidgets: a one-cell :class:`ipywidgets.GridBox` holds the image and, in the same grid cell on top of
it, a button with a transparent background. The button receives the click (and keyboard focus: Tab then
Space/Enter ticks a tile, which the image never could), the image shows through, and the selection
highlight is a layout border, so the picker works wherever ipywidgets 8 renders, with no extra
dependency. A small stylesheet (an :class:`ipywidgets.HTML` ``<style>`` block inside the picker) only
adds a background tint and the pointer cursor.

DOM contract (CSS classes, for browser tests): ``toyflow-picker`` the whole picker; ``toyflow-tile`` a
proposal tile, plus ``toyflow-tile-selected`` while ticked (soft mode: probability above 0);
``toyflow-tile-picture`` the clickable picture inside a tile; ``toyflow-b-tile`` B's tiles on the same
noise (exactly 4 after a round, none before the first round or after "Next proposals");
``toyflow-b-fresh`` B's fresh samples (6 after a round); ``toyflow-status`` the status line, which always
contains ``labelled rounds: N``; ``toyflow-chart`` the S-fraction chart; ``toyflow-progress`` the
progress bar shown while B learns.
"""

from __future__ import annotations

import concurrent.futures
import copy
import html
import io
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import ipywidgets as widgets
import torch

from .data import NUM_POINTS, draw_noise
from .evaluation import EVAL_SEED
from .flow import sample
from .judge import judge, oracle_ticks, thresholds
from .plotting import GREEN, RED, cloud_png
from .preference import PreferenceInputError, PreferenceSession, Proposal, RoundRecord

TEACH = "Teach model B"
NONE_OF_THESE = "None of these"
NEXT = "Next proposals"

EVAL_CLOUDS = 64  # clouds per model behind the chart's S-fraction (fixed noises: EVAL_SEED)
FRESH_SEED = 31_337  # fresh samples of B in round r use the noise of FRESH_SEED + r

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


# ------------------------------------------------------------------------------------------- helpers
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


def _set_class(widget: widgets.DOMWidget, css_class: str, on: bool) -> None:
    if on and css_class not in widget._dom_classes:
        widget.add_class(css_class)
    elif not on and css_class in widget._dom_classes:
        widget.remove_class(css_class)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def chart_png(points: Sequence[tuple[int, float, float]], width: float = 3.4, height: float = 2.2) -> bytes:
    """A small PNG line chart of the S-fraction of A and B over the rounds.

    ``points``: ``(round, s_fraction_a, s_fraction_b)`` triples. Uses matplotlib's Agg canvas directly
    (no pyplot), so it never pops up a figure of its own in a notebook.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rounds = [p[0] for p in points]
    ax.plot(rounds, [p[1] for p in points], "o--", color=RED, label="model A", markersize=3)
    ax.plot(rounds, [p[2] for p in points], "o-", color=GREEN, label="model B", markersize=3)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(min(rounds, default=0) - 0.3, max(max(rounds, default=0), 1) + 0.3)
    ax.set_xticks(sorted(set(rounds)) or [0])
    ax.set_xlabel("round", fontsize=8)
    ax.set_ylabel("S-fraction (judge)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------- tiles
class ProposalTile:
    """One proposal: a clickable picture (class ``toyflow-tile-picture``) over a checkbox or a probability slider.

    ``box`` (class ``toyflow-tile``) is the displayed container; ``hit`` is the transparent button laid
    over ``image`` that receives the picture's clicks.
    """

    def __init__(self, index: int, size: int, soft: bool) -> None:
        self.index = index
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

    def show(self, cloud: torch.Tensor, size: int) -> None:
        """Draw a proposal ``(num_points, 2)`` in red."""
        self.image.value = cloud_png(cloud, size, RED)

    def highlight(self) -> None:
        """Border and CSS class follow the selection."""
        on = self.selected
        self.box.layout.border = SELECTED_BORDER if on else IDLE_BORDER
        _set_class(self.box, "toyflow-tile-selected", on)

    def enable(self, on: bool) -> None:
        """Let the person change this tile, or not."""
        self.hit.disabled = not on
        self.checkbox.disabled = not on
        self.slider.disabled = not on


def _result_tile(css_class: str, size: int, caption: str) -> tuple[widgets.VBox, widgets.Image, widgets.HTML]:
    image = widgets.Image(format="png", layout=widgets.Layout(width=f"{size}px", height=f"{size}px"))
    label = widgets.HTML(f"<small>{html.escape(caption)}</small>")
    box = widgets.VBox(
        [image, label],
        layout=widgets.Layout(border="3px solid transparent", margin="2px", padding="4px", align_items="center"),
    )
    box.add_class(css_class)
    return box, image, label


# -------------------------------------------------------------------------------------------- picker
class ProposalPicker:
    """Clickable proposal tiles over a :class:`~toyflow.preference.PreferenceSession`.

    Display it by leaving it last in a cell (or ``display(picker)``; the widget is ``picker.widget``).
    Everything a person can do has a method that goes through the same handler as the click:
    :meth:`toggle` (a picture click), :meth:`select`, :meth:`set_probabilities` (soft mode),
    :meth:`submit` ("Teach model B"), :meth:`skip` ("None of these"), :meth:`next` ("Next proposals"),
    and :meth:`click_as_oracle` (the simulated annotator ticks). :attr:`state` tells where it stands;
    :meth:`wait` waits for the chart. ``b_same`` and ``b_fresh`` hold B's last clouds, ``(n, 400, 2)`` and
    ``(fresh_n, 400, 2)``; ``chart_points`` the ``(round, S-fraction of A, S-fraction of B)`` triples.

    A round runs only when the picker is neither busy nor already answered for the proposals shown, so
    a double click, or a second press while B learns, never runs two updates. Errors are shown in the
    status line, never raised from a click.
    """

    def __init__(
        self,
        session: PreferenceSession,
        n: int = 4,
        soft: bool = False,
        fresh_n: int = 6,
        eval_n: int = EVAL_CLOUDS,
        eval_seed: int = EVAL_SEED,
        tile_size: int = 160,
        fresh_size: int = 112,
        background: bool = True,
        propose: bool = True,
    ) -> None:
        self.session = session
        self.n = n
        self.soft = soft
        self.fresh_n = fresh_n
        self.eval_n = eval_n
        self.eval_seed = eval_seed
        self.tile_size = tile_size
        self.fresh_size = fresh_size
        self.proposal: Proposal | None = None
        self.last_record: RoundRecord | None = None
        self.last_error: str | None = None
        self.last_timing: dict[str, float] = {}
        self.ignored = 0  # presses that were ignored (busy, or the proposals already answered)
        self.b_same: torch.Tensor | None = None  # B on the proposals' noise, (n, num_points, 2)
        self.b_fresh: torch.Tensor | None = None  # B on fresh noise, (fresh_n, num_points, 2)
        self.chart_points: list[tuple[int, float, float]] = []
        self._busy = False
        self._answered = False
        self._lock = threading.Lock()
        self._s_a: float | None = None
        self._s_b: float | None = None
        self._b_key: tuple[int, int] | None = None
        self.background = background
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._labelled_at_start = session.labelled_rounds
        self._notice = "tick the S curves you like (click a picture or its checkbox), then press Teach model B"
        self._build()
        thresholds()  # the judge's calibration (cached), paid now rather than at the first click
        if propose:
            self.next()

    # ------------------------------------------------------------------------------------- layout
    def _build(self) -> None:
        self.tiles = [ProposalTile(i, self.tile_size, self.soft) for i in range(self.n)]
        for tile in self.tiles:
            tile.hit.on_click(lambda _button, i=tile.index: self.toggle(i))
            tile.control.observe(lambda _change, t=tile: t.highlight(), names="value")
        self.teach_button = widgets.Button(description=TEACH, button_style="success", icon="graduation-cap")
        self.skip_button = widgets.Button(description=NONE_OF_THESE, icon="ban")
        self.next_button = widgets.Button(description=NEXT, icon="refresh")
        for button in (self.teach_button, self.skip_button, self.next_button):
            button.layout.width = "auto"
        self.teach_button.on_click(lambda _button: self.submit())
        self.skip_button.on_click(lambda _button: self.skip())
        self.next_button.on_click(lambda _button: self.next())
        self.progress = widgets.IntProgress(
            value=0, min=0, max=3, description="", layout=widgets.Layout(visibility="hidden", width="160px")
        )
        self.progress.add_class("toyflow-progress")
        self.progress_label = widgets.HTML("")
        self.status = widgets.HTML("")
        self.status.add_class("toyflow-status")

        self.b_tiles = [_result_tile("toyflow-b-tile", self.tile_size, f"B, same noise as #{i}") for i in range(self.n)]
        self.fresh_tiles = [
            _result_tile("toyflow-b-fresh", self.fresh_size, "B, fresh noise") for _ in range(self.fresh_n)
        ]
        self.b_row = widgets.HBox([])
        self.fresh_row = widgets.HBox([])
        self.b_caption = widgets.HTML("")
        self.fresh_caption = widgets.HTML("")
        self.chart = widgets.Image(format="png", layout=widgets.Layout(width="272px"))
        self.chart.add_class("toyflow-chart")
        self.chart_caption = widgets.HTML("")
        self.chart_box = widgets.HBox([], layout=widgets.Layout(align_items="center"))

        heading = "<b>Model A's proposals</b> (red): tick the S curves"
        if self.soft:
            heading = "<b>Model A's proposals</b> (red): how much do you like each one (0 to 1)?"
        self.widget = widgets.VBox(
            [
                widgets.HTML(STYLE),
                widgets.HTML(heading),
                widgets.HBox([t.box for t in self.tiles]),
                widgets.HBox(
                    [self.teach_button, self.skip_button, self.next_button, self.progress, self.progress_label],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.status,
                self.b_caption,
                self.b_row,
                self.fresh_caption,
                self.fresh_row,
                self.chart_box,
            ]
        )
        self.widget.add_class("toyflow-picker")
        self._show_status()

    def _repr_mimebundle_(self, **kwargs) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)

    # -------------------------------------------------------------------------------------- state
    @property
    def selected(self) -> list[int]:
        """Indices of the ticked tiles (soft mode: probability above 0)."""
        return [t.index for t in self.tiles if t.selected]

    @property
    def probabilities(self) -> list[float]:
        """The sliders' values (soft mode); ticks mode: 1.0 for a ticked tile, else 0.0."""
        return [float(t.slider.value) if self.soft else float(t.checkbox.value) for t in self.tiles]

    @property
    def state(self) -> dict:
        """Where the picker stands: selection, flags, rounds, last record, timings, tiles shown, errors."""
        rec = self.last_record
        return {
            "selected": self.selected,
            "probabilities": self.probabilities if self.soft else None,
            "soft": self.soft,
            "busy": self._busy,
            "answered": self._answered,
            "round": len(self.session.history),
            "labelled_rounds": self.session.labelled_rounds,
            "ignored": self.ignored,
            "last_record": None if rec is None else dict(vars(rec)),
            "error": self.last_error,
            "status": self.status_text,
            "b_tiles": len(find_by_class(self.widget, "toyflow-b-tile")),
            "fresh_tiles": len(find_by_class(self.widget, "toyflow-b-fresh")),
            "s_fraction_a": self._s_a,
            "s_fraction_b": self._s_b,
            "chart": list(self.chart_points),
            "chart_pending": any(not f.done() for f in self._pending),
            "timing": dict(self.last_timing),
            "proposal_seed": None if self.proposal is None else self.proposal.seed,
        }

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.status.value))

    def _show_status(self, error: str | None = None) -> None:
        counts = f"round {len(self.session.history)} · labelled rounds: {self.session.labelled_rounds}"
        if error is not None:
            body = f'<span style="color:#b91c1c"><b>error:</b> {html.escape(error)}</span>'
        else:
            body = html.escape(self._notice)
        self.status.value = f"{counts} · {body}"

    def _error(self, message: str) -> None:
        self.last_error = message
        self._show_status(error=message)

    def _ignore(self, why: str) -> None:
        self.ignored += 1
        self._notice = why
        if not self._busy:
            self._show_status()

    def _set_controls(self, enabled: bool) -> None:
        for button in (self.teach_button, self.skip_button, self.next_button):
            button.disabled = not enabled
        for tile in self.tiles:
            tile.enable(enabled and not self._answered)

    def _stage(self, value: int, text: str) -> None:
        self.progress.value = value
        self.progress_label.value = f"<i>{html.escape(text)}</i>"

    # ------------------------------------------------------------------------------ person's actions
    def toggle(self, index: int) -> None:
        """A click on the picture of tile ``index``: tick or untick it (soft mode: probability 1 or 0)."""
        if self._busy or self._answered:
            self._ignore("these proposals are answered: press Next proposals" if self._answered else "busy")
            return
        if not 0 <= index < self.n:
            self._error(f"no tile #{index}; tiles are numbered 0 to {self.n - 1}")
            return
        tile = self.tiles[index]
        if self.soft:
            tile.slider.value = 0.0 if tile.slider.value > 0 else 1.0
        else:
            tile.checkbox.value = not tile.checkbox.value

    def select(self, indices: Iterable[int]) -> None:
        """Tick exactly the tiles ``indices`` (soft mode: probability 1 for them, 0 for the others)."""
        wanted = {int(i) for i in indices}
        bad = sorted(i for i in wanted if not 0 <= i < self.n)
        if bad:
            self._error(f"no tile #{bad[0]}; tiles are numbered 0 to {self.n - 1}")
            return
        if self._busy or self._answered:
            self._ignore("these proposals are answered: press Next proposals" if self._answered else "busy")
            return
        for tile in self.tiles:
            if self.soft:
                tile.slider.value = 1.0 if tile.index in wanted else 0.0
            else:
                tile.checkbox.value = tile.index in wanted

    def set_probabilities(self, values: Sequence[float]) -> bool:
        """Soft mode: set every tile's probability (numbers in [0, 1], one per tile).

        Bad values (outside [0, 1], not a number, wrong count) change nothing and show an error in the
        status line; returns whether the values were taken.
        """
        if not self.soft:
            raise ValueError("this picker takes ticks; build it with soft=True to give probabilities")
        try:
            p = [float(v) for v in values]
        except (TypeError, ValueError) as e:
            self._error(f"probabilities must be numbers ({e})")
            return False
        if len(p) != self.n:
            self._error(f"got {len(p)} probabilities for {self.n} proposals")
            return False
        bad = [v for v in p if not (0.0 <= v <= 1.0)]
        if bad:
            self._error(f"probabilities must lie in [0, 1], got {bad[0]}")
            return False
        if self._busy or self._answered:
            self._ignore("these proposals are answered: press Next proposals" if self._answered else "busy")
            return False
        for tile, v in zip(self.tiles, p, strict=True):
            tile.slider.value = v
        return True

    def click_as_oracle(self, flip_prob: float = 0.0, generator: torch.Generator | None = None) -> list[int]:
        """The simulated annotator ticks the proposals the judge calls clean S curves; returns the ticks.

        With ``flip_prob`` each tick decision is flipped with that probability (a noisy person).
        """
        if self.proposal is None:
            return []
        ticks = oracle_ticks(self.proposal.samples, flip_prob=flip_prob, generator=generator)
        self.select(ticks)
        return ticks

    def submit(self) -> RoundRecord | None:
        """Press "Teach model B": B learns from the ticks (or probabilities); returns the round's record.

        Nothing ticked is a skipped round (B unchanged). Returns ``None`` when the press is ignored
        (busy, already answered) or the input is bad (the error is in the status line).
        """
        return self._answer(skip=False)

    def skip(self) -> RoundRecord | None:
        """Press "None of these": a skipped round, B unchanged; returns its record (``None`` if ignored)."""
        return self._answer(skip=True)

    def next(self, seed: int | None = None) -> Proposal | None:
        """Press "Next proposals": draw ``n`` new proposals of A (from ``seed``, else the session's generator)."""
        if self._busy:
            self._ignore("busy: model B is still learning")
            return None
        try:
            self.proposal = self.session.propose(self.n, seed=seed)
            for tile, cloud in zip(self.tiles, self.proposal.samples, strict=True):
                tile.show(cloud, self.tile_size)
            self._answered = False
            for tile in self.tiles:
                tile.slider.value = 0.0
                tile.checkbox.value = False
                tile.highlight()
            self._set_controls(True)
            self.b_row.children = ()
            self.b_caption.value = ""
            self.b_same = None
            self.last_error = None
            self._notice = (
                "new proposals: set a probability per tile, then press Teach model B"
                if self.soft
                else "new proposals: tick the S curves you like, then press Teach model B"
            )
            self._show_status()
            return self.proposal
        except Exception as e:  # a click must never end in a traceback
            self._error(f"{type(e).__name__}: {e}")
            return None

    # --------------------------------------------------------------------------------------- a round
    def _answer(self, skip: bool) -> RoundRecord | None:
        if not self._lock.acquire(blocking=False):
            self._ignore("busy: model B is still learning")
            return None
        try:
            if self._busy:
                self._ignore("busy: model B is still learning")
                return None
            if self._answered:
                self._ignore("these proposals are answered: press Next proposals for new ones")
                return None
            if self.proposal is None:
                self._error("no proposals yet: press Next proposals")
                return None
            self._busy = True
            self._set_controls(False)
            self.progress.layout.visibility = "visible"
            try:
                return self._round(skip)
            except PreferenceInputError as e:
                self._error(str(e))
                return None
            except Exception as e:  # a click must never end in a traceback
                self._error(f"{type(e).__name__}: {e}")
                return None
            finally:
                self._busy = False
                self.progress.layout.visibility = "hidden"
                self.progress_label.value = ""
                self._set_controls(True)
        finally:
            self._lock.release()

    def _round(self, skip: bool) -> RoundRecord:
        timing: dict[str, float] = {}
        start = time.perf_counter()
        self._stage(1, "model B is learning…" if not skip else "skipping this round…")
        self._notice = "model B is learning…"
        self._show_status()
        if skip:
            record = self.session.give(proposal=self.proposal)
        elif self.soft:
            record = self.session.give(probabilities=self.probabilities, proposal=self.proposal)
        else:
            record = self.session.give(ticks=self.selected, proposal=self.proposal)
        timing["update"] = time.perf_counter() - start
        self._answered = True
        self.last_record = record
        self.last_error = None

        self._stage(2, "re-sampling B on the same noise…")
        t = time.perf_counter()
        self.b_same = self.session.resample(self.proposal.noise).cpu()
        if record.updated or self.b_fresh is None:
            self.b_fresh = self.session.sample_b(self.fresh_n, seed=FRESH_SEED + record.round).cpu()
        timing["sample"] = time.perf_counter() - t

        self._stage(3, "drawing…")
        t = time.perf_counter()
        self._draw()
        timing["draw"] = time.perf_counter() - t
        timing["total"] = time.perf_counter() - start
        self.last_timing = timing
        self._notice = self._describe(record, timing)
        self._show_status()
        self._schedule_measure(record.round)
        return record

    def _draw(self) -> None:
        for i, (_box, image, _label) in enumerate(self.b_tiles):
            image.value = cloud_png(self.b_same[i], self.tile_size, GREEN)
        self.b_row.children = tuple(box for box, _, _ in self.b_tiles)
        self.b_caption.value = "<b>Model B on the same noise</b> (green), under A's proposals"
        for i, (_box, image, _label) in enumerate(self.fresh_tiles):
            image.value = cloud_png(self.b_fresh[i], self.fresh_size, GREEN)
        self.fresh_row.children = tuple(box for box, _, _ in self.fresh_tiles)
        self.fresh_caption.value = f"<b>{self.fresh_n} fresh samples of model B</b> (green)"

    # ------------------------------------------------------------------- the chart, in the background
    def _schedule_measure(self, round_number: int) -> None:
        """Queue one chart point: the S-fraction of A (once) and of B on ``eval_n`` fixed noises.

        It runs after the round, on a worker thread and on a snapshot of B (so the next round may already
        change B), unless the picker was built with ``background=False``.
        """
        if self.eval_n <= 0:
            return
        key = (id(self.session.b), self.session.labelled_rounds)
        snapshot = None
        if key != self._b_key:  # B changed since the last point: measure a frozen copy of it
            snapshot = copy.deepcopy(self.session.b).eval().requires_grad_(False)
            self._b_key = key
        self.chart_caption.value = "<small><i>measuring the S-fraction of B…</i></small>"
        if not self.background:
            self._measure(round_number, snapshot)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toyflow-chart")
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._executor.submit(self._measure, round_number, snapshot))

    def _s_fraction(self, model: torch.nn.Module) -> float:
        noise = draw_noise(self.eval_n, NUM_POINTS, self.eval_seed, self.session.device)
        clouds = sample(model, noise, steps=self.session.sampler_steps, method=self.session.sampler_method)
        return judge(clouds).s_fraction

    def _measure(self, round_number: int, b_snapshot: torch.nn.Module | None) -> None:
        try:
            t = time.perf_counter()
            if self._s_a is None:
                self._s_a = self._s_fraction(self.session.a)
            if b_snapshot is not None:
                self._s_b = self._s_fraction(b_snapshot)
            if not self.chart_points and self._labelled_at_start == 0:
                # before this picker's first round B was still an exact copy of A
                self.chart_points.append((round_number - 1, self._s_a, self._s_a))
            self.chart_points.append((round_number, self._s_a, self._s_b))
            self.chart.value = chart_png(self.chart_points)
            self.chart_box.children = (self.chart, self.chart_caption)
            self.last_timing["chart"] = time.perf_counter() - t
            self.chart_caption.value = (
                f"<small>S-fraction after round {round_number}, read by the judge on {self.eval_n} clouds "
                f"from fixed noises:<br>model A {self._s_a:.2f}, model B {self._s_b:.2f}</small>"
            )
        except Exception as e:  # shown, never raised: this may run on a worker thread
            self.chart_caption.value = (
                f'<small style="color:#b91c1c">chart: {html.escape(f"{type(e).__name__}: {e}")}</small>'
            )

    def wait(self, timeout: float | None = 120) -> bool:
        """Wait until every queued chart point is drawn; returns whether all finished within ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for future in list(self._pending):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=left)
            except concurrent.futures.TimeoutError:
                return False
        self._pending = []
        return True

    def _describe(self, record: RoundRecord, timing: Mapping[str, float]) -> str:
        if record.updated:
            what = "model B learned from " + (
                f"probabilities {[round(v, 2) for v in record.labels]}"
                if self.soft
                else f"ticks {[i for i, v in enumerate(record.labels or []) if v > 0]}"
            )
        else:
            what = record.reason or "B unchanged"
        parts = [
            what,
            f"preference loss {_fmt(record.preference_loss)}",
            f"flow loss {_fmt(record.flow_loss)}",
            f"barrier {_fmt(record.barrier)}",
            f"update {record.seconds:.2f} s, round {timing.get('total', 0.0):.2f} s",
        ]
        return " · ".join(parts) + " · press Next proposals for more"


# ------------------------------------------------------------------------------------- environment
WIDGET_PAIRS = {7: 1, 8: 3}  # ipywidgets major -> the jupyterlab_widgets major it needs


def _installed(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _major(v: str | None) -> int | None:
    try:
        return int(str(v).split(".")[0])
    except ValueError:
        return None


def _labextension_found() -> bool | None:
    """Whether the ipywidgets JupyterLab extension lies in a labextensions folder (``None``: cannot tell)."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return None
    return any(
        (Path(p) / "@jupyter-widgets" / "jupyterlab-manager" / "package.json").is_file()
        for p in jupyter_path("labextensions")
    )


def widget_problems(versions: Mapping[str, str | None], extension_found: bool | None = None) -> list[str]:
    """What keeps widgets from rendering, given installed ``versions`` (``{"ipywidgets": "8.1.2", ...}``).

    ``jupyterlab_widgets`` (the JupyterLab side) must match ipywidgets' major version: ipywidgets 8
    needs jupyterlab_widgets 3, ipywidgets 7 needs 1. Returns one line per problem, each with the fix.
    """
    problems = []
    ipw, jlw = versions.get("ipywidgets"), versions.get("jupyterlab_widgets")
    fix = "pip install -U 'ipywidgets>=8' 'jupyterlab_widgets>=3,<4'"
    if ipw is None:
        problems.append(f"ipywidgets is not installed: {fix}")
        return problems
    major = _major(ipw)
    if major is not None and major < 8:
        problems.append(f"ipywidgets {ipw} is too old for toyflow (it needs 8): {fix}")
    want = WIDGET_PAIRS.get(major)
    if jlw is None:
        problems.append(
            f"jupyterlab_widgets (the JupyterLab side of ipywidgets) is not installed: "
            f"pip install 'jupyterlab_widgets>={want or 3},<{(want or 3) + 1}'"
        )
    elif want is not None and _major(jlw) != want:
        problems.append(
            f"ipywidgets {ipw} needs jupyterlab_widgets {want}.x, but {jlw} is installed "
            f"(widgets would show 'Error displaying widget' or nothing): {fix}"
        )
    elif extension_found is False:
        problems.append(
            "jupyterlab_widgets is installed but its JupyterLab extension was not found in any labextensions "
            "folder: pip install --force-reinstall 'jupyterlab_widgets>=3,<4'"
        )
    return problems


def check_environment(
    versions: Mapping[str, str | None] | None = None,
    extension_found: bool | None = None,
    out: Callable[[str], object] = print,
) -> list[str]:
    """Check that ipywidgets can render here; print what to install if not. Returns the problems (empty: fine).

    ``versions`` and ``extension_found`` default to what is installed in this kernel's environment
    (pass them to simulate another one). JupyterLab must run from an environment with the same pair.
    """
    if versions is None:
        versions = {name: _installed(name) for name in ("ipywidgets", "jupyterlab_widgets", "jupyterlab")}
        if extension_found is None and versions.get("jupyterlab_widgets") is not None:
            extension_found = _labextension_found()
    problems = widget_problems(versions, extension_found)
    found = ", ".join(f"{k} {v}" for k, v in versions.items() if v is not None) or "no widget packages"
    if problems:
        out(
            "The clickable tiles will NOT render in this environment.\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nFound: {found}.\nAfter installing, restart JupyterLab (from the same environment) and reload "
            "the page. The static figures of this notebook work without widgets."
        )
    else:
        out(f"Widgets OK ({found}).")
    return problems
