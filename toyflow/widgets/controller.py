"""Wiring a :class:`~toyflow.widgets.picker.ProposalPicker` to a preference session.

:class:`PreferenceApp` listens to the picker: "Next proposals" draws proposals from the session, an answer
plays one headless round (:func:`~toyflow.preference.round.play_round`) and its outcome is pushed back to the
picker. The chart's figures (the judge on ``eval_n`` clouds from fixed noises) cost more than the rest of the
round together, so they are measured on a frozen copy of B by a worker thread right after the tiles are drawn;
the chart appears a moment later (``picker.wait()`` waits for it; ``background=False`` measures inline).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from torch import nn

from ..evaluation import EVAL_SEED
from ..judge import thresholds
from ..preference import Answer, ChartMeter, PreferenceSession, Proposal, RoundRecord, RoundResult, play_round
from ..preference.round import EVAL_CLOUDS
from .picker import ProposalPicker


class PreferenceApp:
    """A picker (``self.picker``, the widget to display) driving a :class:`PreferenceSession`.

    ``picker`` defaults to a new :class:`ProposalPicker` built with ``picker_options`` (``n``, ``soft``,
    ``fresh_n``, ``tile_size``, ``fresh_size``). With ``propose`` the first proposals are drawn at once.
    """

    def __init__(
        self,
        session: PreferenceSession,
        picker: ProposalPicker | None = None,
        eval_n: int = EVAL_CLOUDS,
        eval_seed: int = EVAL_SEED,
        background: bool = True,
        propose: bool = True,
        **picker_options,
    ) -> None:
        self.session = session
        self.picker = picker or ProposalPicker(**picker_options)
        self.eval_n = eval_n
        self.meter = ChartMeter(session, eval_n, eval_seed) if eval_n > 0 else None
        self.background = background
        self.last_result: RoundResult | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.picker.on_round(self.play)
        self.picker.on_next(self.propose)
        self.picker.show_counts(len(session.history), session.labelled_rounds)
        thresholds()  # the judge's calibration (cached), paid now rather than at the first click
        if propose:
            self.picker.next()

    def propose(self, seed: int | None = None) -> Proposal:
        """Draw the picker's ``n`` proposals from model A (noise of ``seed``, else the session's stream), show them."""
        proposal = self.session.propose(self.picker.n, seed=seed)
        self.picker.show_proposal(proposal)
        return proposal

    def play(self, answer: Answer) -> RoundRecord:
        """One round on the proposals shown: B learns from ``answer``; the picker shows B and the record."""
        result = play_round(
            self.session, answer, self.picker.proposal, fresh_n=self.picker.fresh_n, progress=self.picker.controls.stage
        )
        self.last_result = result
        self.picker.show_counts(len(self.session.history), self.session.labelled_rounds)
        self.picker.show_round(result.record, result.b_same, result.b_fresh, result.timing)
        self._schedule_chart(result.record.round)
        return result.record

    def _schedule_chart(self, round_number: int) -> None:
        """Queue the chart point of ``round_number``: on a worker thread and on a snapshot of B (so the next
        round may already change B), unless built with ``background=False``."""
        if self.meter is None:
            return
        snapshot = self.meter.snapshot()
        self.picker.chart.pending()
        if not self.background:
            self._measure(round_number, snapshot)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toyflow-chart")
        self.picker.track(self._executor.submit(self._measure, round_number, snapshot))

    def _measure(self, round_number: int, snapshot: nn.Module | None) -> None:
        try:
            start = time.perf_counter()
            self.meter.measure(round_number, snapshot)
            self.picker.show_chart(self.meter.points, self.eval_n, time.perf_counter() - start)
        except Exception as e:  # shown, never raised: this may run on a worker thread
            self.picker.chart.failed(f"{type(e).__name__}: {e}")


def connect(picker: ProposalPicker, session: PreferenceSession, **options) -> PreferenceApp:
    """Make ``picker`` drive ``session`` (see :class:`PreferenceApp` for ``options``); returns the app."""
    return PreferenceApp(session, picker=picker, **options)
