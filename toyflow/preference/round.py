"""One feedback round, headless: the piece every front end (the notebook picker, ``toyflow prefer``, the
benchmarks, the docs' pictures) calls, so that none writes the sequence again.

A round takes a session's proposals and a person's :class:`~toyflow.preference.labels.Answer`, lets B learn,
and returns what the round shows (:class:`RoundResult`): the record, B on the proposals' noise, fresh samples of
B and, when asked, the chart's figures. Every seed it draws follows one rule, :func:`round_seed`: the fresh
samples of round ``r`` use the noise of ``round_seed(session.seed, "fresh", r)``, the simulated annotator's flips
for proposal ``k`` the stream ``(seed, "flips", k)``.

The chart's figures (S-fraction and clean fraction of A and of B on fixed noises) cost more than the rest of the
round together, so :class:`ChartMeter` can also measure them later, on a frozen snapshot of B, e.g. on a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..evaluation import EVAL_SEED
from ..judge import oracle_ticks
from ..seeds import derive_seed, stream
from ..trace import DecisionTrace
from ..validation import check_count, check_probability
from .heldout import HeldOut
from .labels import Answer, PreferenceInputError
from .records import PROPOSALS, ChartPoint, Proposal, RoundRecord
from .rehearsal import Rehearsal, Stage
from .session import PreferenceSession

FRESH_N = 6  # fresh samples of B shown after a round
CHART_CLOUDS = 64  # clouds per model behind the chart's figures (fixed noises: EVAL_SEED)

Progress = Callable[[int, str], None]
Annotator = Callable[[PreferenceSession, Proposal], Answer]  # who answers: a simulated person, or the placebo


def round_seed(seed: int, purpose: str, round_number: int) -> int:
    """The seed a round draws for ``purpose`` (``"fresh"``, ...): fixed by the session's ``seed`` and the round."""
    return derive_seed(seed, purpose, round_number)


@dataclass
class RoundResult:
    """What one round shows: ``b_same (n, num_points, 2)`` is B on the proposals' noise, ``b_fresh (fresh_n,
    num_points, 2)`` B on the noise of ``fresh_seed`` (both on the CPU); ``chart`` when it was measured inline;
    ``timing`` in seconds (``update``, ``sample``, ``total``, and ``chart`` if measured); ``b_trace`` every step of B
    from the proposals' noise to ``b_same`` with what B's decision is read from, kept as it was sampled
    (:class:`~toyflow.decision.DecisionTrace`, on the CPU)."""

    record: RoundRecord
    proposal: Proposal
    b_same: torch.Tensor
    b_fresh: torch.Tensor
    fresh_seed: int
    chart: ChartPoint | None = None
    timing: dict[str, float] = field(default_factory=dict)
    b_trace: DecisionTrace | None = None


def play_round(
    session: PreferenceSession,
    answer: Answer,
    proposal: Proposal | None = None,
    fresh_n: int = FRESH_N,
    chart: ChartMeter | None = None,
    progress: Progress | None = None,
) -> RoundResult:
    """Apply ``answer`` to ``proposal`` (default: the session's last), then draw B on the same noise and on fresh
    noise, and, with a ``chart``, measure its figures inline. ``progress(stage, text)`` is told each stage.

    Bad input raises :class:`~toyflow.preference.labels.PreferenceInputError` and changes nothing.
    """
    proposal = proposal or session.last_proposal
    if proposal is None:
        raise PreferenceInputError("no proposals yet: call propose() first")
    check_count("fresh_n", fresh_n)  # before the answer changes anything
    say = progress or (lambda _stage, _text: None)
    start = time.perf_counter()
    say(1, "skipping this round…" if answer.skipped else "model B is learning…")
    record = session.give(ticks=answer.ticks, probabilities=answer.probabilities, proposal=proposal)
    timing = {"update": time.perf_counter() - start}
    say(2, "re-sampling B on the same noise…")
    t = time.perf_counter()
    seed = round_seed(session.seed, "fresh", record.round)
    n = proposal.noise.shape[0]
    trace = session.resample_deciding(round_noise(session, proposal, fresh_n, record.round))
    b_same, b_fresh = trace.trajectory[-1, :n], trace.trajectory[-1, n:]
    timing["sample"] = time.perf_counter() - t
    point = None
    if chart is not None:
        t = time.perf_counter()
        point = chart.measure(record.round, chart.snapshot())
        timing["chart"] = time.perf_counter() - t
    timing["total"] = time.perf_counter() - start
    return RoundResult(record, proposal, b_same, b_fresh, seed, point, timing, trace.first(n))


def round_noise(session: PreferenceSession, proposal: Proposal, fresh_n: int, round_number: int) -> torch.Tensor:
    """The noise round ``round_number`` re-samples B from, in one batch (one sampler call instead of two): the
    proposal's ``n``, then ``fresh_n`` of :func:`round_seed` ``(seed, "fresh", round_number)``, ``(n + fresh_n,
    num_points, 2)`` on the session's device."""
    fresh = session.noise(fresh_n, round_seed(session.seed, "fresh", round_number))
    return torch.cat([proposal.noise.to(session.device), fresh])


def rehearse_round(
    session: PreferenceSession,
    rehearsal: Rehearsal,
    fresh_n: int = FRESH_N,
    held_out: HeldOut | None = None,
) -> nn.Module | None:
    """Before the answer, what the round answering as ``rehearsal`` says (:meth:`PreferenceSession.rehearsal`) will
    read of B, read now, e.g. on a worker thread while the person may still change the ticks: B made apart
    (:meth:`~toyflow.preference.rehearsal.Rehearsal.run`), sampled from the round's noise (its tiles:
    :meth:`PreferenceSession.read_ahead`, taken by :func:`play_round` with ``fresh_n``) and, given ``held_out``, on
    the held-out noises (:meth:`HeldOut.read_ahead`, taken by the views). Returns that B, ``None`` where its update
    came out non-finite. The rehearsal's ``stop()`` gives it all up between two steps
    (:class:`~toyflow.solver.SamplingStopped`), keeping nothing more."""
    b = rehearsal.run()
    if b is None:
        return None
    rehearsal.stage = Stage.TILES
    session.read_ahead(b, round_noise(session, rehearsal.proposal, fresh_n, rehearsal.round), rehearsal.stop)
    if held_out is not None:
        rehearsal.stage = Stage.HELD_OUT
        held_out.read_ahead(b, rehearsal.stop)
    rehearsal.stage = Stage.DONE
    return b


def play_until(
    session: PreferenceSession,
    annotate: Annotator,
    labelled: int,
    max_proposals: int = 40,
    after: Callable[[RoundResult], None] | None = None,
) -> int:
    """Rounds of ``annotate(session, proposal)`` on fresh proposals until the session has ``labelled`` labelled
    rounds (rounds that taught B), or ``max_proposals`` proposals were drawn; ``after(result)`` is called after each
    round. Returns the labelled rounds reached."""
    check_count("labelled", labelled)
    while session.labelled_rounds < labelled and session.proposals_drawn < max_proposals:
        proposal = session.propose(PROPOSALS)
        result = play_round(session, annotate(session, proposal), proposal)
        if after is not None:
            after(result)
    return session.labelled_rounds


def oracle_answer(
    session: PreferenceSession, proposal: Proposal, flip_prob: float = 0.0, shape: str = "s_curve"
) -> Answer:
    """The simulated annotator's answer: it ticks the clean clouds of ``shape`` (S curves by default, or
    ``"swiss_roll"``) among ``proposal.samples``, each decision flipped with ``flip_prob`` from the session's stream
    ``(seed, "flips", proposal.number)``."""
    flips = stream(session.seed, "flips", proposal.number)
    return Answer(ticks=oracle_ticks(proposal.samples, flip_prob, flips, shape=shape))


def random_answer(session: PreferenceSession, proposal: Proposal, tick_prob: float = 0.5) -> Answer:
    """The placebo annotator's answer: each proposal ticked with probability ``tick_prob``, blind to its shape, from
    the session's stream ``(seed, "random-ticks", proposal.number)``. What B does with these is drift, not learning."""
    check_probability("tick_prob", tick_prob)
    coins = torch.rand(proposal.samples.shape[0], generator=stream(session.seed, "random-ticks", proposal.number))
    return Answer(ticks=[int(i) for i in torch.nonzero(coins < tick_prob).flatten()])


class ChartMeter:
    """The chart's figures for one session: A's measured once (A is frozen), B's again only after B changed.

    :meth:`snapshot` (quick, where the round ran) freezes a copy of B if it changed; :meth:`measure` (slow, may
    run on another thread) judges ``eval_n`` clouds of each from the fixed noises of ``eval_seed`` and appends a
    :class:`ChartPoint` to :attr:`points`. When the session had not learned yet, the first point is preceded by
    one for the round before, where B was still A. The clouds are ``held_out``'s first ``eval_n`` (default: its
    own), so that the flip map, given the same :class:`~toyflow.preference.heldout.HeldOut`, reads the same
    sampling of B instead of another.
    """

    def __init__(
        self,
        session: PreferenceSession,
        eval_n: int = CHART_CLOUDS,
        eval_seed: int = EVAL_SEED,
        held_out: HeldOut | None = None,
    ) -> None:
        self.session, self.eval_n, self.eval_seed = session, check_count("eval_n", eval_n), eval_seed
        held_out = held_out if held_out is not None else HeldOut(session, eval_n, eval_seed)
        self.held_out = held_out.require(session, eval_n, "chart", eval_seed)
        self.points: list[ChartPoint] = []
        self._a: tuple[float, float] | None = None
        self._b: tuple[float, float] | None = None
        self._b_version: int | None = None
        self._from_a = session.labelled_rounds == 0

    def snapshot(self) -> nn.Module | None:
        """A frozen copy of B if B changed since the last snapshot, else ``None`` (B's last figures still hold)."""
        version = self.session.b_version
        if version == self._b_version:
            return None
        self._b_version = version
        return self.held_out.snapshot()

    def figures(self, model: nn.Module) -> tuple[float, float]:
        """``(S-fraction, clean fraction)`` of ``eval_n`` clouds of ``model`` (A, or a snapshot of B) from the
        fixed noises."""
        verdict = self.held_out.reading(model).verdict.first(self.eval_n)
        return verdict.s_fraction, verdict.clean_fraction

    def measure(self, round_number: int, b_snapshot: nn.Module | None) -> ChartPoint:
        """The point of ``round_number``, B's figures from ``b_snapshot`` (``None``: B's last figures)."""
        if self._a is None:
            self._a = self.figures(self.session.a)
        if b_snapshot is not None:
            self._b = self.figures(b_snapshot)
        a, b = self._a, self._b or self._a
        if not self.points and self._from_a:
            self.points.append(ChartPoint(round_number - 1, a[0], a[0], a[1], a[1]))
        point = ChartPoint(round_number, a[0], b[0], a[1], b[1])
        self.points.append(point)
        return point

    def undo(self, round_number: int) -> None:
        """Round ``round_number`` was undone: B is exactly as it was after the round before, so its point and any
        later one are dropped and B's figures are the last remaining point's (nothing is measured again)."""
        self.points = [p for p in self.points if p.round < round_number]
        if self.points:
            last = self.points[-1]
            self._b = (last.s_fraction_b, last.clean_b)
            self._b_version = self.session.b_version
