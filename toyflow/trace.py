"""A sampled trajectory with what the decision over time along it is read from, kept as it was sampled (see
:mod:`toyflow.decision`, which fills and reads it). Plain data: the preference records and the views carry it."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DecisionTrace:
    """A sampler's ``trajectory (steps + 1, n, num_points, 2)`` from noise to clouds, with what the decision at each
    state but the last was read from as it was sampled: the gate, ``gate (n, steps)``, or the straight-line endpoints,
    ``endpoints (steps, n, num_points, 2)`` (both ``None``: nothing was kept, and
    :func:`toyflow.decision.decision_from` reads the whole trajectory)."""

    trajectory: torch.Tensor
    gate: torch.Tensor | None = None
    endpoints: torch.Tensor | None = None

    def first(self, n: int) -> DecisionTrace:
        """The trace of the first ``n`` clouds."""
        return DecisionTrace(
            self.trajectory[:, :n],
            None if self.gate is None else self.gate[:n],
            None if self.endpoints is None else self.endpoints[:, :n],
        )
