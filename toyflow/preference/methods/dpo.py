"""``dpo``: Flow-DPO style, with frozen A as the reference inside the logits.

Logits ``-(e_B - e_A) / temperature`` of the straight-path errors, every earlier round replayed, several steps
per round on a few sampled grid times, the dynamic barrier protecting the flow-matching loss on fresh data. Like
``reward-fm``, B restarts from A every round (``settings.restart``): it learns from every tick so far, and the steps
of earlier rounds do not pile up (without it B's clean fraction fell from 0.34 after 3 rounds to 0.11 after 5, with
Swiss rolls preferred). Like ``reward-fm``, its learning rates are scaled by the preference model's certainty that
the ticks follow the clouds (:mod:`~toyflow.preference.belief`): Adam moves every weight by about its learning rate
whatever the gradient, so random ticks moved B as far as real ones (the label-free model A's B after 3 rounds of
random ticks: clean 0.42 in one seed of three; scaled, 0.88-0.91 against A's 0.90).

It learns where the shape is chosen: from the errors at the early grid times (``t <= settings.dpo_t_max``), and in
a model with class heads only in the gate (``settings.dpo_gate_lr``). On the whole grid and the whole network,
raising the errors of the unticked Swiss rolls broke them instead of turning them into S curves (the gated model A
after 3 exact rounds: valid 0.18-0.67, S curves 0.20; the label-free one: clean 0.39); early, B's clouds stay as
clean as A's. A network without class heads learns whole (``settings.lr``), its barrier reading enough fresh clouds
(``settings.dpo_barrier_batch``) to protect every weight.
"""

from __future__ import annotations

import torch
from torch import nn

from ...flow import mixture_loss
from ...model import has_class_heads
from ...solver import time_grid
from ..base import Method, register
from ..objectives import preference_cross_entropy, straight_path_errors, straight_path_errors_by_time
from ..records import Proposal, UpdateStats
from ..settings import MethodSettings
from ..workbench import Workbench


@register
class FlowDPO(Method):
    """Preference descent against frozen A on all rounds so far; flow matching may not rise to first order."""

    name = "dpo"

    def parameter_groups(self, b: nn.Module, settings: MethodSettings) -> list[dict]:
        """The gate at ``settings.dpo_gate_lr`` for a model with class heads
        (:meth:`~toyflow.model.CloudFlow.shape_parameters`), else the whole network at ``settings.lr``."""
        if not has_class_heads(b):
            return super().parameter_groups(b, settings)
        gate, _ = b.shape_parameters()
        return [{"params": gate, "lr": settings.dpo_gate_lr}]

    def update(self, bench: Workbench, generator: torch.Generator) -> UpdateStats:
        """Restart B from A (``settings.restart``), then ``settings.steps`` steps, each on ``settings.time_samples``
        of the grid times it learns from (:meth:`times`) and a fresh batch of ``settings.dpo_barrier_batch`` clouds
        whose flow-matching loss the barrier protects, at learning rates scaled by the preference model's certainty
        (none: B stays A)."""
        s = bench.settings
        if s.restart:
            bench.restart_from_a()
        belief = bench.belief()
        bench.scale_learning_rates(belief.certainty)
        grid = self.times(bench)
        buffer = bench.buffer
        noise, samples = torch.cat([i.noise for i in buffer]), torch.cat([i.samples for i in buffer])
        sizes = [i.labels.shape[0] for i in buffer]
        with torch.no_grad():  # A is frozen: its errors at every grid time, once a round
            e_a = straight_path_errors_by_time(bench.a, noise, samples, grid)
        stats = UpdateStats()
        for _ in range(s.steps):
            idx = torch.randint(0, grid.shape[0], (s.time_samples,), generator=generator)
            # the mean over the drawn times, a time drawn twice counted twice: each drawn time read once
            counts = torch.bincount(idx, minlength=grid.shape[0])
            drawn = counts.nonzero().flatten()
            weights = (counts / s.time_samples).to(e_a)[:, None]
            e_b = (weights[drawn] * straight_path_errors_by_time(bench.b, noise, samples, grid[drawn])).sum(0)
            logits = -(e_b - (weights * e_a).sum(0)) / s.temperature
            g = sum(
                preference_cross_entropy(part, item.labels)
                for part, item in zip(logits.split(sizes), buffer, strict=True)
            ) / len(buffer)
            batch = bench.fresh_batch(s.dpo_barrier_batch, generator)
            t = torch.rand(batch.clouds.shape[0], generator=generator).to(bench.device)
            f = mixture_loss(bench.b, batch.clouds, batch.noise, t, batch.is_s)
            # quality is the protected objective: descend on g, and f may not rise to first order
            barrier = bench.barrier_step(descend=g, protect=f, phi=0.0)
            stats = UpdateStats(
                flow_loss=f.item(),
                preference_loss=g.item(),
                barrier=barrier,
                certainty=belief.certainty,
                evidence=belief.evidence,
            )
        return stats

    def objective(self, bench: Workbench, proposal: Proposal, labels: torch.Tensor) -> float:
        """The cross entropy of ``labels (n,)`` with these logits of ``proposal``'s ``n`` clouds over every grid time
        it learns from (:meth:`times`)."""
        times = self.times(bench)
        return float(preference_cross_entropy(self.logits(bench, proposal.noise, proposal.samples, times), labels))

    @staticmethod
    def times(bench: Workbench) -> torch.Tensor:
        """The sampler's grid times the preference loss reads, ``(k,)`` on B's device: those up to
        ``settings.dpo_t_max`` (``t = 0`` at least), where the shape is chosen."""
        grid = time_grid(bench.sampler.steps, bench.device)[:-1]
        return grid[grid <= bench.settings.dpo_t_max]

    @staticmethod
    def logits(bench: Workbench, noise: torch.Tensor, samples: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """``-(e_B - e_A) / temperature`` for proposals ``noise, samples (n, num_points, 2)``: ``(n,)``."""
        e_b = straight_path_errors(bench.b, noise, samples, times)
        with torch.no_grad():
            e_a = straight_path_errors(bench.a, noise, samples, times)
        return -(e_b - e_a) / bench.settings.temperature
