"""``reward-fm`` (the default, chosen by ``benchmarks/preference.py``): reward-weighted flow matching.

A pool of A's own samples (drawn once per session) is weighted by a preference model fitted to every tick so far
(a kernel on Chamfer distances to the ticked and unticked proposals), and B, restarted from A each round, takes a
few flow-matching steps on that weighted pool, each cloud with its own noise paired to it as in A's training (drawn
and paired once per session: :meth:`~toyflow.preference.toolkit.MethodToolkit.pool_pairs`), at early times only
(``t < t_max``, where a cloud's shape is chosen; later times, which draw the shape, stay A's). In a model with class
heads B learns only in the gate, which chooses the shape, and a little in the velocity heads; the trunk stays A's,
so B moves probability between the shapes A draws and draws them as well as A does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ...flow import flow_matching_loss
from ...model import has_class_heads
from ..base import Method, MethodSettings, register
from ..objectives import kernel_scores

if TYPE_CHECKING:
    from ..session import PreferenceSession, Proposal

OBJECTIVE_TIMES = (0.1, 0.4, 0.7, 0.9)


@register
class RewardFM(Method):
    """Flow matching of B on A's pool, resampled with weights ``softmax(strength * score)``."""

    name = "reward-fm"

    def parameter_groups(self, b: nn.Module, settings: MethodSettings) -> list[dict]:
        """The gate at ``settings.gate_lr`` and the velocity heads at ``settings.head_lr`` for a model with class
        heads (:meth:`~toyflow.model.CloudFlow.shape_parameters`), else the whole network at ``settings.lr``."""
        if not has_class_heads(b):
            return super().parameter_groups(b, settings)
        gate, heads = b.shape_parameters()
        return [{"params": gate, "lr": settings.gate_lr}, {"params": heads, "lr": settings.head_lr}]

    def prepare(self, session: PreferenceSession) -> None:
        """Draw the pool and pair it with noise now, so that the first round is as quick as the others."""
        session.pool_pairs()

    def update(self, session: PreferenceSession, generator: torch.Generator) -> dict[str, float | None]:
        """Restart B from A (``settings.restart``), then ``settings.steps`` steps on the weighted pool."""
        s = session.settings
        _, pool = session.pool()
        pairs = session.pool_pairs()
        weights = torch.softmax(s.strength * session.preference_scores(pool), dim=0)
        if s.restart:  # B = A fine-tuned on every tick so far: no drift piles up over the rounds
            session.restart_from_a()

        def next_batch() -> tuple[torch.Tensor, torch.Tensor, None]:
            idx = torch.multinomial(weights, s.pool_batch, replacement=True, generator=generator).to(pool.device)
            pick = torch.randint(0, pairs.shape[0], (len(idx),), generator=generator).to(pool.device)
            return pool[idx], pairs[pick, idx], None

        return {"flow_loss": session.fit(next_batch, s.steps, generator, s.t_max)}

    def objective(self, session: PreferenceSession, proposal: Proposal, labels: torch.Tensor) -> float:
        """B's flow-matching loss on the pool weighted by a preference model fitted to these labels, at fixed times,
        each pool cloud with the first of the noises paired with it (what :meth:`update` trains on)."""
        _, pool = session.pool()
        noise = session.pool_pairs()[0]
        scores = kernel_scores(pool, [(proposal.samples, labels)], session.settings.kernel_points)
        weights = torch.softmax(session.settings.strength * scores, 0)
        total = 0.0
        for t in OBJECTIVE_TIMES:
            tt = torch.full((pool.shape[0],), t, device=session.device)
            total += float(flow_matching_loss(session.b, pool, noise, tt, weights=weights))
        return total / len(OBJECTIVE_TIMES)
