"""``reference``: the original method (docs/original.md), faithfully.

Straight-path errors of B on the newest round's proposals over the 100 Euler grid times, cross entropy of
``softmax(-e)`` with the labels, combined with the flow-matching loss on fresh training data (independent noise,
as the original draws it) by dynamic barrier gradient descent: one Adam step of lr 1e-3 per round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ...flow import mixture_loss
from ...solver import time_grid
from ..base import Method, MethodSettings, register
from ..objectives import barrier_direction, flat_grad, preference_cross_entropy, straight_path_errors, trainable

if TYPE_CHECKING:
    from ..session import PreferenceSession, Proposal

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

    def update(self, session: PreferenceSession, generator: torch.Generator) -> dict[str, float | None]:
        """One step: ``f`` = flow matching on fresh data, ``g`` = the preference cross entropy, the barrier keeping
        ``<d, grad g> >= min(g, ||grad g||^2)``."""
        last = session.buffer[-1]
        params = trainable(session.b)
        x1, x0, is_s = session.fresh_batch(session.settings.fm_batch, generator, couple=False)
        t = torch.rand(x1.shape[0], generator=generator).to(session.device)
        f = mixture_loss(session.b, x1, x0, t, is_s)
        grad_f = flat_grad(f, params)
        e = straight_path_errors(session.b, last.noise, last.samples, self.times(session.device))
        g = preference_cross_entropy(-e, last.labels)
        grad_g = flat_grad(g, params)
        phi = min(g.item(), grad_g.pow(2).sum().item())
        d, lam = barrier_direction(grad_f, grad_g, phi)
        session.step_along(params, d)
        return {"preference_loss": g.item(), "flow_loss": f.item(), "barrier": lam}

    def objective(self, session: PreferenceSession, proposal: Proposal, labels: torch.Tensor) -> float:
        """Cross entropy of ``softmax(-e_B)`` with the labels, errors over the whole grid."""
        e = straight_path_errors(session.b, proposal.noise, proposal.samples, self.times(session.device))
        return float(preference_cross_entropy(-e, labels))

    @staticmethod
    def times(device: torch.device) -> torch.Tensor:
        """The grid times ``t_k = k / 100``, ``k = 0..99``: ``(100,)``."""
        return time_grid(REFERENCE_GRID, device)[:-1]
