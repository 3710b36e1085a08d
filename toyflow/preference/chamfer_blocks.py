"""Chamfer distances between clouds that come in blocks, each pair of blocks measured once a session.

The preference model reads the Chamfer distances between the labelled clouds (how well each tick is predicted from
those before it: :func:`~toyflow.preference.belief.fit_belief`) and from every cloud of model A's pool to them
(:meth:`~toyflow.preference.belief.Belief.rates`), and every round adds a proposal to the labelled clouds. Measured
again from scratch, the first grew with the square of the rounds (0.34 s a round by the fortieth on the 2-core CPU)
and the second with the rounds. :class:`ChamferBlocks` keeps each pair of blocks' nearest-point distances
(:class:`~toyflow.judge.NearestDistances`) and gives the Chamfer distances between any runs of blocks, the values
:func:`~toyflow.judge.pairwise_chamfer` gives, to the bit.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import torch

from ..judge import NearestDistances

Kept = tuple[torch.Tensor, torch.Tensor, NearestDistances]  # (row block, column block, their distances)


class ChamferBlocks:
    """Chamfer distances between the first ``points`` points of the clouds of blocks ``(clouds, num_points, 2)``
    (A's pool, a labelled proposal), each pair of blocks measured the first time it is asked for (the same tensor
    objects) and kept while it is asked for. Thread safe."""

    def __init__(self, points: int) -> None:
        self.points = points
        self._lock = threading.Lock()
        self._kept: dict[tuple[int, int], Kept] = {}

    def between(self, rows: Sequence[torch.Tensor], columns: Sequence[torch.Tensor]) -> torch.Tensor:
        """The Chamfer distances ``(n, m)`` from every cloud of the blocks ``rows`` (``n`` clouds in all, in turn) to
        every cloud of the blocks ``columns`` (``m``): ``pairwise_chamfer(first(rows), first(columns))`` to the bit,
        ``first`` joining the blocks' first ``points`` points as float32 on the CPU. Pairs of blocks not in this call
        are forgotten. ``ValueError`` for no blocks on either side."""
        if not rows or not columns:
            raise ValueError("Chamfer distances need clouds on both sides")
        with self._lock:
            kept = {(id(r), id(c)): self._pair(r, c) for r in rows for c in columns}
            self._kept = kept
        grid = [NearestDistances.joined([kept[id(r), id(c)][2] for c in columns]) for r in rows]
        joined = NearestDistances(torch.cat([g.a_to_b for g in grid]), torch.cat([g.b_to_a for g in grid]))
        return joined.chamfer(min(self.points, columns[0].shape[1]))

    def _pair(self, row: torch.Tensor, column: torch.Tensor) -> Kept:
        kept = self._kept.get((id(row), id(column)))
        if kept is not None and kept[0] is row and kept[1] is column:
            return kept
        return row, column, NearestDistances.of(self._first(row), self._first(column))

    def _first(self, block: torch.Tensor) -> torch.Tensor:
        return block[:, : self.points].detach().cpu().float()
