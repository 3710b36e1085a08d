"""The Chamfer distances from model A's pool to the labelled proposals, each proposal's measured once a session.

The preference model rates every cloud of A's pool by its distances to every labelled cloud (:meth:`~toyflow.
preference.belief.Belief.rates`), and a round adds a proposal to the labelled ones: measuring the pool against all of
them again cost a round 6-18 ms by its fifth on the 2-core CPU, growing with every round. :class:`PoolDistances`
keeps each proposal's nearest-point distances to the pool (:class:`~toyflow.judge.NearestDistances`) and gives the
Chamfer distances to any run of them, the values :func:`~toyflow.judge.pairwise_chamfer` gives, to the bit.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import torch

from ..judge import NearestDistances


class PoolDistances:
    """Chamfer distances from the clouds of ``pool (m, k, 2)`` to the first ``k`` points of labelled clouds that come
    a proposal at a time. Thread safe."""

    def __init__(self, pool: torch.Tensor) -> None:
        self.pool = pool.detach().cpu()
        self._lock = threading.Lock()
        self._parts: dict[int, tuple[torch.Tensor, NearestDistances]] = {}  # id(clouds) -> (clouds, distances)

    def to(self, proposals: Sequence[torch.Tensor]) -> torch.Tensor:
        """The Chamfer distances ``(m, n)`` from every pool cloud to the first ``k`` points of every cloud of
        ``proposals`` (each ``(clouds, num_points, 2)``, ``n`` clouds in all, in turn): ``pairwise_chamfer(pool,
        torch.cat([c[:, :k] for c in proposals]).float())``, to the bit. A proposal's distances are measured the first
        time it is seen (the same tensor object) and kept; those of proposals no longer asked for are dropped."""
        if not proposals:
            raise ValueError("no labelled clouds to measure the pool against")
        q = min(self.pool.shape[1], proposals[0].shape[1])
        with self._lock:
            parts = {id(c): self._part(c) for c in proposals}
            self._parts = parts
        return NearestDistances.joined([parts[id(c)][1] for c in proposals]).chamfer(q)

    def _part(self, clouds: torch.Tensor) -> tuple[torch.Tensor, NearestDistances]:
        kept = self._parts.get(id(clouds))
        if kept is not None and kept[0] is clouds:
            return kept
        points = clouds[:, : self.pool.shape[1]].detach().cpu().float()
        return clouds, NearestDistances.of(self.pool, points)
