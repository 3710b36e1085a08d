"""Wiring a :class:`~toyflow.widgets.picker.ProposalPicker` to a preference session.

:class:`PreferenceApp` listens to the picker: "Next proposals" draws proposals from the session, an answer
plays one headless round (:func:`~toyflow.preference.round.play_round`) and its outcome is pushed back to the
picker; "Undo last round", "Reset" and "Save session" undo, reset and log the session. What is slower than the
round itself is drawn after B's tiles, on a worker thread, from a frozen copy of B (see
:class:`~toyflow.widgets.painter.ViewPainter`): what B believes about the person's taste
(:attr:`PreferenceApp.belief`), the decision over time under the tiles, A and B in motion
(:attr:`PreferenceApp.motion`), the flip map (:attr:`PreferenceApp.flip_map`) and the chart. ``picker.wait()``
waits for them; ``background=False`` draws them inline. While the person ticks, the worker reads B ahead as the
ticks stand (:mod:`~toyflow.preference.read_ahead`): answered as they stood, the round and the views take it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..evaluation import EVAL_SEED
from ..flips import FLIP_N
from ..judge import prepare as prepare_judge
from ..preference import Answer, ChartMeter, PreferenceSession, Proposal, RoundRecord, RoundResult, play_round
from ..preference.heldout import HeldOut
from ..preference.read_ahead import ReadAhead
from ..preference.round import CHART_CLOUDS
from ..preference.views import ViewMeter
from ..solver import SamplingStopped
from ..validation import check_count
from .painter import ViewPainter
from .picker import ProposalPicker


def default_log_path() -> Path:
    """Where "Save session" writes the log unless told otherwise: ``toyflow-session-<date>-<time>.json`` here."""
    return Path(f"toyflow-session-{time.strftime('%Y%m%d-%H%M%S')}.json").resolve()


class PreferenceApp:
    """A picker (``self.picker``, the widget to display) driving a :class:`PreferenceSession`, with the teaching
    views ``self.belief`` (what B believes), ``self.motion`` (A and B in motion) and ``self.flip_map`` (the flip
    map) to display where wanted.

    ``picker`` defaults to a new :class:`ProposalPicker` (with sliders instead of ticks when ``soft``; build one
    yourself for other sizes). With ``propose`` the first proposals are drawn at once; ``views``
    (default on) draws the teaching views after each round; ``log_path`` is where "Save session" writes the log.
    """

    def __init__(
        self,
        session: PreferenceSession,
        picker: ProposalPicker | None = None,
        eval_n: int = CHART_CLOUDS,
        eval_seed: int = EVAL_SEED,
        background: bool = True,
        propose: bool = True,
        views: bool = True,
        log_path: str | Path | None = None,
        soft: bool = False,
    ) -> None:
        if picker is not None and soft:
            raise ValueError("soft=True builds the app's own picker; given a picker, build it with soft=True instead")
        self.session = session
        self.picker = picker or ProposalPicker(soft=soft)
        self.eval_n, self.eval_seed = check_count("eval_n", eval_n, minimum=0), eval_seed  # 0: no chart
        # one sampling of B on the held-out noises per round, read by the chart (the first eval_n) and the flip map
        self.held_out = HeldOut(session, max(eval_n, FLIP_N if views else 1), eval_seed)
        self.meter = self._chart_meter()
        self.painter = ViewPainter(
            self.picker, ViewMeter(session, held_out=self.held_out) if views else None, background
        )
        self.belief, self.motion, self.flip_map = self.painter.belief, self.painter.motion, self.painter.flip_map
        self.log_path = Path(log_path) if log_path is not None else default_log_path()
        self.last_result: RoundResult | None = None
        self._give_way = threading.Event()  # set by the person's first action: work read ahead stops (below)
        # B read ahead on the worker as the ticks stand (connected below, where the views run on the worker)
        self.ahead = ReadAhead(session, self.held_out, self.painter.submit, self.picker.fresh_n)
        self.picker.on_round(self.play)
        self.picker.on_next(self.propose)
        self.picker.on("undo", self.undo)
        self.picker.on("reset", self.reset)
        self.picker.on("save", self.save)
        self._show_counts()
        if propose:
            self.picker.next()
        # while the person looks at the first proposals, on the worker: what the first round's views would
        # otherwise make then and no answer changes, the judge's grids, the decision plot's axes and model A's clouds
        # of the held-out noises (without them the first round's views took 2.1-3.7 s on the 2-core CPU, the later
        # rounds' about 1 s). It gives way to the person's first action (an answer, or an undo or reset, which wait
        # for the worker): a part not begun is left to the views, and A's sampling stops between two steps, so as
        # not to slow the tiles (run to its end, it made the first tiles 0.46-0.58 s instead of 0.26-0.35 s when the
        # person answered meanwhile)
        parts = [prepare_judge, self.painter.prepare_drawing]
        if background and (views or eval_n > 0):
            parts.append(self._read_a_ahead)
        for part in parts:
            self.painter.submit(self._unless_acted, part)
        if background and (views or eval_n > 0):
            self.picker.observe(self._ticked, names=["selected", "probabilities"])

    def _ticked(self, _change: object = None) -> None:
        """The ticks changed: while the person may tick on, the worker makes B as the ticks as they stand would and
        samples it from the round's noise (its tiles) and the held-out noises (the views' slowest part), so that,
        answered as they stand, the round and the views take those samplings instead of drawing B again
        (:class:`~toyflow.preference.read_ahead.ReadAhead`). Nothing of the session changes."""
        open_ = not (self.picker.answered or self.picker.busy)
        self.ahead.ticked(self.picker.answer, self.picker.proposal if open_ else None)

    def _unless_acted(self, part: Callable[[], object]) -> None:
        if not self._give_way.is_set():
            part()

    def _read_a_ahead(self) -> None:
        """Model A's reading of the held-out noises (the first chart point, A's side of the flip map), once the
        session has prepared what its rounds need (A's pool: not slowed by this), until the person acts."""
        preparing = self.session.preparing
        while preparing is not None and preparing.is_alive():
            if self._give_way.wait(0.05):
                return
        with contextlib.suppress(SamplingStopped):  # the person acted first: the views sample A themselves
            self.held_out.reading(self.session.a, stop=self._give_way.is_set)

    @property
    def background(self) -> bool:
        """Whether the slow views are drawn on a worker thread."""
        return self.painter.background

    def _show_counts(self) -> None:
        self.picker.show_counts(self.session.rounds, self.session.labelled_rounds, self.session.can_undo)

    def propose(self, seed: int | None = None) -> Proposal:
        """Draw the picker's ``n`` proposals from model A (noise of ``seed``, else the session's stream), show them."""
        self.ahead.moved_on()
        proposal = self.session.propose(self.picker.n, seed=seed)
        self.painter.new_proposals(proposal)
        self.picker.show_proposal(proposal)
        return proposal

    def play(self, answer: Answer) -> RoundRecord:
        """One round on the proposals shown: B learns from ``answer``; the picker shows B and the record; the
        views and the chart follow. If anything fails once the session took the answer (re-sampling B, drawing), the
        proposals are marked answered all the same, with the counts, and the error is shown: pressing Teach again
        would teach B the same answer twice."""
        self._give_way.set()
        answers = len(self.session.history)
        try:
            with self.ahead.answering(answer):  # B read ahead as these ticks stood: the round may take it
                result = play_round(
                    self.session, answer, self.picker.proposal, fresh_n=self.picker.fresh_n, progress=self.picker.stage
                )
                self.last_result = result
                self._show_counts()
                self.picker.show_round(result.record, result.b_same, result.b_fresh, result.timing)
                self.painter.after_round(result.proposal, result.record.round, result.b_trace)
                self._schedule_chart(result.record.round)
        except BaseException:
            if len(self.session.history) > answers:  # the session took the answer
                self._show_counts()
                self.picker.mark_answered()
            raise
        return result.record

    def undo(self) -> RoundRecord:
        """Take the last round back: B is exactly as before it, the picker shows its proposals again with the tiles
        as they were answered, the chart drops its point and the flip map is drawn for B as it is again."""
        self._settle("Undo")  # nothing measured on the B being undone may land after the undo
        snapshot = self.session.undo()
        self.last_result = None
        record = self.session.history[-1]
        if self.meter is not None:
            self.meter.undo(record.round)
            self._redraw_chart()
        self._show_counts()
        message = f"{record.reason}; its tiles are shown again as you answered them (Undo again to go further back)"
        self.painter.after_undo()
        self.picker.show_undone(snapshot.proposal, snapshot.ticks, snapshot.probabilities, message)
        return record

    def reset(self) -> Proposal:
        """Forget everything B learned (B becomes A again, the history and the chart start over; the log keeps
        the reset) and show the first proposals again."""
        self._settle("Reset")
        self.session.reset()
        self.last_result = None
        if self.meter is not None:
            self.meter = self._chart_meter()
            self._redraw_chart()
        self.picker.clear_results()
        self.painter.after_undo()  # (then new proposals, which say so)
        self._show_counts()
        proposal = self.propose()
        self.picker.say("reset: model B is model A again; every round is forgotten (the session's log keeps them)")
        return proposal

    def _settle(self, action: str) -> None:
        """Wait for the views and the chart of the last round (what is read ahead gives way); ``TimeoutError`` (shown
        in the status line, nothing changed) if they are not done in the picker's time: what they measured must not
        land after ``action``."""
        self._give_way.set()
        self.ahead.give_up()
        if not self.picker.wait():
            raise TimeoutError(f"the views of the last round are still being drawn: press {action} again once they are")

    def save(self, path: str | Path | None = None) -> Path:
        """Write the session's log to ``path`` (default :attr:`log_path`) atomically; the status line says where."""
        written = self.session.log.write(path or self.log_path)
        self.picker.say(
            f"session saved to {written} ({len(self.session.log.events)} events); replay it with "
            "toyflow.preference.replay or `toyflow prefer CHECKPOINT --replay LOG.json --out B.safetensors`"
        )
        return written

    def _chart_meter(self) -> ChartMeter | None:
        """A new chart of this session on the shared held-out noises (``None`` when ``eval_n`` is 0: no chart)."""
        return ChartMeter(self.session, self.eval_n, self.eval_seed, self.held_out) if self.eval_n > 0 else None

    def _redraw_chart(self) -> None:
        """Draw the chart's points as they are now (none: no chart)."""
        if self.meter is not None and self.meter.points:
            self.picker.show_chart(self.meter.points, self.eval_n)
        else:
            self.picker.clear_chart()

    def _schedule_chart(self, round_number: int) -> None:
        """Queue the chart point of ``round_number``, measured on a snapshot of B (so the next round may already
        change B), after the views."""
        if self.meter is None:
            return
        snapshot = self.meter.snapshot()
        self.picker.chart.pending()
        meter = self.meter
        self.painter.submit(self._measure, meter, round_number, snapshot)

    def _measure(self, meter: ChartMeter, round_number: int, snapshot) -> None:
        try:
            start = time.perf_counter()
            meter.measure(round_number, snapshot)
            if meter is self.meter:
                self.picker.show_chart(meter.points, self.eval_n, time.perf_counter() - start)
        except Exception as e:  # shown, never raised: this may run on a worker thread
            self.picker.chart.failed(f"{type(e).__name__}: {e}")


def connect(
    picker: ProposalPicker,
    session: PreferenceSession,
    *,
    eval_n: int = CHART_CLOUDS,
    eval_seed: int = EVAL_SEED,
    background: bool = True,
    propose: bool = True,
    views: bool = True,
    log_path: str | Path | None = None,
) -> PreferenceApp:
    """Make ``picker`` (built apart, soft or not) drive ``session``; returns the app. The other arguments are
    :class:`PreferenceApp`'s."""
    return PreferenceApp(
        session,
        picker=picker,
        eval_n=eval_n,
        eval_seed=eval_seed,
        background=background,
        propose=propose,
        views=views,
        log_path=log_path,
    )
