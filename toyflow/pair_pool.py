"""A pool of coupled training pairs: (cloud, its noise) pairs, coupled once and drawn many times.

Coupling noise with data by optimal transport (:mod:`toyflow.coupling`) costs more than the network's whole training
step on a CPU. Model A's training therefore fills a pool with fresh coupled pairs for its first steps (one batch a
step, trained on as it is drawn) and, once the pool is full, trains on random batches of it, each pair at a fresh
time ``t``. A step then costs less than half as much (with bfloat16, a quarter), and more steps, more than fresh
pairs, are what bring the flow's points onto their curves. :func:`random_points` takes part of every
pair's points, which halves a step again for most of the training (``Recipe.subset_points``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .validation import check_count


@dataclass(frozen=True)
class Pairs:
    """A training batch of coupled pairs: ``clouds`` and the ``noise`` paired with them, ``(batch, num_points, 2)``
    (noise point ``i`` of a cloud travels to its point ``i``), and ``is_s (batch,)``, each cloud's label or
    probability of being an S curve (``None``: unknown, as for model B's pool of A's own clouds)."""

    clouds: torch.Tensor
    noise: torch.Tensor
    is_s: torch.Tensor | None

    def __len__(self) -> int:
        return self.clouds.shape[0]


class PairPool:
    """Up to ``capacity`` coupled pairs, stored on the CPU.

    :meth:`add` stores a batch of pairs until the pool is :attr:`full`; :meth:`draw` returns a random batch of stored
    pairs. All pairs must have the same number of points.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = check_count("capacity", capacity)
        self._parts: list[Pairs] = []  # the batches added, joined into one on the first draw after an add
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def full(self) -> bool:
        """Whether the pool holds ``capacity`` pairs (it takes no more)."""
        return self._size >= self.capacity

    def add(self, pairs: Pairs) -> None:
        """Store ``pairs`` (labelled: model A's training pairs), or as many of them as still fit."""
        if pairs.is_s is None:
            raise ValueError("the pair pool stores labelled pairs: is_s is None")
        if self.full:
            return
        keep = min(self.capacity - self._size, len(pairs))
        self._parts.append(Pairs(*(p[:keep].detach().cpu() for p in (pairs.clouds, pairs.noise, pairs.is_s))))
        self._size += keep

    def draw(self, batch_size: int, generator: torch.Generator) -> Pairs:
        """``batch_size`` stored pairs drawn uniformly with replacement from ``generator``."""
        check_count("batch_size", batch_size)
        if not self._size:
            raise ValueError("the pair pool is empty: add pairs before drawing from it")
        if len(self._parts) > 1:
            parts = self._parts
            self._parts = [Pairs(*(torch.cat([getattr(p, f) for p in parts]) for f in ("clouds", "noise", "is_s")))]
        idx = torch.randint(0, self._size, (batch_size,), generator=generator)
        whole = self._parts[0]
        return Pairs(whole.clouds[idx], whole.noise[idx], whole.is_s[idx])


def random_points(pairs: Pairs, num_points: int, generator: torch.Generator) -> Pairs:
    """The same pairs on ``num_points`` of every cloud's points, drawn without replacement from ``generator``, each
    point kept with its noise point: clouds and noise ``(batch, num_points, 2)``. Pairs with no more than
    ``num_points`` points are returned whole."""
    check_count("num_points", num_points)
    x1 = pairs.clouds
    if x1.shape[1] <= num_points:
        return pairs
    keep = torch.rand(x1.shape[:2], generator=generator).argsort(dim=1)[:, :num_points, None].expand(-1, -1, 2)
    return Pairs(x1.gather(1, keep), pairs.noise.gather(1, keep), pairs.is_s)
