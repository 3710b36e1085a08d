"""``reward-fm`` (the default, chosen by ``benchmarks/preference.py``): reward-weighted flow matching, as far as the
evidence warrants.

A pool of A's own samples (drawn once per session) is weighted by what B believes about the person's taste
(:mod:`~toyflow.preference.belief`: each cloud's tick rate, and the certainty that the ticks follow the clouds at
all): B's aim is A tilted towards the clouds the person ticks, as far as the evidence warrants. The certainty scales
the weighting; with no evidence (random ticks, a single round) the pool keeps A's own law and B stays A. B also
moves in proportion to how far the weighting takes the pool from A's own law, up to a small tilt (:func:`pool_tilt`,
``settings.tilt_nats``).

In a model with class heads the gate chooses the shape and the heads draw it, so tilting A's law between the shapes
is a change of the gate's log odds alone: by Bayes' rule, the log of how much more the weighted pool favours A's S
curves than its rolls, each pool cloud counted by A's own reading of it (:func:`gate_shift`). B is A with that shift
(times ``settings.gate_shift_gain``) added to its gate, in closed form: no steps, no noise, the same B for the same
ticks. In a model that never saw a label there is no gate to move: B is its own network until
``settings.handoff_time`` and a frozen copy of A's from it on (:class:`~toyflow.handoff.HandOff`), so that B chooses
the shape and A's late field draws it. B's own network, restarted from A each round, bends its field at the times
before the hand-off by a few flow-matching steps on the weighted pool, each cloud with its own noise paired to it as
in A's training (drawn and paired once per session: :meth:`~toyflow.preference.workbench.Workbench.pool_pairs`),
each step on ``settings.whole_pool_batch`` pool clouds read at a random subset of their points
(``settings.whole_points``).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn

from ...flow import mixture_loss
from ...handoff import HandOff
from ...model import has_class_heads
from ...pair_pool import Pairs
from ..base import Method, register
from ..belief import Belief, fit_belief
from ..records import Proposal, UpdateStats
from ..settings import MethodSettings
from ..workbench import Workbench

OBJECTIVE_TIMES = (0.1, 0.4, 0.7, 0.9)


@register
class RewardFM(Method):
    """B moves towards A's law tilted by the preference model: a gated B by a closed-form shift of its gate, a
    label-free B by flow matching on A's pool weighted by ``softmax(strength * certainty * rate)``."""

    name = "reward-fm"

    def build_b(self, a: nn.Module, settings: MethodSettings) -> nn.Module:
        """A copy of ``a`` where it has class heads. Without them, B's own network until ``settings.handoff_time``
        and A's (a frozen copy) from it on (:class:`~toyflow.handoff.HandOff`): B chooses the shape, A's late field
        draws it; a copy of ``a`` if that time is 1. A model A that is itself a hand-off (a B saved before) gives B
        a copy of its early network as B's own and of its late one, at its own hand-off time."""
        if isinstance(a, HandOff) or has_class_heads(a) or settings.handoff_time >= 1.0:
            return copy.deepcopy(a)
        return HandOff(copy.deepcopy(a), copy.deepcopy(a), settings.handoff_time)

    def parameter_groups(self, b: nn.Module, settings: MethodSettings) -> list[dict]:
        """B's own network (the early one of a :class:`~toyflow.handoff.HandOff`) at ``settings.whole_lr`` for a
        network without class heads; none for one with class heads, whose gate is set in closed form
        (:meth:`update`)."""
        if has_class_heads(b):
            return []
        own = b.early if isinstance(b, HandOff) else b
        return [{"params": list(own.parameters()), "lr": settings.whole_lr}]

    def prepare(self, bench: Workbench) -> None:
        """Draw the pool now with what a round reads of it, A's classes of it (a network with class heads) or its
        paired noise (one without), so that the first round is as quick as the others."""
        if bench.pool_classes() is None:  # no class heads: nothing drawn yet, the pairs draw the pool
            bench.pool_pairs()

    def ahead(self, bench: Workbench, proposal: Proposal) -> None:
        """The preference model's Chamfer distances from A's pool and the labelled proposals to ``proposal``
        (:meth:`~toyflow.preference.workbench.Workbench.measure_ahead`), which its answer adds whatever it is."""
        bench.measure_ahead(proposal.samples)

    def update(self, bench: Workbench, generator: torch.Generator) -> UpdateStats:
        """Fit the preference model to every tick so far (:meth:`~toyflow.preference.workbench.Workbench.belief`) and
        weigh A's pool by it (``softmax(strength * certainty * rate)``). A network with class heads: B is A with its
        gate shifted (:func:`gate_shift`). One without: B's own network restarts from A (``settings.restart``) and
        takes ``settings.steps`` steps on the weighted pool, at times before the hand-off to A's late field, at
        learning rates scaled by :func:`step_scale`. Without evidence that the ticks follow the clouds, B stays A."""
        s = bench.settings
        pool = bench.pool().samples
        belief = bench.belief()
        weights = pool_weights(belief, pool, s.strength, bench.pool_distances())
        tilt = pool_tilt(weights)
        stats = UpdateStats(
            certainty=belief.certainty,
            evidence=belief.evidence,
            effective_samples=float(1.0 / weights.pow(2).sum()),
            tilt=tilt,
        )
        classes = bench.pool_classes()
        if classes is not None:
            shift = s.gate_shift_gain * step_scale(tilt, s.tilt_nats) * gate_shift(weights, classes)
            bench.restart_from_a()
            bench.b.shift_gate(shift)
            return replace(stats, gate_shift=shift)
        pairs = bench.pool_pairs()
        if s.restart:  # B = A fine-tuned on every tick so far: no drift piles up over the rounds
            bench.restart_from_a()
        bench.scale_learning_rates(step_scale(tilt, s.tilt_nats))

        def next_batch() -> Pairs:
            idx = torch.multinomial(weights, s.whole_pool_batch, replacement=True, generator=generator).to(pool.device)
            pick = torch.randint(0, pairs.shape[0], (len(idx),), generator=generator).to(pool.device)
            if s.whole_points >= pool.shape[1]:
                return Pairs(pool[idx], pairs[pick, idx], None)
            # the same random points of every cloud of the step, gathered once with their paired noise points
            keep = torch.randperm(pool.shape[1], generator=generator)[: s.whole_points].to(pool.device)
            return Pairs(pool[idx[:, None], keep], pairs[pick[:, None], idx[:, None], keep], None)

        # at the times B's own network draws (before the hand-off to A's late field)
        return replace(stats, flow_loss=bench.fit(next_batch, s.steps, generator, until=own_times(bench.b)))

    def objective(self, bench: Workbench, proposal: Proposal, labels: torch.Tensor) -> float:
        """B's flow-matching loss (A's training loss, with A's reading of each pool cloud as its class where the
        network has class heads) on the pool weighted by the preference model of these labels alone, at fixed
        times, each pool cloud with the first of the noises paired with it: the loss whose optimum on the weighted pool
        :meth:`update` moves B towards (a gated B's gate in closed form, a label-free B by steps of it), at times
        before a hand-off to A's late field."""
        pool = bench.pool().samples
        noise = bench.pool_pairs()[0]
        classes = bench.pool_classes()
        belief = fit_belief([(proposal.samples, labels)], bench.settings.belief_settings())
        weights = pool_weights(belief, pool, bench.settings.strength).to(bench.device)
        total = 0.0
        for t in OBJECTIVE_TIMES:  # scaled to B's own times: a hand-off's late field never moves
            tt = torch.full((pool.shape[0],), t * own_times(bench.b), device=bench.device)
            total += float(mixture_loss(bench.b, pool, noise, tt, classes, weights=weights))
        return total / len(OBJECTIVE_TIMES)


def own_times(b: nn.Module) -> float:
    """Up to which time of the path B's own network draws: its hand-off time (:class:`~toyflow.handoff.HandOff`),
    or 1 (the whole path)."""
    return b.time if isinstance(b, HandOff) else 1.0


def pool_weights(
    belief: Belief, pool: torch.Tensor, strength: float, distances: torch.Tensor | None = None
) -> torch.Tensor:
    """How often B sees each cloud of A's ``pool (m, num_points, 2)``: ``softmax(strength * certainty * rate)``,
    ``(m,)`` summing to 1, on the CPU (where the session's generators draw from it). Uniform (A's own law) when the
    belief is not sure at all. The pool's Chamfer distances to the labelled clouds are read from ``distances (m,
    count)`` where given (:meth:`~toyflow.preference.belief.Belief.rates`)."""
    rate = belief.rates(pool, distances).mean
    return torch.softmax(strength * belief.certainty * rate, dim=0)


def pool_tilt(weights: torch.Tensor) -> float:
    """How far a weighting ``(m,)`` (summing to 1) of A's pool takes B's training law from A's own: the Kullback-Leibler
    divergence from the uniform weighting, in nats. 0 for uniform weights; ``log(m / k)`` for weights spread evenly
    over ``k`` of the ``m`` clouds."""
    w = weights.detach().double().flatten()
    w = w / w.sum()  # float32 weights sum to 1 only to rounding
    w = w[w > 0]
    return max(0.0, float((w * (w * weights.numel()).log()).sum()))


def gate_shift(weights: torch.Tensor, classes: torch.Tensor) -> float:
    """How far a weighting ``(m,)`` of A's pool moves the log odds of an S curve, in nats: ``log(W_S / W_roll)``,
    ``W_S`` the mean weight of the pool's clouds counted by A's reading of each as an S curve, ``classes (m,)`` in
    [0, 1], and ``W_roll`` by ``1 - classes``. Tilting A's law by the weights multiplies its odds of an S curve by
    ``W_S / W_roll`` where the weights follow the shape (Bayes' rule): 0 for uniform weights, positive where the
    weighting favours S curves; 0 when A reads its whole pool as one shape (no odds between shapes to move)."""
    w = weights.detach().double().cpu().flatten()
    p = classes.detach().double().cpu().flatten()
    s_mass, roll_mass = p.sum(), (1 - p).sum()
    if s_mass <= 0 or roll_mass <= 0:
        return 0.0
    return float(torch.log(((p * w).sum() / s_mass) / (((1 - p) * w).sum() / roll_mass)))


def step_scale(tilt: float, tilt_nats: float) -> float:
    """The factor on the learning rates of a network without class heads (and on a gated B's shift):
    ``min(1, tilt / tilt_nats)``, how far the weighting takes A's pool from A's own law (:func:`pool_tilt`), which
    the certainty sizes through the weights. Without it a pool that barely differs from A's law would still move B by
    the noise of Adam's first steps, which move every weight by about its learning rate whatever the gradient."""
    return min(1.0, tilt / tilt_nats)
