"""The proposal picker: an :class:`ipywidgets.VBox` that shows proposals as clickable tiles and forwards answers.

:class:`ProposalPicker` shows the proposals of model A as red tiles. Clicking a tile's picture or its checkbox
ticks it (a ticked tile is highlighted); "Teach model B" and "None of these" hand an
:class:`~toyflow.preference.labels.Answer` to every callback registered with :meth:`~ProposalPicker.on_round`,
"Next proposals" calls those of :meth:`~ProposalPicker.on_next`. The picker knows no learning: whoever listens
(:class:`~toyflow.widgets.controller.PreferenceApp` for a preference session) pushes back what to show with
:meth:`~ProposalPicker.show_proposal`, :meth:`~ProposalPicker.show_round`, :meth:`~ProposalPicker.show_counts`
and :meth:`~ProposalPicker.show_chart`. Its state is in traitlets (``selected``, ``probabilities``, ``busy``,
``answered``, ``round``, ``labelled_rounds``), read-only from outside and observable.

DOM contract (CSS classes, for browser tests): ``toyflow-picker`` the whole picker; ``toyflow-tile`` a
proposal tile, plus ``toyflow-tile-selected`` while ticked (soft mode: probability above 0);
``toyflow-tile-picture`` the clickable picture inside a tile; ``toyflow-b-tile`` B's tiles on the same
noise (exactly 4 after a round, none before the first round or after "Next proposals");
``toyflow-b-fresh`` B's fresh samples (6 after a round); ``toyflow-status`` the status line, which always
contains ``labelled rounds: N``; ``toyflow-chart`` the S-fraction chart; ``toyflow-progress`` the
progress bar shown while B learns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

import ipywidgets as widgets
import torch
import traitlets

from ..judge import oracle_ticks
from ..preference.labels import Answer, check_probabilities
from .results import ResultsView
from .status import ControlBar, describe_record
from .tiles import STYLE, ProposalTiles, find_by_class

if TYPE_CHECKING:  # the picker shows them; it never calls a session
    from ..preference.session import Proposal, RoundRecord

TEACH = "Teach model B"
NONE_OF_THESE = "None of these"
NEXT = "Next proposals"
ANSWERED = "these proposals are answered: press Next proposals for new ones"


class ProposalPicker(widgets.VBox):
    """Clickable tiles for ``n`` proposals (``soft``: a probability slider per tile instead of a checkbox).

    Everything a person can do has a method that goes through the same handler as the click: :meth:`toggle` (a
    picture click), :meth:`select`, :meth:`set_probabilities` (soft mode), :meth:`submit` ("Teach model B"),
    :meth:`skip` ("None of these"), :meth:`next` ("Next proposals") and :meth:`click_as_oracle` (the simulated
    annotator ticks). An answer is forwarded only when the picker is neither busy nor already answered, so a
    double click, or a second press while B learns, never runs two rounds. Callbacks' errors are shown in the
    status line, never raised from a click. :attr:`state` tells where it stands; :meth:`wait` waits for work
    queued with :meth:`track` (the chart).
    """

    selected = traitlets.List(traitlets.Int(), read_only=True, help="indices of the ticked tiles").tag(sync=False)
    probabilities = traitlets.List(traitlets.Float(), read_only=True, help="each tile's probability").tag(sync=False)
    busy = traitlets.Bool(False, read_only=True, help="an answer is being handled").tag(sync=False)
    answered = traitlets.Bool(False, read_only=True, help="the proposals shown are answered").tag(sync=False)
    round = traitlets.Int(0, read_only=True, help="rounds answered so far").tag(sync=False)
    labelled_rounds = traitlets.Int(0, read_only=True, help="rounds that taught B").tag(sync=False)

    def __init__(self, n: int = 4, soft: bool = False, fresh_n: int = 6, tile_size: int = 160, fresh_size: int = 112):
        self.n, self.soft, self.fresh_n = n, soft, fresh_n
        self.proposal = None  # what show_proposal was given: anything with samples (n, num_points, 2)
        self.last_record, self.last_error, self.last_timing = None, None, {}
        self.ignored = 0  # presses that were ignored (busy, or the proposals already answered)
        self._round_callbacks: list[Callable[[Answer], object]] = []
        self._next_callbacks: list[Callable[[int | None], object]] = []
        self._lock = threading.Lock()
        self._notice = "tick the S curves you like (click a picture or its checkbox), then press Teach model B"
        self.board = ProposalTiles(n, soft, tile_size)
        self.tiles = self.board.tiles
        self.controls = ControlBar(TEACH, NONE_OF_THESE, NEXT)
        self.teach_button, self.skip_button, self.next_button = self.controls.buttons
        self.progress, self.status = self.controls.progress, self.controls.status
        self.results = ResultsView(n, fresh_n, tile_size, fresh_size)
        self.chart = self.results.chart
        what = "how much do you like each one (0 to 1)?" if soft else "tick the S curves"
        heading = widgets.HTML(f"<b>Model A's proposals</b> (red): {what}")
        super().__init__([widgets.HTML(STYLE), heading, self.board, self.controls.row, self.status, self.results])
        self.add_class("toyflow-picker")
        for tile in self.tiles:
            tile.hit.on_click(lambda _button, i=tile.index: self.toggle(i))
        self.board.on_change(self._sync_selection)
        self.teach_button.on_click(lambda _button: self.submit())
        self.skip_button.on_click(lambda _button: self.skip())
        self.next_button.on_click(lambda _button: self.next())
        self._sync_selection()
        self._show_status()

    def on_round(self, callback: Callable[[Answer], object], remove: bool = False) -> None:
        """Call ``callback(answer)`` on "Teach model B" / "None of these" (its result is :meth:`submit`'s)."""
        (self._round_callbacks.remove if remove else self._round_callbacks.append)(callback)

    def on_next(self, callback: Callable[[int | None], object], remove: bool = False) -> None:
        """Call ``callback(seed)`` on "Next proposals" (it should call :meth:`show_proposal`)."""
        (self._next_callbacks.remove if remove else self._next_callbacks.append)(callback)

    # -------------------------------------------------------------------------------------- state
    @property
    def state(self) -> dict:
        """Where the picker stands: selection, flags, rounds, last record, timings, tiles shown, chart, errors."""
        rec, last = self.last_record, (self.chart_points[-1] if self.chart_points else None)
        return {
            "selected": list(self.selected),
            "probabilities": list(self.probabilities) if self.soft else None,
            "soft": self.soft,
            "busy": self.busy,
            "answered": self.answered,
            "round": self.round,
            "labelled_rounds": self.labelled_rounds,
            "ignored": self.ignored,
            "last_record": None if rec is None else dict(vars(rec)),
            "error": self.last_error,
            "status": self.status_text,
            "b_tiles": len(find_by_class(self, "toyflow-b-tile")),
            "fresh_tiles": len(find_by_class(self, "toyflow-b-fresh")),
            "s_fraction_a": None if last is None else last[1],
            "s_fraction_b": None if last is None else last[2],
            "chart": list(self.chart_points),
            "chart_pending": self.results.pending.any,
            "timing": dict(self.last_timing),
            "proposal_seed": getattr(self.proposal, "seed", None),
        }

    status_text = property(lambda self: self.controls.text, doc="The status line as plain text.")
    b_same = property(lambda self: self.results.b_same, doc="B on the last proposals' noise, (n, num_points, 2).")
    b_fresh = property(lambda self: self.results.b_fresh, doc="B's last fresh samples, (fresh_n, num_points, 2).")
    chart_points = property(lambda self: self.results.points, doc="The chart's points (see chart_png).")

    def _show_status(self, error: str | None = None) -> None:
        self.controls.say(self.round, self.labelled_rounds, self._notice, error)

    def _error(self, message: str) -> None:
        self.last_error = message
        self._show_status(error=message)

    def _ignore(self, why: str) -> None:
        self.ignored += 1
        self._notice = why
        if not self.busy:
            self._show_status()

    def _set_controls(self, enabled: bool) -> None:
        self.controls.enable(enabled)
        self.board.enable(enabled and not self.answered)

    def _sync_selection(self) -> None:
        self.set_trait("selected", self.board.selected)
        self.set_trait("probabilities", self.board.probabilities)

    # ------------------------------------------------------------------------------ person's actions
    def toggle(self, index: int) -> None:
        """A click on the picture of tile ``index``: tick or untick it (soft mode: probability 1 or 0)."""
        self._change(lambda: self.board.toggle(index))

    def select(self, indices: Iterable[int]) -> None:
        """Tick exactly the tiles ``indices`` (soft mode: probability 1 for them, 0 for the others)."""
        self._change(lambda: self.board.select({int(i) for i in indices}))

    def set_probabilities(self, values: Sequence[float]) -> bool:
        """Soft mode: set every tile's probability (numbers in [0, 1], one per tile). Bad values change nothing
        and show an error in the status line; returns whether the values were taken."""
        if not self.soft:
            raise ValueError("this picker takes ticks; build it with soft=True to give probabilities")
        return self._change(lambda: self.board.set_probabilities(check_probabilities(values, self.n, exact=True)))

    def _change(self, apply: Callable[[], None]) -> bool:
        """Apply a change of the tiles unless busy or answered; bad input is shown as an error."""
        if self.busy or self.answered:
            self._ignore(ANSWERED if self.answered else "busy")
            return False
        try:
            apply()
        except ValueError as e:
            self._error(str(e))
            return False
        return True

    def click_as_oracle(self, flip_prob: float = 0.0, generator: torch.Generator | None = None) -> list[int]:
        """The simulated annotator ticks the proposals the judge calls clean S curves (each decision flipped with
        ``flip_prob``, drawn from ``generator``); returns the ticks."""
        if self.proposal is None:
            return []
        ticks = oracle_ticks(self.proposal.samples, flip_prob=flip_prob, generator=generator)
        self.select(ticks)
        return ticks

    def submit(self) -> object:
        """Press "Teach model B": forward the ticks (or probabilities); returns what the callback returned (a
        preference session's record), ``None`` when the press is ignored (busy, already answered) or failed."""
        return self._answer(skip=False)

    def skip(self) -> object:
        """Press "None of these": forward an empty answer; returns what the callback returned (``None`` if ignored)."""
        return self._answer(skip=True)

    def next(self, seed: int | None = None) -> object:
        """Press "Next proposals": ask the callbacks for new proposals (from ``seed``, else their own stream)."""
        if self.busy:
            self._ignore("busy: model B is still learning")
            return None
        return self._call(self._next_callbacks, seed)

    def _answer(self, skip: bool) -> object:
        if not self._lock.acquire(blocking=False):
            self._ignore("busy: model B is still learning")
            return None
        try:
            if self.busy or self.answered:
                self._ignore(ANSWERED if self.answered else "busy: model B is still learning")
                return None
            if self.proposal is None:
                self._error("no proposals yet: press Next proposals")
                return None
            probabilities = list(self.probabilities) if self.soft and not skip else None
            ticks = None if skip or self.soft else list(self.selected)
            self.set_trait("busy", True)
            self._set_controls(False)
            self.controls.working(True)
            self._notice = "model B is learning…"
            self._show_status()
            try:
                result = self._call(self._round_callbacks, Answer(ticks=ticks, probabilities=probabilities), True)
            finally:
                self.set_trait("busy", False)
                self.controls.working(False)
                self._set_controls(True)
            return result
        finally:
            self._lock.release()

    def _call(self, callbacks: list[Callable], argument: object, answers: bool = False) -> object:
        """Call each callback with ``argument``; the last result (``None``: one raised, error shown)."""
        result = None
        try:
            for callback in callbacks:
                result = callback(argument)
        except Exception as e:  # a click must never end in a traceback
            self._error(str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}")
            return None
        if answers:  # an answer was taken: these proposals are answered
            self.set_trait("answered", True)
            self._set_controls(True)
        return result

    # ---------------------------------------------------------------------- what the listener shows
    def show_proposal(self, proposal: Proposal) -> None:
        """Show new proposals (``proposal.samples (n, num_points, 2)``, red) and open them for an answer."""
        self.board.show(proposal.samples)
        self.proposal = proposal
        self.set_trait("answered", False)
        self._set_controls(True)
        self.results.clear_same()
        self.last_error = None
        what = "set a probability per tile" if self.soft else "tick the S curves you like"
        self._notice = f"new proposals: {what}, then press Teach model B"
        self._show_status()

    def show_counts(self, rounds: int, labelled_rounds: int) -> None:
        """Show how many rounds were answered and how many taught B."""
        self.set_trait("round", rounds)
        self.set_trait("labelled_rounds", labelled_rounds)
        self._show_status()

    def show_round(self, record: RoundRecord, b_same: torch.Tensor, b_fresh: torch.Tensor, timing: dict) -> None:
        """Show a round's outcome: B on the same noise ``(n, num_points, 2)`` and fresh ``(fresh_n, num_points,
        2)`` in green, and its record and ``timing`` in the status line."""
        self.controls.stage(3, "drawing…")
        start = time.perf_counter()
        self.last_record, self.last_error = record, None
        self.results.show(b_same, b_fresh)
        draw = time.perf_counter() - start
        self.last_timing = {**timing, "draw": draw, "total": timing.get("total", 0.0) + draw}
        self._notice = describe_record(record, self.soft, self.last_timing["total"])
        self._show_status()

    def show_chart(self, points: list, eval_n: int, seconds: float | None = None) -> None:
        """Draw the chart's ``points`` (see :func:`~toyflow.widgets.chart.chart_png`), measured on ``eval_n``
        clouds in ``seconds``; a worker thread may call it."""
        self.results.show_chart(points, eval_n)
        if seconds is not None:
            self.last_timing["chart"] = seconds

    def track(self, future: Future) -> None:
        """Count ``future`` (e.g. a chart point measured on a worker thread) as pending until it is done."""
        self.results.track(future)

    def wait(self, timeout: float | None = 120) -> bool:
        """Wait until every tracked piece of work is done; returns whether all finished within ``timeout`` s."""
        return self.results.pending.wait(timeout)
