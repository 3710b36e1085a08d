"""``reward-fm`` (the default, chosen by ``benchmarks/preference.py``): reward-weighted flow matching, as far as the
evidence warrants.

A pool of A's own samples (drawn once per session) is weighted by what B believes about the person's taste
(:mod:`~toyflow.preference.belief`: each cloud's tick rate, and the certainty that the ticks follow the clouds at
all), and B, restarted from A each round, takes a few flow-matching steps on that weighted pool, each cloud with its
own noise paired to it as in A's training (drawn and paired once per session:
:meth:`~toyflow.preference.workbench.Workbench.pool_pairs`). The certainty scales both the weighting and the
learning rates: with no evidence (random ticks, a single round) B stays A; with a dozen consistent ticks B becomes
A tilted towards the clouds the person ticks. B also moves in proportion to how far the weighting takes the pool
from A's own law, up to a small tilt, and a network without class heads takes its full step once the belief is
half sure (:func:`step_scale`).

In a model with class heads B learns in the gate, which chooses the shape, at early times only (``t < t_max``),
with A's own reading of each pool cloud as the gate's soft label (so an unweighted pool leaves A's gate optimal),
and a little in the velocity heads; the trunk stays A's. In a model that never saw a label there is no gate to move:
B bends its whole field, at every time, each step on more pool clouds, each read at a random subset of its points
(``settings.whole_pool_batch``, ``settings.whole_points``).
"""

from __future__ import annotations

import torch
from torch import nn

from ...flow import mixture_loss
from ...model import has_class_heads
from ..base import Method, register
from ..belief import Belief, fit_belief
from ..records import Batch, Proposal, UpdateStats
from ..settings import MethodSettings
from ..workbench import Workbench

OBJECTIVE_TIMES = (0.1, 0.4, 0.7, 0.9)


@register
class RewardFM(Method):
    """Flow matching of B on A's pool, resampled with weights ``softmax(strength * score)``."""

    name = "reward-fm"

    def parameter_groups(self, b: nn.Module, settings: MethodSettings) -> list[dict]:
        """The gate at ``settings.gate_lr`` and the velocity heads at ``settings.head_lr`` for a model with class
        heads (:meth:`~toyflow.model.CloudFlow.shape_parameters`), else the whole network at ``settings.whole_lr``."""
        if not has_class_heads(b):
            return [{"params": list(b.parameters()), "lr": settings.whole_lr}]
        gate, heads = b.shape_parameters()
        return [{"params": gate, "lr": settings.gate_lr}, {"params": heads, "lr": settings.head_lr}]

    def prepare(self, bench: Workbench) -> None:
        """Draw the pool, pair it with noise and read A's classes of it now, so that the first round is as quick as
        the others."""
        bench.pool_pairs()
        bench.pool_classes()

    def update(self, bench: Workbench, generator: torch.Generator) -> UpdateStats:
        """Fit the preference model to every tick so far (:meth:`~toyflow.preference.workbench.Workbench.belief`),
        restart B from A (``settings.restart``), then ``settings.steps`` steps on the pool weighted by
        ``softmax(strength * certainty * rate)``, at learning rates scaled by :func:`step_scale`: without evidence
        that the ticks follow the clouds, B stays A."""
        s = bench.settings
        pool = bench.pool().samples
        pairs = bench.pool_pairs()
        classes = bench.pool_classes()
        belief = bench.belief()
        weights = pool_weights(belief, pool, s.strength)
        tilt = pool_tilt(weights)
        gated = has_class_heads(bench.b)
        if s.restart:  # B = A fine-tuned on every tick so far: no drift piles up over the rounds
            bench.restart_from_a()
        bench.scale_learning_rates(step_scale(belief.certainty, tilt, gated, s.tilt_nats, s.certainty_full))
        size = s.pool_batch if gated else s.whole_pool_batch

        def next_batch() -> Batch:
            idx = torch.multinomial(weights, size, replacement=True, generator=generator).to(pool.device)
            pick = torch.randint(0, pairs.shape[0], (len(idx),), generator=generator).to(pool.device)
            labels = None if classes is None else classes[idx]
            if gated or s.whole_points >= pool.shape[1]:
                return Batch(pool[idx], pairs[pick, idx], labels)
            # the same random points of every cloud of the step, gathered once with their paired noise points
            keep = torch.randperm(pool.shape[1], generator=generator)[: s.whole_points].to(pool.device)
            return Batch(pool[idx[:, None], keep], pairs[pick[:, None], idx[:, None], keep], labels)

        t_max = s.t_max if gated else 1.0
        return UpdateStats(
            flow_loss=bench.fit(next_batch, s.steps, generator, t_max),
            certainty=belief.certainty,
            evidence=belief.evidence,
            effective_samples=float(1.0 / weights.pow(2).sum()),
            tilt=tilt,
        )

    def objective(self, bench: Workbench, proposal: Proposal, labels: torch.Tensor) -> float:
        """B's flow-matching loss (A's training loss, with A's reading of each pool cloud as its class where the
        network has class heads) on the pool weighted by the preference model of these labels alone, at fixed
        times, each pool cloud with the first of the noises paired with it (what :meth:`update` trains on)."""
        pool = bench.pool().samples
        noise = bench.pool_pairs()[0]
        classes = bench.pool_classes()
        belief = fit_belief([(proposal.samples, labels)], bench.settings.belief_settings())
        weights = pool_weights(belief, pool, bench.settings.strength).to(bench.device)
        total = 0.0
        for t in OBJECTIVE_TIMES:
            tt = torch.full((pool.shape[0],), t, device=bench.device)
            total += float(mixture_loss(bench.b, pool, noise, tt, classes, weights=weights))
        return total / len(OBJECTIVE_TIMES)


def pool_weights(belief: Belief, pool: torch.Tensor, strength: float) -> torch.Tensor:
    """How often B sees each cloud of A's ``pool (m, num_points, 2)``: ``softmax(strength * certainty * rate)``,
    ``(m,)`` summing to 1, on the CPU (where the session's generators draw from it). Uniform (A's own law) when the
    belief is not sure at all."""
    rate = belief.rates(pool).mean
    return torch.softmax(strength * belief.certainty * rate, dim=0)


def pool_tilt(weights: torch.Tensor) -> float:
    """How far a weighting ``(m,)`` (summing to 1) of A's pool takes B's training law from A's own: the Kullback-Leibler
    divergence from the uniform weighting, in nats. 0 for uniform weights; ``log(m / k)`` for weights spread evenly
    over ``k`` of the ``m`` clouds."""
    w = weights.detach().double().flatten()
    w = w / w.sum()  # float32 weights sum to 1 only to rounding
    w = w[w > 0]
    return max(0.0, float((w * (w * weights.numel()).log()).sum()))


def step_scale(certainty: float, tilt: float, class_heads: bool, tilt_nats: float, certainty_full: float) -> float:
    """The factor on B's learning rates: how sure the belief is, times ``min(1, tilt / tilt_nats)``, how far the
    weighting takes A's pool from A's own law (:func:`pool_tilt`). Without the tilt a pool that barely differs from
    A's law still moves B by the noise of its steps: in a network with class heads the gate, whose 8 steps on A's
    own law moved B from 0.17 to 0.24 S curves after random ticks at a certainty of 0.12; in a whole network Adam's
    first steps, which move every weight by about its learning rate whatever the gradient. How sure: for a network
    with class heads the ``certainty`` itself (its gate moves a calibrated choice between shapes, and a full step on
    a belief half sure moved it less, not more); for a network without class heads ``min(1, certainty /
    certainty_full)``: its full step, which its clean clouds bound, is taken once the belief is fairly sure (a
    dozen ticks of Swiss rolls leave it only 0.2-0.5 sure, since only the unticked S curves among them are
    evidence)."""
    sure = certainty if class_heads else min(1.0, certainty / certainty_full)
    return sure * min(1.0, tilt / tilt_nats)
