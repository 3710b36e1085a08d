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

Key = tuple[int, tuple[int, ...], tuple[int, ...], torch.dtype, torch.device]  # the memory a block reads


class ChamferBlocks:
    """Chamfer distances between the first ``points`` points of the clouds of blocks ``(clouds, num_points, 2)``
    (A's pool, a proposal), each pair of blocks measured the first time it is asked for and kept while it is asked
    for, or measured :meth:`ahead` of the proposal being shown. A block is known by the memory it reads (views of the
    same memory, e.g. ``detach()``-ed, are the same block; blocks are never changed in place), and kept alive with its
    distances. Thread safe."""

    def __init__(self, points: int) -> None:
        self.points = points
        self._lock = threading.Lock()
        self._kept: dict[tuple[Key, Key], tuple[torch.Tensor, torch.Tensor, NearestDistances]] = {}
        self._ahead: Key | None = None  # the block of the latest measure ahead

    def between(self, rows: Sequence[torch.Tensor], columns: Sequence[torch.Tensor]) -> torch.Tensor:
        """The Chamfer distances ``(n, m)`` from every cloud of the blocks ``rows`` (``n`` clouds in all, in turn) to
        every cloud of the blocks ``columns`` (``m``): ``pairwise_chamfer(first(rows), first(columns))`` to the bit,
        ``first`` joining the blocks' first ``points`` points as float32 on the CPU. ``ValueError`` for no blocks on
        either side."""
        if not rows or not columns:
            raise ValueError("Chamfer distances need clouds on both sides")
        pairs = self.measure(rows, columns)
        with self._lock:  # what is neither asked for now nor measured ahead is forgotten (a proposal never answered)
            self._kept = {k: v for k, v in self._kept.items() if k in pairs or self._ahead in k}
        grid = [NearestDistances.joined([pairs[key(r), key(c)] for c in columns]) for r in rows]
        joined = NearestDistances(torch.cat([g.a_to_b for g in grid]), torch.cat([g.b_to_a for g in grid]))
        return joined.chamfer(min(self.points, columns[0].shape[1]))

    def measure(
        self, rows: Sequence[torch.Tensor], columns: Sequence[torch.Tensor]
    ) -> dict[tuple[Key, Key], NearestDistances]:
        """Measure every pair of a block of ``rows`` and one of ``columns`` not measured yet (e.g. ahead of the
        round that will ask for them); their nearest distances by the pair's keys."""
        with self._lock:
            for r in rows:
                for c in columns:
                    if (key(r), key(c)) not in self._kept:
                        self._kept[key(r), key(c)] = (r, c, NearestDistances.of(self._first(r), self._first(c)))
            return {(key(r), key(c)): self._kept[key(r), key(c)][2] for r in rows for c in columns}

    def ahead(self, rows: Sequence[torch.Tensor], columns: Sequence[torch.Tensor], block: torch.Tensor) -> None:
        """:meth:`measure` the pairs of ``rows`` and ``columns`` ahead of the round that will ask for them, ``block``
        (the proposal being shown) one of their blocks: kept until asked for, or until ahead of another block."""
        with self._lock:
            self._ahead = key(block)
        self.measure(rows, columns)

    def _first(self, block: torch.Tensor) -> torch.Tensor:
        return block[:, : self.points].detach().cpu().float()


def key(block: torch.Tensor) -> Key:
    """What :class:`ChamferBlocks` knows a block by: the memory it reads (its first element's address, shape,
    strides, type and device)."""
    return block.data_ptr(), tuple(block.shape), tuple(block.stride()), block.dtype, block.device
