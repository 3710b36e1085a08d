"""The proposal picker: an :class:`ipywidgets.VBox` that shows proposals as clickable tiles and forwards answers.

:class:`ProposalPicker` shows the proposals of model A as red tiles. Clicking a tile's picture or its checkbox
ticks it (a ticked tile is highlighted); "Teach model B" and "None of these" hand an
:class:`~toyflow.preference.labels.Answer` to every callback registered with :meth:`~ProposalPicker.on_round`,
"Next proposals", "Undo last round", "Reset" and "Save session" call those registered with :meth:`~ProposalPicker.on`.
Keys do the same while the mouse is over the picker (:mod:`~toyflow.widgets.keys`: 1-4 tick, Enter teaches,
0 none of these, N next, U undo). The picker knows no learning: whoever listens
(:class:`~toyflow.widgets.controller.PreferenceApp` for a preference session) pushes back what to show with the
``show_*`` methods, which only set widget values, so that a worker thread may call ``show_chart`` and
``show_decision``. Its state is in traitlets (``selected``,
``probabilities``, ``busy``, ``answered``, ``round``, ``labelled_rounds``), read-only from outside and observable.

DOM contract (CSS classes, for browser tests): ``toyflow-picker`` the whole picker; ``toyflow-tile`` a
proposal tile, plus ``toyflow-tile-selected`` while ticked (soft mode: probability above 0);
``toyflow-tile-picture`` the clickable picture inside a tile; ``toyflow-b-tile`` B's tiles on the same
noise (exactly 4 after a round, none before the first round or after "Next proposals");
``toyflow-b-fresh`` B's fresh samples (6 after a round); ``toyflow-status`` the status line, which always
contains ``labelled rounds: N``; ``toyflow-decision`` the decision over time under each pair of tiles (4 after
a round, drawn a moment after B's tiles); ``toyflow-chart`` the S-fraction chart; ``toyflow-progress`` the
progress bar shown while B learns.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import asdict

import ipywidgets as widgets
import torch
import traitlets

from ..atomic import WriteFailed
from ..judge import oracle_ticks
from ..preference.labels import Answer, check_probabilities
from ..preference.records import ChartPoint, Proposal, RoundRecord
from ..validation import check_count
from .keys import HELP, Keyboard
from .results import ResultsView
from .status import ControlBar, describe_record
from .tiles import STYLE, ProposalTiles, find_by_class

TEACH = "Teach model B"
NONE_OF_THESE = "None of these"
NEXT = "Next proposals"
UNDO = "Undo last round"
RESET = "Reset"
SAVE = "Save session"
PICKER_EVENTS = ("round", "next", "undo", "reset", "save")
ANSWERED = "these proposals are answered: press Next proposals for new ones"
# presses that may wait for the last round's views to be drawn (the app's Undo and Reset), and what they say meanwhile
WAITING = {"undo": "taking the last round back…", "reset": "forgetting every round…"}


class ProposalPicker(widgets.VBox):
    """Clickable tiles for ``n`` proposals (``soft``: a probability slider per tile instead of a checkbox).

    Everything a person can do has a method that goes through the same handler as the click or the key:
    :meth:`toggle` (a picture click, keys 1-4), :meth:`select`, :meth:`set_probabilities` (soft mode), :meth:`submit`
    ("Teach model B", Enter), :meth:`skip` ("None of these", 0), :meth:`next` ("Next proposals", N), :meth:`undo`
    ("Undo last round", U), :meth:`reset`, :meth:`save` ("Save session"), :meth:`press` (a key) and
    :meth:`click_as_oracle` (the simulated annotator ticks). An answer is forwarded only when the picker is neither
    busy nor already answered, so a double click, or a second press while B learns, never runs two rounds.
    Callbacks' errors are shown in the status line, never raised from a click. :attr:`state` tells where it stands;
    :meth:`wait` waits for work queued with :meth:`track` (the chart, the views).
    """

    selected = traitlets.List(traitlets.Int(), read_only=True, help="indices of the ticked tiles").tag(sync=False)
    probabilities = traitlets.List(traitlets.Float(), read_only=True, help="each tile's probability").tag(sync=False)
    busy = traitlets.Bool(False, read_only=True, help="an answer is being handled").tag(sync=False)
    answered = traitlets.Bool(False, read_only=True, help="the proposals shown are answered").tag(sync=False)
    round = traitlets.Int(0, read_only=True, help="rounds answered so far").tag(sync=False)
    labelled_rounds = traitlets.Int(0, read_only=True, help="rounds that taught B").tag(sync=False)

    def __init__(
        self, n: int = 4, soft: bool = False, fresh_n: int = 6, tile_size: int = 160, fresh_size: int = 112
    ) -> None:
        self.n, self.soft, self.fresh_n = check_count("n", n), soft, check_count("fresh_n", fresh_n)
        check_count("tile_size", tile_size)
        check_count("fresh_size", fresh_size)
        self.proposal: Proposal | None = None  # what show_proposal was given
        self.last_record, self.last_error, self.last_timing = None, None, {}
        self.ignored = 0  # presses that were ignored (busy, or the proposals already answered)
        self.undoable = True  # whether there is a round to take back (the app says, with the counts)
        self._callbacks: dict[str, list[Callable]] = {event: [] for event in PICKER_EVENTS}
        self._lock = threading.Lock()
        self._notice = "tick the S curves you like (click a picture or its checkbox), then press Teach model B"
        self.board = ProposalTiles(n, soft, tile_size)
        self.tiles = self.board.tiles
        self.controls = ControlBar(TEACH, NONE_OF_THESE, NEXT, (UNDO, RESET, SAVE))
        self.teach_button, self.skip_button, self.next_button = self.controls.buttons
        self.undo_button, self.reset_button, self.save_button = self.controls.session_buttons
        self.progress, self.status = self.controls.progress, self.controls.status
        self.results = ResultsView(n, fresh_n, tile_size, fresh_size)
        self.chart = self.results.chart
        self.keyboard = Keyboard(self._key_actions())
        keys = widgets.HTML("")
        what = "how much do you like each one (0 to 1)?" if soft else "tick the S curves"
        heading = widgets.HTML(f"<b>Model A's proposals</b> (red): {what}")
        rows = [widgets.HTML(STYLE), heading, self.board, self.controls.row, self.controls.session_row, keys]
        super().__init__([*rows, self.status, self.results])
        if not soft and self.keyboard.attach(self):  # soft mode: the sliders' readouts take typed numbers
            keys.value = f"<small>{HELP}</small>"
        self.add_class("toyflow-picker")
        for tile in self.tiles:
            tile.hit.on_click(lambda _button, i=tile.index: self.toggle(i))
        self.board.on_change(self._sync_selection)
        for button, action in zip(
            (*self.controls.buttons, *self.controls.session_buttons),
            (self.submit, self.skip, self.next, self.undo, self.reset, self.save),
            strict=True,
        ):
            button.on_click(lambda _button, act=action: act())
        self._sync_selection()
        self._show_status()

    def _key_actions(self) -> dict[str, Callable[[], object]]:
        """Keys 1..n toggle the tiles (not in soft mode, whose sliders take numbers), Enter, 0, N and U."""
        actions: dict[str, Callable[[], object]] = {
            "Enter": self.submit,
            "0": self.skip,
            "n": self.next,
            "u": self.undo,
        }
        if not self.soft:
            actions.update({str(i + 1): (lambda i=i: self.toggle(i)) for i in range(min(self.n, 9))})
        return actions

    def on(self, event: str, callback: Callable, remove: bool = False) -> None:
        """Call ``callback`` on ``event``: ``"round"`` (``callback(answer)``), ``"next"`` (``callback(seed)``),
        ``"undo"``, ``"reset"`` or ``"save"`` (``callback()``)."""
        if event not in PICKER_EVENTS:
            raise ValueError(f"unknown picker event {event!r}; expected one of {PICKER_EVENTS}")
        (self._callbacks[event].remove if remove else self._callbacks[event].append)(callback)

    def on_round(self, callback: Callable[[Answer], object], remove: bool = False) -> None:
        """Call ``callback(answer)`` on "Teach model B" / "None of these" (its result is :meth:`submit`'s)."""
        self.on("round", callback, remove)

    def on_next(self, callback: Callable[[int | None], object], remove: bool = False) -> None:
        """Call ``callback(seed)`` on "Next proposals" (it should call :meth:`show_proposal`)."""
        self.on("next", callback, remove)

    def _show_status(self, error: str | None = None) -> None:
        self.controls.say(self.round, self.labelled_rounds, self._notice, error)

    def _error(self, message: str) -> None:
        self.last_error = message
        self._show_status(error=message)

    def _ignore(self, why: str) -> None:
        """A press that does nothing says why after the status line's notice, which stays (a stray key must not wipe
        the summary of the round just played)."""
        self.ignored += 1
        if not self.busy:
            notice = why if not self._notice or why in self._notice else f"{self._notice} · {why}"
            self.controls.say(self.round, self.labelled_rounds, notice, None)

    def _set_controls(self, enabled: bool) -> None:
        self.controls.enable(enabled)
        self.undo_button.disabled = not (enabled and self.undoable)
        self.board.enable(enabled and not self.answered)

    def _sync_selection(self) -> None:
        self.set_trait("selected", self.board.selected)
        self.set_trait("probabilities", self.board.probabilities)

    # ------------------------------------------------------------------ what a listener shows
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
            "last_record": None if rec is None else asdict(rec),
            "error": self.last_error,
            "status": self.status_text,
            "b_tiles": len(find_by_class(self, "toyflow-b-tile")),
            "fresh_tiles": len(find_by_class(self, "toyflow-b-fresh")),
            "decision_plots": len(find_by_class(self, "toyflow-decision")),
            "s_fraction_a": None if last is None else last.s_fraction_a,
            "s_fraction_b": None if last is None else last.s_fraction_b,
            "chart": [asdict(p) for p in self.chart_points],
            "chart_pending": self.results.pending.any,
            "timing": dict(self.last_timing),
            "proposal_seed": getattr(self.proposal, "seed", None),
            "keys": list(self.keyboard.pressed),
        }

    status_text = property(lambda self: self.controls.text, doc="The status line as plain text.")
    b_same = property(lambda self: self.results.b_same, doc="B on the last proposals' noise, (n, num_points, 2).")
    b_fresh = property(lambda self: self.results.b_fresh, doc="B's last fresh samples, (fresh_n, num_points, 2).")
    chart_points = property(lambda self: self.results.points, doc="The chart's points (see chart_png).")

    def show_proposal(
        self,
        proposal: Proposal,
        ticks: Sequence[int] | None = None,
        probabilities: Sequence[float] | None = None,
    ) -> None:
        """Show new proposals (``proposal.samples (n, num_points, 2)``, red) and open them for an answer, unticked,
        or with ``ticks`` (soft mode: ``probabilities``) as they were, e.g. after an undo."""
        self.board.show(proposal.samples)
        if probabilities is not None and self.soft:
            self.board.set_probabilities([float(p) for p in probabilities])
        elif ticks:
            self.board.select({int(i) for i in ticks})
        self.proposal = proposal
        self.set_trait("answered", False)
        self._set_controls(True)
        self.results.clear_same()
        self.last_error = None
        what = "set a probability per tile" if self.soft else "tick the S curves you like"
        self._notice = f"new proposals: {what}, then press Teach model B"
        self._show_status()

    def show_counts(self, rounds: int, labelled_rounds: int, undoable: bool = True) -> None:
        """Show how many rounds were answered and how many taught B; ``undoable``: whether there is a round to take
        back (Undo and its key are off when there is none)."""
        self.set_trait("round", rounds)
        self.set_trait("labelled_rounds", labelled_rounds)
        self.undoable = undoable
        self._set_controls(not self.busy)
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

    def show_undone(
        self,
        proposal: Proposal,
        ticks: Sequence[int] | None,
        probabilities: Sequence[float] | None,
        message: str,
    ) -> None:
        """A round was taken back: show its ``proposal`` again, open, with the tiles as they were answered (``ticks``
        or ``probabilities``), no tile of B, and ``message`` in the status line."""
        self.results.clear()
        self.last_record, self.last_timing = None, {}  # the round taken back is no one's last round
        self.show_proposal(proposal, ticks, probabilities)
        self._notice = message
        self._show_status()

    def show_decision(
        self, times: torch.Tensor, p_a: torch.Tensor, p_b: torch.Tensor | None, reading: str = "", seconds: float = 0
    ) -> None:
        """Draw the decision over time under the tiles: ``p_a, p_b (n, k)`` at ``times (k,)`` (see
        :class:`~toyflow.widgets.decision.DecisionRow`), drawn in ``seconds``."""
        start = time.perf_counter()
        self.results.decision.show(times, p_a, p_b, reading)
        self.last_timing["decision"] = seconds + time.perf_counter() - start

    def show_chart(self, points: Sequence[ChartPoint], eval_n: int, seconds: float | None = None) -> None:
        """Draw the chart's ``points`` (see :func:`~toyflow.widgets.chart.chart_png`), measured on ``eval_n``
        clouds in ``seconds``; a worker thread may call it."""
        self.results.show_chart(points, eval_n)
        if seconds is not None:
            self.last_timing["chart"] = seconds

    def say(self, message: str, error: bool = False) -> None:
        """Put ``message`` in the status line (in red, as an error, with ``error``)."""
        if error:
            self._error(message)
            return
        self.last_error = None
        self._notice = message
        self._show_status()

    def track(self, future: Future) -> None:
        """Count ``future`` (e.g. a chart point measured on a worker thread) as pending until it is done."""
        self.results.track(future)

    def wait(self, timeout: float | None = 120) -> bool:
        """Wait until every tracked piece of work is done; returns whether all finished within ``timeout`` s."""
        return self.results.pending.wait(timeout)

    def decision_pending(self) -> None:
        """Say under the tiles that the decision over time is being drawn."""
        self.results.decision.pending()

    def decision_failed(self, message: str) -> None:
        """Say under the tiles why the decision over time could not be drawn."""
        self.results.decision.failed(message)

    def clear_results(self) -> None:
        """Remove B's tiles, the decision over time and the chart (e.g. after a reset), and forget the last round's
        record and timing."""
        self.results.clear()
        self.last_record, self.last_timing = None, {}

    def clear_chart(self) -> None:
        """Remove the chart (e.g. when every chart point was undone)."""
        self.results.clear_chart()

    def stage(self, step: int, words: str) -> None:
        """Show progress step ``step`` of the round being handled, with ``words``."""
        self.controls.stage(step, words)

    def note_timing(self, view: str, seconds: float) -> None:
        """Record that ``view`` (``"decision"``, ``"motion"``, ``"flip_map"``, ...) took ``seconds`` to appear."""
        self.last_timing[view] = seconds

    @property
    def answer(self) -> Answer:
        """The answer "Teach model B" would give now: the ticks as they stand (soft mode: the probabilities)."""
        if self.soft:
            return Answer(probabilities=list(self.probabilities))
        return Answer(ticks=list(self.selected))

    # ------------------------------------------------------------------------------ person's actions
    def toggle(self, index: int) -> None:
        """A click on the picture of tile ``index`` (key ``index + 1``): tick or untick it (soft mode: 1 or 0)."""
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

    def click_as_oracle(
        self, flip_prob: float = 0.0, generator: torch.Generator | None = None, shape: str = "s_curve"
    ) -> list[int]:
        """The simulated annotator ticks the proposals the judge calls clean clouds of ``shape`` (S curves by
        default, or ``"swiss_roll"``), each decision flipped with ``flip_prob`` (drawn from ``generator``);
        returns the ticks."""
        if self.proposal is None:
            return []
        ticks = oracle_ticks(self.proposal.samples, flip_prob=flip_prob, generator=generator, shape=shape)
        self.select(ticks)
        return ticks

    def press(self, key: str) -> bool:
        """A key pressed over the picker (``"1"``-``"4"``, ``"Enter"``, ``"0"``, ``"n"``, ``"u"``), through the same
        handler as the browser's; returns whether the key is bound."""
        return self.keyboard.press(key)

    def submit(self) -> object:
        """Press "Teach model B": forward the ticks (or probabilities); returns what the callback returned (a
        preference session's record), ``None`` when the press is ignored (busy, already answered) or failed."""
        return self._answer(skip=False)

    def skip(self) -> object:
        """Press "None of these": forward an empty answer; returns what the callback returned (``None`` if ignored)."""
        return self._answer(skip=True)

    def next(self, seed: int | None = None) -> object:
        """Press "Next proposals": ask the callbacks for new proposals (from ``seed``, else their own stream)."""
        return self._unless_busy("next", seed)

    def undo(self) -> object:
        """Press "Undo last round": ask the callbacks to take the last round back (they show it with
        :meth:`show_undone`); ignored when there is none (:meth:`show_counts`)."""
        if not self.undoable:
            self._ignore("nothing to undo: no round has been answered since the start or the reset")
            return None
        return self._unless_busy("undo")

    def reset(self) -> object:
        """Press "Reset": ask the callbacks to forget everything B learned."""
        return self._unless_busy("reset")

    def save(self) -> object:
        """Press "Save session": ask the callbacks to write the session's log (they say where with :meth:`say`)."""
        return self._unless_busy("save")

    def _unless_busy(self, event: str, *args: object) -> object:
        if self.busy:
            self._ignore("busy: model B is still learning")
            return None
        if event not in WAITING:
            return self._call(self._callbacks[event], *args)[1]
        if not self._lock.acquire(blocking=False):
            self._ignore("busy: model B is still learning")
            return None
        before = self._notice
        try:  # it may wait for the last round's views: the buttons are off and the status line says why
            with self._working(WAITING[event]):
                taken, result = self._call(self._callbacks[event], *args)
            if not taken and self._notice == WAITING[event]:  # it failed: the error, after what was said before
                self._notice = before
                self._show_status(error=self.last_error)
            return result
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _working(self, notice: str) -> Iterator[None]:
        """Busy while the block runs: every control off, the progress bar shown, ``notice`` in the status line; all
        of it back afterwards, even if an observer of ``busy`` raises."""
        self.set_trait("busy", True)
        self._set_controls(False)
        self.controls.working(True)
        self._notice = notice
        self._show_status()
        try:
            yield
        finally:
            try:
                self.set_trait("busy", False)
            finally:
                self.controls.working(False)
                self._set_controls(True)

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
            with self._working("model B is learning…"):
                taken, result = self._call(self._callbacks["round"], Answer() if skip else self.answer)
                if taken:  # an answer was taken: these proposals are answered
                    self.set_trait("answered", True)
            return result
        finally:
            self._lock.release()

    def _call(self, callbacks: list[Callable], *args: object) -> tuple[bool, object]:
        """Call each callback with ``args``: ``(True, the last result)``, or ``(False, None)`` when one raised (its
        error is shown in the status line)."""
        result = None
        try:
            for callback in callbacks:
                result = callback(*args)
        except (Exception, KeyboardInterrupt) as e:  # a click must never end in a traceback (an interrupt neither)
            said = isinstance(e, (ValueError, WriteFailed))  # their message is a whole sentence for a person
            self._error(str(e) if said else f"{type(e).__name__}: {e}".rstrip(": "))
            return False, None
        return True, result

    def mark_answered(self) -> None:
        """The proposals shown are answered (the session took the answer), even if showing the round then failed: a
        second press would teach B the same answer again."""
        self.set_trait("answered", True)
        self._set_controls(not self.busy)
