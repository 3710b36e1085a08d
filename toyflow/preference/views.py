"""What the teaching views show after a round, measured headless: the decision over time of A and B on the
proposals' noise, their trajectories (A and B in motion), the flip map of a fixed bank of held-out noises, and what
B believes about the person's taste (the preference model's reading of model A's pool).

:class:`ViewMeter` measures them for one session. Model A is frozen, so what it draws is computed once (its
trajectory on each proposal, its clouds of the bank) and reused; model B is read from a frozen copy taken where
the round ran (:meth:`ViewMeter.snapshot`), so the slow part may run on a worker thread while B learns again. The
flip map reads the first ``FLIP_N`` of the held-out noises (:class:`~toyflow.preference.heldout.HeldOut`); given the
chart's, it reads the chart's sampling of B instead of drawing B again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from ..decision import decision_from, reading, sample_deciding
from ..flips import FLIP_N, FlipMap, compare
from ..trace import DecisionTrace
from ..validation import check_count
from .belief import Belief, PoolReading, read_pool
from .heldout import HELD_OUT_SEED, HeldOut
from .methods.reward_fm import RewardFM, pool_weights
from .records import Proposal
from .session import PreferenceSession

BELIEF_K = 6  # clouds of A's pool shown rated highest, and as many rated lowest


@dataclass(frozen=True)
class DecisionPath:
    """One model's way from a proposal's ``n`` noises to its clouds, on the CPU: the sampler's times ``(k,)``, the
    probability of an S curve at each, ``p (n, k)``, and the ``trajectory (k, n, num_points, 2)`` (its last step: the
    clouds)."""

    times: torch.Tensor
    p: torch.Tensor
    trajectory: torch.Tensor


@dataclass
class SameNoiseViews:
    """A and B on the noise of one proposal: the decision over time, ``times (k,)``, ``p_a, p_b (n, k)`` (the
    probability of an S curve at each step, read as ``reading`` says), and the trajectories ``trajectory_a,
    trajectory_b (k, n, num_points, 2)`` from noise (step 0) to the clouds (step ``k - 1``), all on the CPU."""

    proposal_number: int
    times: torch.Tensor
    p_a: torch.Tensor
    p_b: torch.Tensor
    trajectory_a: torch.Tensor
    trajectory_b: torch.Tensor
    reading: str
    timing: dict[str, float] = field(default_factory=dict)


@dataclass
class BankViews:
    """A's and B's clouds ``(bank_n, num_points, 2)`` from the bank's noises (the first ``bank_n`` held-out
    noises) and the :class:`FlipMap` of them."""

    a_clouds: torch.Tensor
    b_clouds: torch.Tensor
    flips: FlipMap
    seconds: float = 0.0


class ViewMeter:
    """The teaching views of one session: A's side computed once, B's from a frozen copy of B; the flip map from
    ``held_out`` (default: its own ``bank_n`` held-out noises; pass the chart's to share its sampling)."""

    def __init__(self, session: PreferenceSession, bank_n: int = FLIP_N, held_out: HeldOut | None = None) -> None:
        self.session, self.bank_n = session, check_count("bank_n", bank_n)
        held_out = held_out if held_out is not None else HeldOut(session, bank_n, HELD_OUT_SEED)
        self.held_out = held_out.require(session, bank_n, "flip map")
        self._a_side: tuple[Proposal, DecisionPath] | None = None

    def snapshot(self) -> nn.Module:
        """A frozen copy of B as it is now (the same copy again while B has not changed; the held-out noises' copy,
        so that the chart and the flip map read one sampling of it)."""
        return self.held_out.snapshot()

    def a_side(self, proposal: Proposal) -> DecisionPath:
        """A on ``proposal``'s noise (computed once per proposal: A is frozen); the trajectory's last step is exactly
        ``proposal.samples``."""
        if self._a_side is None or self._a_side[0] is not proposal:
            trace = proposal.trace
            if trace is None or trace.trajectory.shape[0] != self.session.sampler.steps + 1:
                trace = sample_deciding(self.session.a, proposal.noise, self.session.sampler)
            times, p = decision_from(self.session.a, trace, self.session.sampler.precision)
            self._a_side = (proposal, DecisionPath(times, p, trace.trajectory.cpu()))
        return self._a_side[1]

    def while_shown(self, proposal: Proposal) -> DecisionPath:
        """What is read while the person looks at ``proposal``, before the answer: A's side of the views
        (:meth:`a_side`, returned) and what the session's round will read whatever the answer
        (:meth:`~toyflow.preference.session.PreferenceSession.look_ahead`)."""
        a = self.a_side(proposal)
        self.session.look_ahead(proposal)
        return a

    def same_noise(
        self,
        proposal: Proposal,
        b_model: nn.Module | None = None,
        trace_b: DecisionTrace | None = None,
    ) -> SameNoiseViews:
        """The decision over time and the trajectories of A and of ``b_model`` (default: a snapshot of B) on the
        noise of ``proposal``; ``trace_b``, if given, is ``b_model``'s already, as it was sampled (the round's
        :attr:`~toyflow.preference.round.RoundResult.b_trace`)."""
        b_model = b_model if b_model is not None else self.snapshot()
        start = time.perf_counter()
        a = self.a_side(proposal)
        middle = time.perf_counter()
        trace = trace_b if trace_b is not None else sample_deciding(b_model, proposal.noise, self.session.sampler)
        _, p_b = decision_from(b_model, trace, self.session.sampler.precision)
        timing = {"a": middle - start, "b": time.perf_counter() - middle}
        return SameNoiseViews(
            proposal.number, a.times, a.p, p_b, a.trajectory, trace.trajectory.cpu(), reading(self.session.a), timing
        )

    def bank_noise(self) -> torch.Tensor:
        """The bank's noise: the first ``bank_n`` held-out noises, ``(bank_n, num_points, 2)`` on the session's
        device."""
        return self.held_out.noise()[: self.bank_n]

    def bank(self, b_model: nn.Module | None = None) -> BankViews:
        """A's and ``b_model``'s (default: a snapshot of B) clouds of the bank, and the flip map: A's drawn once,
        B's once per copy of B (shared with the chart when it reads the same held-out noises)."""
        b_model = b_model if b_model is not None else self.snapshot()
        start = time.perf_counter()
        a = self.held_out.reading(self.session.a).first(self.bank_n)
        b = self.held_out.reading(b_model).first(self.bank_n)
        return BankViews(a.clouds, b.clouds, compare(a.verdict, b.verdict), time.perf_counter() - start)

    def current_belief(self) -> Belief | None:
        """What B believes now (:meth:`PreferenceSession.belief`), ``None`` before any labelled round. Quick (a few
        milliseconds), but it reads the session's labelled proposals: call it where the rounds run."""
        return self.session.belief() if self.session.labelled_rounds > 0 else None

    def belief(self, k: int = BELIEF_K, belief: Belief | None = None) -> PoolReading | None:
        """The ``k`` clouds of A's pool that ``belief`` (default: :meth:`current_belief`) rates highest and lowest,
        with the weights B learns them with when the session's method weighs its pool by the belief (the default
        method), else without; ``None`` when there is no belief yet. With ``belief`` given, it reads nothing that a
        round changes, so a worker thread may call it."""
        belief = belief if belief is not None else self.current_belief()
        if belief is None:
            return None
        pool = self.pool()
        distances = belief.distances(pool)  # measured once for the weights and the reading
        weights = None
        if self.session.method == RewardFM.name:
            weights = pool_weights(belief, pool, self.session.settings.strength, distances)
        return read_pool(belief, pool, min(k, pool.shape[0] // 2), weights, distances)

    def pool(self) -> torch.Tensor:
        """Model A's pool, the clouds the default method weighs by what B believes: ``(pool_size, num_points, 2)``,
        drawn once per session."""
        return self.session.pool().samples
