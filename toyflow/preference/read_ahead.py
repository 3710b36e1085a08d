"""Reading model B ahead while the person ticks: what a front end runs on its worker thread between two answers.

Each change of the ticks starts a :class:`~toyflow.preference.rehearsal.Rehearsal` of the answer they now give
(:meth:`~toyflow.preference.session.PreferenceSession.rehearsal`, quick, on the calling thread) and queues
:func:`~toyflow.preference.round.rehearse_round` on the worker: B made apart, sampled from the round's noise and on the
held-out noises, which the round and the views take if the answer is given as the ticks stood. :class:`ReadAhead`
decides what gives way: a reading for ticks that changed since, or for proposals no longer shown, stops between two
optimiser or sampler steps. An answer as the ticks stand, given once the tiles are read ahead, keeps the reading: its
held-out sampling waits for the round (its OpenMP threads handed back, so that the round has the cores alone), then
samples on for the views, until an undo or a reset gives everything up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from ..solver import SamplingStopped
from ..worker import wait_for
from .heldout import HeldOut
from .labels import Answer
from .records import Proposal
from .rehearsal import Rehearsal, Stage
from .round import FRESH_N, rehearse_round
from .session import PreferenceSession

Submit = Callable[..., object]  # submit(job, *args): run job(*args) on the worker thread


class ReadAhead:
    """B read ahead for one session as the ticks stand, by jobs handed to ``submit`` (a worker thread's), sampled
    from the noise of a round of ``fresh_n`` fresh clouds and on ``held_out``'s noises. :attr:`error` says why the
    last reading failed, if one did (the round does the same work itself, and shows its own error)."""

    def __init__(self, session: PreferenceSession, held_out: HeldOut, submit: Submit, fresh_n: int = FRESH_N) -> None:
        self.session, self.held_out, self.submit, self.fresh_n = session, held_out, submit, fresh_n
        self.error: str | None = None
        self._seen = 0  # moved on by every change of the ticks and every action: a reading of before gives way
        self._latest: Rehearsal | None = None  # the reading of the ticks as they stand
        self._kept: Rehearsal | None = None  # one that an answer kept: it samples on whatever comes next
        self._no_round = threading.Event()  # cleared while a round runs: a reading it keeps waits meanwhile
        self._no_round.set()

    @property
    def latest(self) -> Rehearsal | None:
        """The reading of the ticks as they stand (``None``: nothing to read for them)."""
        return self._latest

    @property
    def kept(self) -> Rehearsal | None:
        """The reading the last answer kept, if it did (until an undo or a reset)."""
        return self._kept

    def ticked(self, answer: Answer, proposal: Proposal | None) -> None:
        """The ticks now give ``answer`` to ``proposal`` (``None``: nothing open to answer): what was read for other
        ticks gives way, and B as ``answer`` makes it is read (nothing where it would leave B as it is)."""
        self._seen += 1
        seen = self._seen
        self._latest = None
        if proposal is None:
            return

        def stop() -> bool:
            wait_for(self._no_round)  # a round that keeps this reading runs first, with the cores to itself
            return self._seen != seen and self._kept is not rehearsal

        rehearsal = self._latest = self.session.rehearsal(answer, proposal, stop)
        if rehearsal is not None:
            self.submit(self._read, rehearsal)

    @contextlib.contextmanager
    def answering(self, answer: Answer) -> Iterator[None]:
        """Around the round that answers ``answer``: the reading of these very ticks is kept if it is past its tiles
        (the round takes them; its held-out sampling waits for the round, then samples on); any other gives way."""
        latest = self._latest
        if latest is not None and latest.answer == answer and latest.stage == Stage.HELD_OUT:
            self._kept = latest
        self._seen += 1
        self._no_round.clear()
        try:
            yield
        finally:
            self._no_round.set()

    def moved_on(self) -> None:
        """Other proposals are shown: what was read for the ticks on these gives way (a reading kept goes on)."""
        self._seen += 1

    def give_up(self) -> None:
        """Everything read ahead gives way, a reading kept too (before an undo or a reset)."""
        self._kept = None
        self._seen += 1

    def _read(self, rehearsal: Rehearsal) -> None:
        if rehearsal.stop is not None and rehearsal.stop():
            return
        try:
            rehearse_round(self.session, rehearsal, self.fresh_n, self.held_out)
        except SamplingStopped:  # given up: the ticks changed, or the person acted
            pass
        except Exception as e:  # the round does the same work itself, and shows its error
            self.error = f"{type(e).__name__}: {e}"
