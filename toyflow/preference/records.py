"""The named things that cross the preference layers: proposals of model A, labelled proposals, A's pool, an update's
statistics, the record of every round and the chart's points. (A training batch of B is a
:class:`~toyflow.pair_pool.Pairs`, as model A's are.)"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch

from ..trace import DecisionTrace

PROPOSALS = 4  # proposals of model A shown in a round


@dataclass
class Proposal:
    """Proposals of model A: ``noise`` and ``samples`` are ``(n, num_points, 2)``; ``seed`` is the noise's seed and
    ``number`` counts the session's proposals from 1; ``trace`` (when the session kept it) is every step of the
    sampler from ``noise`` to ``samples`` with what A's decision is read from, kept as they were sampled
    (:class:`~toyflow.trace.DecisionTrace`)."""

    noise: torch.Tensor
    samples: torch.Tensor
    seed: int | None = None
    number: int = 0
    trace: DecisionTrace | None = None

    def __post_init__(self) -> None:
        shape = tuple(self.noise.shape)
        if len(shape) != 3 or shape[0] < 1 or shape[2] != 2 or tuple(self.samples.shape) != shape:
            raise ValueError(
                "a proposal's noise and samples must both have the shape (n, num_points, 2), n >= 1; got "
                f"{tuple(self.noise.shape)} and {tuple(self.samples.shape)}"
            )

    @property
    def trajectory(self) -> torch.Tensor | None:
        """Every step of the sampler from ``noise`` to ``samples``, ``(steps + 1, n, num_points, 2)``, if kept."""
        return None if self.trace is None else self.trace.trajectory


@dataclass(frozen=True)
class UpdateStats:
    """The figures one update of B reports; each method fills those it has (the others stay ``None``).

    ``flow_loss``: the flow-matching loss of B's last step; ``preference_loss`` and ``barrier``: the original's
    preference cross entropy and the dynamic barrier's coefficient; ``certainty``: the preference model's
    probability that the ticks follow the clouds at all; ``evidence``: its log Bayes factor, in nats;
    ``effective_samples``: how many of A's pool clouds B effectively learned from; ``tilt``: how far the weighting
    took B's training law from A's own (a Kullback-Leibler divergence, in nats); ``gate_shift``: how many nats B's
    gate adds to A's log odds of an S curve."""

    flow_loss: float | None = None
    preference_loss: float | None = None
    barrier: float | None = None
    certainty: float | None = None
    evidence: float | None = None
    effective_samples: float | None = None
    tilt: float | None = None
    gate_shift: float | None = None

    def reported(self) -> dict[str, float]:
        """The figures the method filled, by field name, in field order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass
class RoundRecord:
    """What one call of :meth:`~toyflow.preference.session.PreferenceSession.give` did (``action="answer"``), or
    what :meth:`~toyflow.preference.session.PreferenceSession.undo` took back (``action="undo"``, ``round`` the
    round undone). An answer that was later undone keeps its record, with ``undone=True``; ``stats`` are what the
    method's update reported."""

    round: int
    labels: list[float] | None
    updated: bool
    reason: str = ""
    stats: UpdateStats = field(default_factory=UpdateStats)
    seconds: float = 0.0
    action: str = "answer"
    undone: bool = False

    @property
    def in_effect(self) -> bool:
        """An answer that was not undone."""
        return self.action == "answer" and not self.undone


@dataclass
class Labelled:
    """Proposals with the person's labels: ``noise, samples (n, num_points, 2)``, ``labels (n,)`` summing to 1."""

    noise: torch.Tensor
    samples: torch.Tensor
    labels: torch.Tensor


@dataclass
class Pool:
    """Model A's own samples that a method learns from: ``noise`` and ``samples``, ``(pool_size, num_points, 2)``."""

    noise: torch.Tensor
    samples: torch.Tensor


@dataclass(frozen=True)
class ChartPoint:
    """The chart's figures after round ``round``: S-fraction and clean fraction of A and of B on fixed noises."""

    round: int
    s_fraction_a: float
    s_fraction_b: float
    clean_a: float
    clean_b: float
