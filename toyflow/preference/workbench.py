"""What a preference method works with: the :class:`Workbench`.

A method's :meth:`~toyflow.preference.base.Method.update` sees model A (frozen), model B and its optimiser, the
labelled proposals so far, the settings, and the steps B can take: fresh batches of the training mixture (with
noise coupled as in A's training), Adam steps of B on them, one step along a given direction, B restarted from A,
A's own pool of samples and the preference model fitted to every tick so far (:meth:`Workbench.belief`). The
session owns one workbench and adds what a person does around it (proposals, answers, undo, the log); a method
never sees the session.
"""

from __future__ import annotations

import copy
import math
import threading
import warnings
from collections.abc import Callable

import torch
from torch import nn

from .. import coupling
from ..data import NUM_POINTS, CloudStream, draw_noise, noise_like
from ..device import precision_context
from ..flow import mixture_loss
from ..model import has_class_heads, noise_radius
from ..pair_pool import Pairs
from ..seeds import derive_seed
from ..solver import Sampler, SamplingStopped
from . import a_cache
from .belief import Belief, fit_belief
from .chamfer_blocks import ChamferBlocks
from .objectives import barrier_direction, flat_grad, trainable
from .optimizer import Adam
from .records import Labelled, Pool
from .settings import MethodSettings


class UpdateStopped(SamplingStopped):
    """Raised by an optimiser step of a workbench made :meth:`Workbench.apart` when its ``stop()`` said so: work done
    ahead of an answer was given up (as a sampling is, :class:`~toyflow.solver.SamplingStopped`), nothing kept."""


ParameterGroups = Callable[[nn.Module, MethodSettings], list[dict]]
BuildB = Callable[[nn.Module, MethodSettings], nn.Module]


POOL_CHUNK = 16  # clouds of the pool sampled at once
# The precision of B's flow-matching passes (toyflow.device.autocast_dtype): bfloat16 where the processor has it, as
# model A was trained. On the 2-core CPU a whole network's update takes 0.14 s instead of 0.18 s, with the same
# figures (5 seeds, 256 noises, S curves preferred: label-free 0.98 / 0.93 after 3 rounds either way, gated 0.98 /
# 0.95 against 1.00 / 0.95; random ticks leave both as A).
FIT_PRECISION = "auto"


class Workbench:
    """Model A (frozen, ``a``), model B (``b``) and its optimiser (``opt``), the labelled proposals (``buffer``, the
    newest last) and the helpers a method's update is built from.

    ``build_b(a, settings)`` makes B from A (a copy of A, or a network built around one), ``parameter_groups(b,
    settings)`` says which of B's parameters the method trains, at which learning rates (Adam's parameter groups);
    the others are frozen. Every random number comes from a generator or a stream of ``seed``.
    """

    def __init__(
        self,
        a: nn.Module,
        settings: MethodSettings,
        seed: int,
        s_fraction: float,
        sampler: Sampler,
        device: torch.device,
        parameter_groups: ParameterGroups,
        build_b: BuildB,
    ) -> None:
        self.a = a.to(device).eval().requires_grad_(False)
        self.settings = settings
        self.seed = seed
        self.s_fraction = s_fraction
        self.sampler = sampler
        self.device = device
        self.parameter_groups = parameter_groups
        self.build_b = build_b
        self._pool: Pool | None = None
        self._pool_pairs: torch.Tensor | None = None
        self._pool_classes: torch.Tensor | None = None
        self._distances: tuple[ChamferBlocks, ChamferBlocks] | None = None  # (A's pool, the labelled) to the labelled
        self._mixtures: dict[int, CloudStream] = {}  # one stream per batch size (a method's, the fine-tune control's)
        # The pool, its pairs and A's reading of it are drawn once, by whichever thread asks first (a session may
        # prepare them in the background); the others wait for them.
        self._pool_lock = threading.RLock()
        # asked between two optimiser steps where a copy updates ahead of the answer (apart): True gives it up
        self.stop: Callable[[], bool] | None = None
        self.start_over()

    def start_over(self) -> None:
        """B is made from A again (``build_b``) with a fresh optimiser, and no proposal is labelled (A's pool is
        kept)."""
        self.b = self.build_b(self.a, self.settings).train()
        self._b_from_a = copy.deepcopy(self.b.state_dict())  # B as made from A (restart_from_a)
        self.opt = self.new_optimizer()
        self._finetune_opt: Adam | None = None  # the fine-tune control's (finetune)
        self.buffer: list[Labelled] = []
        self._distances = None  # the proposals' Chamfer distances, kept for as long as they are labelled

    def apart(self, stop: Callable[[], bool] | None = None) -> Workbench:
        """A copy whose B, optimiser and labelled proposals are its own, sharing the rest (model A, its pool and
        pairs, the kept Chamfer distances, all read-only or locked): an update of it leaves this workbench as it
        was, so that it may run on another thread while this one waits. Its optimiser steps give up when ``stop()``
        says so (:class:`UpdateStopped`)."""
        other = copy.copy(self)
        other.b = copy.deepcopy(self.b)
        other.load_optimizer(self.opt.state_dict())  # the same groups over the copy's parameters, the same state
        other.buffer = list(self.buffer)
        other._finetune_opt = None
        other.stop = stop
        return other

    def new_optimizer(self) -> Adam:
        """A fresh Adam optimiser (:class:`~toyflow.preference.optimizer.Adam`) over :attr:`parameter_groups` of B;
        B's other parameters are frozen."""
        groups = self.parameter_groups(self.b, self.settings)
        trained = {id(p) for group in groups for p in group["params"]}
        for p in self.b.parameters():
            p.requires_grad_(id(p) in trained)
        return Adam(groups)

    def load_optimizer(self, state: dict) -> None:
        """B's optimiser made afresh (:meth:`new_optimizer`) holding copies of ``state`` (an optimiser's
        ``state_dict`` over the same groups: its settings, steps and moments)."""
        self.opt = self.new_optimizer()
        self.opt.load_state_dict(state)

    @property
    def noise_radius(self) -> float:
        """Radius of model A's source law (0: standard normal); B shares it (:func:`toyflow.model.noise_radius`)."""
        return noise_radius(self.a)

    def noise(self, n: int, seed: int | torch.Generator) -> torch.Tensor:
        """``n`` noise clouds ``(n, NUM_POINTS, 2)`` of model A's source law from ``seed``, on B's device."""
        return draw_noise(n, NUM_POINTS, seed, self.device, self.noise_radius)

    def fresh_batch(self, size: int, generator: torch.Generator, couple: bool = True) -> Pairs:
        """``size`` fresh clouds of the training mixture, noise for them (coupled as in A's training, or
        independent with ``couple=False``, as the reference method draws it) and their labels, on B's device; every
        draw from ``generator``."""
        if size not in self._mixtures:
            seed = derive_seed(self.seed, "mixture")
            self._mixtures[size] = CloudStream(size, self.s_fraction, NUM_POINTS, seed=seed, pool_size=256)
        x1, is_s = self._mixtures[size].next(generator)
        x1 = x1.to(self.device)
        x0 = noise_like(x1, generator, self.noise_radius)
        return Pairs(x1, self.couple(x0, x1, generator) if couple else x0.to(self.device), is_s)

    def couple(self, x0: torch.Tensor, x1: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Fresh noise ``x0`` paired with clouds ``x1 (batch, num_points, 2)`` as in model A's training: noise clouds
        matched to data clouds, then points to points (both by optimal transport). Returns ``x0`` on B's device."""
        seed = int(torch.randint(0, 2**31, (1,), generator=generator))
        return coupling.couple(x0.to(x1.device), x1, seed=seed).to(self.device)

    def fit(self, next_batch: Callable[[], Pairs], steps: int, generator: torch.Generator, until: float = 1.0) -> float:
        """``steps`` steps of B's optimiser on batches from ``next_batch``, times drawn from ``U[0, until]`` with
        ``generator``, with :func:`~toyflow.flow.mixture_loss` (A's training loss where the clouds' classes are
        known), the network's passes in :data:`FIT_PRECISION` as A's were trained; returns the last loss."""
        return self._steps(self.opt, next_batch, steps, generator, until)

    def finetune(self, next_batch: Callable[[], Pairs], steps: int, generator: torch.Generator, lr: float) -> float:
        """:meth:`fit`, but of B's whole network at ``lr``, whatever the method trains (the control that fine-tunes B
        with no preference), with an Adam optimiser of its own that carries its state from one call to the next (as
        one fine-tuning run would) until :meth:`start_over`; B's optimiser and frozen parameters are left as they
        were. Returns the last loss; where a loss or a weight came out non-finite, B and that Adam's state are put
        back as they were before the call (with a warning) and the loss is returned as it came."""
        if self._finetune_opt is None:
            self._finetune_opt = Adam([{"params": list(self.b.parameters()), "lr": lr}])
        self._finetune_opt.param_groups[0]["lr"] = lr
        before = copy.deepcopy(self.b.state_dict()), copy.deepcopy(self._finetune_opt.state_dict())
        frozen = [p for p in self.b.parameters() if not p.requires_grad]
        self.b.requires_grad_(True)
        try:
            loss = self._steps(self._finetune_opt, next_batch, steps, generator)
        finally:
            for p in frozen:
                p.requires_grad_(False)
        if not math.isfinite(loss) or not all(torch.isfinite(p).all() for p in self.b.parameters()):
            self.b.load_state_dict(before[0])
            self._finetune_opt.load_state_dict(before[1])
            warnings.warn("non-finite loss in fine-tuning: steps skipped, B unchanged", stacklevel=3)
        return loss

    def _steps(
        self, opt: Adam, next_batch: Callable[[], Pairs], steps: int, generator: torch.Generator, until: float = 1.0
    ) -> float:
        loss = torch.tensor(float("nan"))
        for _ in range(steps):
            self._check_stop()
            batch = next_batch()
            t = (torch.rand(batch.clouds.shape[0], generator=generator) * until).to(self.device)
            with precision_context(self.device, FIT_PRECISION):
                loss = mixture_loss(self.b, batch.clouds, batch.noise, t, batch.is_s)
            opt.zero_grad()
            loss.backward()
            opt.step()
        opt.zero_grad()
        return loss.item()

    def step_along(self, params: list[torch.Tensor], direction: torch.Tensor) -> None:
        """One optimiser step of B with ``direction (num_params,)`` (flat, in the order of ``params``) as gradient."""
        self._check_stop()
        offset = 0
        for p in params:
            k = p.numel()
            p.grad = direction[offset : offset + k].view_as(p).clone()
            offset += k
        self.opt.step()
        self.opt.zero_grad()

    def barrier_step(self, descend: torch.Tensor, protect: torch.Tensor, phi: float | None = None) -> float:
        """One optimiser step of B along the dynamic barrier direction (:func:`~toyflow.preference.objectives.
        barrier_direction`): down the gradient of the loss ``descend``, while the loss ``protect`` falls at a rate of
        at least ``phi`` to first order (``None``: the original's ``min(protect, ||grad protect||^2)``). Both are
        scalars with gradients with respect to B's trained parameters. Returns the barrier's coefficient."""
        params = trainable(self.b)
        grad_descend = flat_grad(descend, params)
        grad_protect = flat_grad(protect, params)
        if phi is None:
            phi = min(protect.item(), grad_protect.pow(2).sum().item())
        direction, coefficient = barrier_direction(grad_descend, grad_protect, phi)
        self.step_along(params, direction)
        return coefficient

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop():
            raise UpdateStopped("the update ahead of the answer was given up")

    def restart_from_a(self) -> None:
        """B is as made from A again (its weights those ``build_b`` gave it), with a fresh optimiser
        (:meth:`new_optimizer`)."""
        self.b.load_state_dict(self._b_from_a)
        self.opt = self.new_optimizer()

    def scale_learning_rates(self, scale: float) -> None:
        """Set every learning rate of B's optimiser to ``scale`` times the method's own (0: B does not move)."""
        for group in self.opt.param_groups:
            group["lr"] = group.setdefault("base_lr", group["lr"]) * scale

    def pool(self) -> Pool:
        """A's own samples, drawn once per session from the stream ``(seed, "pool")``: ``settings.pool_size``
        clouds."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = a_cache.shared(self.a, ("pool", *self._pool_key()), self._draw_pool)
            return self._pool

    def _pool_key(self) -> tuple:
        """What the pool depends on besides model A (the key sessions on the same A share it by)."""
        return self.seed, self.settings.pool_size, self.sampler, str(self.device)

    def _draw_pool(self) -> Pool:
        noise = self.noise(self.settings.pool_size, derive_seed(self.seed, "pool"))
        # a few clouds at a time: the same samples (each cloud sampled on its own), a fifth of the peak memory
        samples = torch.cat([self.sampler.sample(self.a, part) for part in noise.split(POOL_CHUNK)])
        return Pool(noise, samples)

    def pool_classes(self) -> torch.Tensor | None:
        """Model A's own reading of each cloud of its pool, ``P_A(S | x, t = 1)`` from its gate: ``(pool_size,)`` on
        B's device, or ``None`` for a network without class heads. reward-fm's closed-form shift of B's gate reads
        them (:func:`~toyflow.preference.methods.reward_fm.gate_shift`): on an unweighted pool the shift is 0 and B is
        A."""
        if not has_class_heads(self.a):
            return None
        with self._pool_lock:
            if self._pool_classes is None:
                self._pool_classes = a_cache.shared(self.a, ("classes", *self._pool_key()), self._read_classes)
            return self._pool_classes

    def _read_classes(self) -> torch.Tensor:
        samples = self.pool().samples
        with torch.no_grad():
            logits = self.a.class_parts(samples, 1.0)[2]
        return torch.sigmoid(logits).float().to(self.device)

    def pool_pairs(self) -> torch.Tensor:
        """``settings.pool_noises`` fresh noise clouds for each cloud of the pool, each paired with it point to point
        as in A's training: ``(pool_noises, pool_size, num_points, 2)`` on B's device. Noise ``j`` comes from the
        stream ``(seed, "pool-pairs", j)``. Drawn and paired once per session: pairing by optimal transport was half
        of every update when it ran at each step."""
        with self._pool_lock:
            if self._pool_pairs is None:
                key = ("pairs", *self._pool_key(), self.settings.pool_noises)
                self._pool_pairs = a_cache.shared(self.a, key, self._pair_pool)
            return self._pool_pairs

    def _pair_pool(self) -> torch.Tensor:
        pool = self.pool().samples.cpu()
        seeds = [derive_seed(self.seed, "pool-pairs", j) for j in range(self.settings.pool_noises)]
        paired = [coupling.ot_pair(self.noise(pool.shape[0], s).cpu(), pool, seed=s) for s in seeds]
        return torch.stack(paired).to(self.device)

    def pool_distances(self) -> torch.Tensor:
        """The Chamfer distances from every cloud of A's pool to every labelled cloud so far, on the preference
        model's kernel points: ``(pool_size, labelled clouds)`` on the CPU, what :meth:`belief`'s ``rates`` of the
        pool measures, each proposal measured once a session (:class:`~toyflow.preference.chamfer_blocks.
        ChamferBlocks`)."""
        return self._chamfer_blocks()[0].between([self.pool().samples], [item.samples for item in self.buffer])

    def measure_ahead(self, samples: torch.Tensor) -> None:
        """Measure the Chamfer distances that labelling ``samples (n, num_points, 2)`` (a proposal being shown) will
        add to :meth:`pool_distances` and :meth:`belief`'s, from A's pool and the labelled proposals to it, so that
        the round answering it does not (safe on another thread)."""
        from_pool, between = self._chamfer_blocks()
        blocks = [item.samples for item in list(self.buffer)]
        from_pool.ahead([self.pool().samples], [samples], samples)
        between.ahead([*blocks, samples], [samples], samples)
        between.ahead([samples], blocks, samples)

    def _chamfer_blocks(self) -> tuple[ChamferBlocks, ChamferBlocks]:
        """The kept Chamfer distances from A's pool and from the labelled proposals to the labelled proposals, on
        the kernel's points as the settings say now."""
        points = self.settings.kernel_points
        if self._distances is None or self._distances[0].points != points:
            self._distances = (ChamferBlocks(points), ChamferBlocks(points))
        return self._distances

    def belief(self) -> Belief:
        """The preference model fitted to every labelled proposal so far (:func:`~toyflow.preference.belief.
        fit_belief`): how likely a tick is for any cloud, and how sure the labels make it."""
        labelled = [(item.samples, item.labels) for item in self.buffer]
        if not labelled:
            return fit_belief(labelled, self.settings.belief_settings())  # its error
        blocks = [item.samples for item in self.buffer]  # each pair of proposals measured once a session
        return fit_belief(labelled, self.settings.belief_settings(), self._chamfer_blocks()[1].between(blocks, blocks))
