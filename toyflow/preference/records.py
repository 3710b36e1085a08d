"""What a preference session keeps: proposals of model A, labelled proposals, and a record of every round."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Proposal:
    """Proposals of model A: ``noise`` and ``samples`` are ``(n, num_points, 2)``; ``seed`` is the noise's seed and
    ``number`` counts the session's proposals from 1; ``trajectory`` (when the session kept it) is every step of
    the sampler from ``noise`` to ``samples``, ``(steps + 1, n, num_points, 2)``."""

    noise: torch.Tensor
    samples: torch.Tensor
    seed: int | None = None
    number: int = 0
    trajectory: torch.Tensor | None = None


@dataclass
class RoundRecord:
    """What one call of :meth:`~toyflow.preference.session.PreferenceSession.give` did (``action="answer"``), or
    what :meth:`~toyflow.preference.session.PreferenceSession.undo` took back (``action="undo"``, ``round`` the
    round undone). An answer that was later undone keeps its record, with ``undone=True``. The figures a method
    reports (any may be ``None``): ``preference_loss``, ``flow_loss``, ``barrier`` (the original's), ``certainty``
    (the preference model's probability that the ticks follow the clouds), ``evidence`` (its log Bayes factor, in
    nats) and ``effective_samples`` (how many of A's pool clouds B effectively learned from)."""

    round: int
    labels: list[float] | None
    updated: bool
    reason: str = ""
    preference_loss: float | None = None
    flow_loss: float | None = None
    barrier: float | None = None
    certainty: float | None = None
    evidence: float | None = None
    effective_samples: float | None = None
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
