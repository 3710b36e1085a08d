"""What a listener pushes back to the picker: proposals, counts, a round's outcome, the chart, the decision over
time, a round taken back, a message. :class:`PickerDisplay` is a base class of
:class:`~toyflow.widgets.picker.ProposalPicker` (it uses the picker's tiles, controls, results and traitlets) and
is never used alone; its methods only set widget values, so a worker thread may call ``show_chart`` and
``show_decision``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

import torch

from .status import describe_record
from .tiles import find_by_class

if TYPE_CHECKING:  # the picker shows them; it never calls a session
    from ..preference.session import Proposal, RoundRecord


class PickerDisplay:
    """The picker's ``show_*`` methods and what it shows (:attr:`state`; see the module docstring)."""

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
            "decision_plots": len(find_by_class(self, "toyflow-decision")),
            "s_fraction_a": None if last is None else last[1],
            "s_fraction_b": None if last is None else last[2],
            "chart": list(self.chart_points),
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

    def show_chart(self, points: list, eval_n: int, seconds: float | None = None) -> None:
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
