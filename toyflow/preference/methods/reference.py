"""``reference``: the original method (docs/original.md), faithfully.

Straight-path errors of B on the newest round's proposals over the 100 Euler grid times, cross entropy of
``softmax(-e)`` with the labels, combined with the flow-matching loss on fresh training data (independent noise,
as the original draws it) by dynamic barrier gradient descent: one Adam step of lr 1e-3 per round.
"""

from __future__ import annotations

import torch

from ...flow import mixture_loss
from ...solver import time_grid
from ..base import Method, register
from ..objectives import preference_cross_entropy, straight_path_errors
from ..records import Proposal, UpdateStats
from ..settings import MethodSettings
from ..workbench import Workbench

REFERENCE_LR = 1e-3  # the original: one Adam step of lr 1e-3 per round
REFERENCE_GRID = 100  # the original: straight-path errors over the 100 Euler grid times


@register
class Reference(Method):
    """The original round's steps 1, 3, 5, 6 (docs/original.md): one dynamic-barrier Adam step on the newest round
    only."""

    name = "reference"

    def learning_rate(self, settings: MethodSettings) -> float:
        """Always the original's 1e-3."""
        return REFERENCE_LR

    def update(self, bench: Workbench, generator: torch.Generator) -> UpdateStats:
        """One step: ``f`` = flow matching on fresh data, ``g`` = the preference cross entropy, the barrier keeping
        ``<d, grad g> >= min(g, ||grad g||^2)``."""
        last = bench.buffer[-1]
        batch = bench.fresh_batch(bench.settings.fm_batch, generator, couple=False)
        t = torch.rand(batch.clouds.shape[0], generator=generator).to(bench.device)
        f = mixture_loss(bench.b, batch.clouds, batch.noise, t, batch.is_s)
        e = straight_path_errors(bench.b, last.noise, last.samples, self.times(bench.device))
        g = preference_cross_entropy(-e, last.labels)
        barrier = bench.barrier_step(descend=f, protect=g)
        return UpdateStats(flow_loss=f.item(), preference_loss=g.item(), barrier=barrier)

    def objective(self, bench: Workbench, proposal: Proposal, labels: torch.Tensor) -> float:
        """Cross entropy of ``softmax(-e_B)`` with ``labels (n,)``, ``e_B (n,)`` B's straight-path errors of
        ``proposal``'s ``n`` clouds over the whole grid."""
        e = straight_path_errors(bench.b, proposal.noise, proposal.samples, self.times(bench.device))
        return float(preference_cross_entropy(-e, labels))

    @staticmethod
    def times(device: torch.device) -> torch.Tensor:
        """The grid times ``t_k = k / 100``, ``k = 0..99``: ``(100,)``."""
        return time_grid(REFERENCE_GRID, device)[:-1]
