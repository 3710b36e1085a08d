"""What the teaching views show after a round, measured headless: the decision over time of A and B on the
proposals' noise, their trajectories (A and B in motion), the flip map of a fixed bank of held-out noises, and what
B believes about the person's taste (the preference model's reading of model A's pool).

:class:`ViewMeter` measures them for one session. Model A is frozen, so what it draws is computed once (its
trajectory on each proposal, its clouds of the bank) and reused; model B is read from a frozen copy taken where
the round ran (:meth:`ViewMeter.snapshot`), so the slow part may run on a worker thread while B learns again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from ..decision import decision_along, reading
from ..flips import FLIP_N, FLIP_SEED, FlipMap, compare
from ..judge import Verdict, judge
from .belief import Belief, PoolReading, read_pool
from .methods.reward_fm import RewardFM, pool_weights
from .records import Proposal
from .session import PreferenceSession

BELIEF_K = 6  # clouds of A's pool shown rated highest, and as many rated lowest


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
    """A's and B's clouds ``(FLIP_N, num_points, 2)`` from the bank's noises and the :class:`FlipMap` of them."""

    a_clouds: torch.Tensor
    b_clouds: torch.Tensor
    flips: FlipMap
    seconds: float = 0.0


class ViewMeter:
    """The teaching views of one session: A's side computed once, B's from a frozen copy of B."""

    def __init__(self, session: PreferenceSession, bank_n: int = FLIP_N, bank_seed: int = FLIP_SEED) -> None:
        self.session, self.bank_n, self.bank_seed = session, bank_n, bank_seed
        self._a_side: tuple[Proposal, torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._a_bank: tuple[torch.Tensor, Verdict] | None = None
        self._b_copy: tuple[int, nn.Module] | None = None

    def snapshot(self) -> nn.Module:
        """A frozen copy of B as it is now (the same copy again while B has not changed)."""
        version = self.session.b_version
        if self._b_copy is None or self._b_copy[0] != version:
            self._b_copy = (version, self.session.frozen_b())
        return self._b_copy[1]

    def _trajectory(self, model: nn.Module, noise: torch.Tensor) -> torch.Tensor:
        return self.session.sampler.sample(model, noise, return_trajectory=True)

    def a_side(self, proposal: Proposal) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A on ``proposal``'s noise: ``(times (k,), p_a (n, k), trajectory_a (k, n, num_points, 2))`` on the CPU;
        its last step is exactly ``proposal.samples``."""
        if self._a_side is None or self._a_side[0] is not proposal:
            trajectory = proposal.trajectory
            if trajectory is None or trajectory.shape[0] != self.session.sampler.steps + 1:
                trajectory = self._trajectory(self.session.a, proposal.noise)
            times, p = decision_along(self.session.a, trajectory)
            self._a_side = (proposal, times, p, trajectory.cpu())
        return self._a_side[1:]

    def same_noise(
        self, proposal: Proposal, b_model: nn.Module | None = None, trajectory_b: torch.Tensor | None = None
    ) -> SameNoiseViews:
        """The decision over time and the trajectories of A and of ``b_model`` (default: a snapshot of B) on the
        noise of ``proposal``; ``trajectory_b``, if given, is ``b_model``'s already (e.g. the round's)."""
        b_model = b_model if b_model is not None else self.snapshot()
        start = time.perf_counter()
        times, p_a, trajectory_a = self.a_side(proposal)
        middle = time.perf_counter()
        if trajectory_b is None:
            trajectory_b = self._trajectory(b_model, proposal.noise)
        trajectory_b = trajectory_b.to(self.session.device)
        _, p_b = decision_along(b_model, trajectory_b)
        timing = {"a": middle - start, "b": time.perf_counter() - middle}
        return SameNoiseViews(
            proposal.number, times, p_a, p_b, trajectory_a, trajectory_b.cpu(), reading(self.session.a), timing
        )

    def bank_noise(self) -> torch.Tensor:
        """The bank's noise: ``(bank_n, num_points, 2)`` from ``bank_seed``, on the session's device."""
        return self.session.noise(self.bank_n, self.bank_seed)

    def bank(self, b_model: nn.Module | None = None) -> BankViews:
        """A's and ``b_model``'s (default: a snapshot of B) clouds of the bank, and the flip map."""
        b_model = b_model if b_model is not None else self.snapshot()
        start = time.perf_counter()
        if self._a_bank is None:
            a_clouds = self.session.sampler.sample(self.session.a, self.bank_noise()).cpu()
            self._a_bank = (a_clouds, judge(a_clouds))
        b_clouds = self.session.sampler.sample(b_model, self.bank_noise()).cpu()
        flips = compare(self._a_bank[1], judge(b_clouds))
        return BankViews(self._a_bank[0], b_clouds, flips, time.perf_counter() - start)

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
        weights = None
        if self.session.method == RewardFM.name:
            weights = pool_weights(belief, pool, self.session.settings.strength)
        return read_pool(belief, pool, min(k, pool.shape[0] // 2), weights)

    def pool(self) -> torch.Tensor:
        """Model A's pool, the clouds the default method weighs by what B believes: ``(pool_size, num_points, 2)``,
        drawn once per session."""
        return self.session.pool().samples
