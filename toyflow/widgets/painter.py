"""Drawing the teaching views after B's tiles, without blocking them.

:class:`ViewPainter` owns the views that are not part of the picker (:class:`~toyflow.widgets.belief.BeliefView`,
:class:`~toyflow.widgets.motion.MotionView`, :class:`~toyflow.widgets.flipview.FlipMapView`) and one worker thread
(:class:`~toyflow.worker.TorchWorker`: whichever of it and the kernel's thread computes has torch's threads alone).
While the person looks at new proposals the worker reads model A's decision over time on their noise (A is frozen),
so that after the round only B's is left. After a round it fits what B believes and takes a frozen copy of B where
the round ran (both quick), then the worker measures and draws, in this order: what B believes (read on A's pool),
the decision over time under the tiles, A and B in motion, the flip map (then the controller's chart). Each job
carries a generation number: a job whose proposals (or, for what B believes and the flip map, whose B) were replaced
(Next proposals, Undo, Reset) before it finished draws nothing: a job checks its number and draws under the same lock
that the kernel's thread holds while it moves the number on and clears the views, so a stale drawing never lands
after the clearing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import torch
from torch import nn

from ..preference import Proposal
from ..preference.belief import Belief
from ..preference.views import ViewMeter
from ..trace import DecisionTrace
from ..worker import TorchWorker
from .belief import BeliefView
from .decision import decision_png
from .flipview import FlipMapView
from .motion import MotionView, motion_pngs
from .picker import ProposalPicker

NO_TICKS = "no ticks yet: what B believes about your taste appears here after the first round with ticks"


class ViewPainter:
    """The views of one picker's session, drawn by ``meter`` (``None``: no views) on a worker thread (or inline
    without ``background``); ``timing`` holds the seconds each view took last (measure and draw)."""

    def __init__(self, picker: ProposalPicker, meter: ViewMeter | None, background: bool = True) -> None:
        self.picker, self.meter, self.background = picker, meter, background
        self.belief = BeliefView()
        self.motion = MotionView()
        self.flip_map = FlipMapView()
        self.generation = 0  # changes with the proposals shown (and with B)
        self.b_generation = 0  # changes with B only (the flip map is about B, not the proposals)
        # held to move a generation on and clear or mark the views, and by a job to check its generation and draw
        # (reentrant: without background a job runs inside the call that queued it)
        self._drawing = threading.RLock()
        self.timing: dict[str, float] = {}
        self._worker = TorchWorker("toyflow-views")  # its thread starts with the first job
        if meter is None:
            self.motion.clear("the teaching views are off (PreferenceApp(..., views=False))")
            self.belief.clear("the teaching views are off (PreferenceApp(..., views=False))")
        else:
            self.belief.clear(NO_TICKS)
            self.motion.clear("answer the proposals above: A and B in motion appear here after the round")
            self.flip_map.caption.value = "<b>The flip map</b><br><small>appears after the first round</small>"

    def prepare_drawing(self) -> None:
        """Make, on the calling thread (the worker, before the first round), what the first drawing of the decision
        over time would make: its axes, drawn once per thread (:func:`~toyflow.widgets.decision.decision_png`;
        0.2-0.3 s the first time in a process, a few milliseconds after)."""
        if self.meter is not None:
            decision_png(torch.tensor([0.0, 1.0]))

    def submit(self, job: Callable, *args: object) -> None:
        """Run ``job(*args)`` on the worker thread (tracked by the picker, so ``picker.wait()`` waits for it), or
        now without ``background``."""
        if not self.background:
            job(*args)
            return
        self.picker.track(self._worker.submit(job, *args))

    def new_proposals(self, proposal: Proposal | None = None) -> None:
        """New proposals are shown: what was drawn for the old ones goes (the flip map stays: it is about B), and
        A's side of the views of ``proposal`` is read on the worker while the person looks at it."""
        with self._drawing:
            self.generation += 1
            if self.meter is None:
                return
            self.motion.clear("new proposals: answer them to see A and B in motion on their noise")
        if proposal is not None:
            self.submit(self._a_side, self.generation, proposal)

    def _a_side(self, generation: int, proposal: Proposal) -> None:
        """A's decision over time on ``proposal``'s noise, and what the round will read whatever the answer, ahead of
        the round (skipped if the proposals were already answered or replaced: the round's views then read it
        themselves, and show any failure)."""
        if generation == self.generation:
            try:
                self.meter.while_shown(proposal)
            except Exception:  # the round's views read A again and show what went wrong
                return

    def after_round(
        self,
        proposal: Proposal,
        round_number: int,
        trace_b: DecisionTrace | None = None,
    ) -> None:
        """Queue the views of the round just played on ``proposal`` (``trace_b``: B's trajectory from the round, as
        it was sampled)."""
        with self._drawing:
            self.generation += 1
            self.b_generation += 1
            if self.meter is None:
                return
            self.picker.decision_pending()
            self.motion.pending()
            self.flip_map.pending()
        self._queue_belief(f"after round {round_number}")
        b_model = self.meter.snapshot()
        self.submit(self._same_noise, self.generation, proposal, round_number, b_model, trace_b)
        self.submit(self._bank, self.b_generation, round_number, b_model)

    def after_undo(self) -> None:
        """B changed without a round (undo, reset): the views of the proposals go, the flip map is drawn again."""
        with self._drawing:
            self.generation += 1
            self.b_generation += 1
            if self.meter is None:
                return
            self.motion.clear("the last round was taken back: answer the proposals to see A and B in motion")
            self.flip_map.pending()
        self._queue_belief("model B as it is now")
        self.submit(self._bank, self.b_generation, None, self.meter.snapshot())

    def _queue_belief(self, title: str) -> None:
        """Fit what B believes now where the rounds run (it reads the session's ticks; a few milliseconds), and queue
        the reading of A's pool and its picture; a failure is shown in the view, never raised into the round."""
        try:
            belief = self.meter.current_belief()
        except Exception as e:  # shown, never raised: the round itself went well
            self.belief.failed(f"{type(e).__name__}: {e}")
            return
        self.belief.pending()
        self.submit(self._belief, self.b_generation, belief, title)

    def _draw_if_current(self, generation: int, draw: Callable[[], object], of_b: bool = False) -> bool:
        """Run ``draw()`` under the drawing lock if ``generation`` is still the current one (of the proposals shown,
        or ``of_b``: of B); whether it ran. A drawing, or a failure, about proposals or a B since replaced is no
        one's."""
        with self._drawing:
            if generation != (self.b_generation if of_b else self.generation):
                return False
            draw()
            return True

    def _belief(self, generation: int, belief: Belief | None, title: str) -> None:
        try:
            start = time.perf_counter()
            reading = None if belief is None else self.meter.belief(belief=belief)

            def draw() -> None:
                if reading is None:
                    self.belief.clear(NO_TICKS)
                else:
                    self.belief.show(reading, title, weighs=reading.top_weights is not None)

            if not self._draw_if_current(generation, draw, of_b=True):
                return
            self.timing["belief"] = time.perf_counter() - start
            self.picker.last_timing["belief"] = self.timing["belief"]
        except Exception as e:  # shown, never raised: this runs on a worker thread
            message = f"{type(e).__name__}: {e}"
            self._draw_if_current(generation, lambda: self.belief.failed(message), of_b=True)

    def _same_noise(
        self,
        generation: int,
        proposal: Proposal,
        round_number: int,
        b_model: nn.Module,
        trace_b: DecisionTrace | None = None,
    ) -> None:
        decision_drawn = False
        try:
            start = time.perf_counter()
            views = self.meter.same_noise(proposal, b_model, trace_b)

            def draw_decision() -> None:
                seconds = time.perf_counter() - start
                self.picker.show_decision(views.times, views.p_a, views.p_b, views.reading, seconds=seconds)

            decision_drawn = self._draw_if_current(generation, draw_decision)
            if not decision_drawn:
                return
            self.timing["decision"] = time.perf_counter() - start
            start = time.perf_counter()
            frames = motion_pngs(views.trajectory_a, views.trajectory_b)
            what = f"proposals #{proposal.number} after round {round_number}"
            if not self._draw_if_current(generation, lambda: self.motion.show(frames, views.times, what)):
                return
            self.timing["motion"] = time.perf_counter() - start
            for view in ("decision", "motion"):
                self.picker.note_timing(view, self.timing[view])
        except Exception as e:  # shown, never raised: this runs on a worker thread
            message = f"{type(e).__name__}: {e}"

            def draw_failure() -> None:
                if not decision_drawn:
                    self.picker.decision_failed(f"the decision over time: {message}")
                self.motion.clear(f"A and B in motion: {message}")

            self._draw_if_current(generation, draw_failure)

    def _bank(self, generation: int, round_number: int | None, b_model: nn.Module) -> None:
        try:
            start = time.perf_counter()
            bank = self.meter.bank(b_model)
            title = f"after round {round_number}" if round_number is not None else "model B as it is now"
            show = (bank.a_clouds, bank.b_clouds, bank.flips, title)
            if not self._draw_if_current(generation, lambda: self.flip_map.show(*show), of_b=True):
                return
            self.timing["flip_map"] = time.perf_counter() - start
            self.picker.note_timing("flip_map", self.timing["flip_map"])
        except Exception as e:  # shown, never raised: this runs on a worker thread
            message = f"{type(e).__name__}: {e}"
            self._draw_if_current(generation, lambda: self.flip_map.failed(message), of_b=True)
