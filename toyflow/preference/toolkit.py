"""The helpers every preference method builds its update from, as a base class of the session.

:class:`MethodToolkit` gives :class:`~toyflow.preference.session.PreferenceSession` what a method's
:meth:`~toyflow.preference.base.Method.update` calls: fresh batches of the training mixture (with noise coupled as
in model A's training), Adam steps of B on them, one step along a given direction, B restarted from A, A's own
pool of samples and the preference model fitted to every tick so far (:meth:`belief`). It holds no state of its
own: everything it reads and changes (``a``, ``b``, ``opt``, ``buffer``, ``settings``, ...) is the session's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch

from .. import coupling
from ..data import NUM_POINTS, CloudStream, draw_noise, noise_like
from ..flow import mixture_loss
from ..model import has_class_heads, noise_radius
from ..seeds import derive_seed
from .belief import Belief, fit_belief

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


POOL_CHUNK = 16  # clouds of the pool sampled at once


class MethodToolkit:
    """The session's helpers for the methods (``fresh_batch``, ``couple``, ``fit``, ``step_along``,
    ``restart_from_a``, ``pool``, ``belief``); a base class of the session, never used alone."""

    _pool: tuple[torch.Tensor, torch.Tensor] | None = None
    _pool_pairs: torch.Tensor | None = None
    _pool_classes: torch.Tensor | None = None
    _mixture: CloudStream | None = None
    # The pool, its pairs and A's reading of it are drawn once, by whichever thread asks first (a session may prepare
    # them in the background); the others wait for them. The session gives itself a lock of its own.
    _pool_lock: threading.RLock = threading.RLock()

    @property
    def noise_radius(self) -> float:
        """Radius of model A's source law (0: standard normal); B shares it (:func:`toyflow.model.noise_radius`)."""
        return noise_radius(self.a)

    def noise(self, n: int, seed: int | torch.Generator) -> torch.Tensor:
        """``n`` noise clouds ``(n, NUM_POINTS, 2)`` of model A's source law from ``seed``, on B's device."""
        return draw_noise(n, NUM_POINTS, seed, self.device, self.noise_radius)

    def fresh_batch(self, size: int, generator: torch.Generator, couple: bool = True) -> Batch:
        """``size`` fresh clouds of the training mixture, noise for them (coupled as in A's training, or
        independent with ``couple=False``, as the reference method draws it) and their labels: ``(x1, x0, is_s)``,
        ``x1, x0 (size, num_points, 2)`` on B's device, ``is_s (size,)``; every draw from ``generator``."""
        if self._mixture is None or self._mixture.batch_size != size:
            seed = derive_seed(self.seed, "mixture")
            self._mixture = CloudStream(size, self.s_fraction, NUM_POINTS, seed=seed, pool_size=256)
        x1, is_s = self._mixture.next(generator)
        x1 = x1.to(self.device)
        x0 = noise_like(x1, generator, self.noise_radius)
        return x1, (self.couple(x0, x1, generator) if couple else x0.to(self.device)), is_s

    def couple(self, x0: torch.Tensor, x1: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Fresh noise ``x0`` paired with clouds ``x1 (batch, num_points, 2)`` as in model A's training: noise clouds
        matched to data clouds, then points to points (both by optimal transport). Returns ``x0`` on B's device."""
        seed = int(torch.randint(0, 2**31, (1,), generator=generator))
        return coupling.couple(x0.to(x1.device), x1, seed=seed).to(self.device)

    def fit(self, next_batch: Callable[[], Batch], steps: int, generator: torch.Generator, t_max: float = 1.0) -> float:
        """``steps`` Adam steps of B on batches ``(x1, x0, is_s)`` from ``next_batch``, times drawn from
        ``U[0, t_max]`` with ``generator``, with :func:`~toyflow.flow.mixture_loss` (A's training loss where the
        clouds' labels ``is_s`` are known); returns the last loss."""
        loss = torch.tensor(float("nan"))
        for _ in range(steps):
            x1, x0, is_s = next_batch()
            t = (t_max * torch.rand(x1.shape[0], generator=generator)).to(self.device)
            loss = mixture_loss(self.b, x1, x0, t, is_s)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss.item()

    def step_along(self, params: list[torch.Tensor], direction: torch.Tensor) -> None:
        """One optimiser step of B with ``direction (num_params,)`` (flat, in the order of ``params``) as gradient."""
        offset = 0
        for p in params:
            k = p.numel()
            p.grad = direction[offset : offset + k].view_as(p).clone()
            offset += k
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def restart_from_a(self) -> None:
        """B takes A's weights again, with a fresh optimiser (:meth:`new_optimizer`)."""
        self.b.load_state_dict(self.a.state_dict())
        self.opt = self.new_optimizer()

    def scale_learning_rates(self, scale: float) -> None:
        """Set every learning rate of B's optimiser to ``scale`` times the method's own (0: B does not move)."""
        for group in self.opt.param_groups:
            group["lr"] = group.setdefault("base_lr", group["lr"]) * scale

    def pool(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A's own samples drawn once per session: ``(noise, samples)``, each ``(pool_size, num_points, 2)``."""
        with self._pool_lock:
            if self._pool is None:
                noise = self.noise(self.settings.pool_size, derive_seed(self.seed, "pool"))
                # a few clouds at a time: the same samples (each cloud sampled on its own), a fifth of the peak memory
                samples = torch.cat([self.sampler.sample(self.a, part) for part in noise.split(POOL_CHUNK)])
                self._pool = (noise, samples)
            return self._pool

    def pool_classes(self) -> torch.Tensor | None:
        """Model A's own reading of each cloud of its pool, ``P_A(S | x, t = 1)`` from its gate: ``(pool_size,)`` on
        B's device, or ``None`` for a network without class heads. B's gate learns these as soft labels of the
        (weighted) pool, so that on an unweighted pool A's gate is already the optimum and B does not drift."""
        if not has_class_heads(self.a):
            return None
        with self._pool_lock:
            if self._pool_classes is None:
                samples = self.pool()[1]
                with torch.no_grad():
                    logits = torch.cat([self.a.class_parts(part, 1.0)[2] for part in samples.split(POOL_CHUNK)])
                self._pool_classes = torch.sigmoid(logits).float().to(self.device)
            return self._pool_classes

    def pool_pairs(self) -> torch.Tensor:
        """``settings.pool_noises`` fresh noise clouds for each cloud of the pool, each paired with it point to point
        as in A's training: ``(pool_noises, pool_size, num_points, 2)`` on B's device. Noise ``j`` comes from the
        stream ``(seed, "pool-pairs", j)``. Drawn and paired once per session: pairing by optimal transport was half
        of every update when it ran at each step."""
        with self._pool_lock:
            if self._pool_pairs is None:
                pool = self.pool()[1].cpu()
                seeds = [derive_seed(self.seed, "pool-pairs", j) for j in range(self.settings.pool_noises)]
                paired = [coupling.ot_pair(self.noise(pool.shape[0], s).cpu(), pool, seed=s) for s in seeds]
                self._pool_pairs = torch.stack(paired).to(self.device)
            return self._pool_pairs

    def belief(self) -> Belief:
        """The preference model fitted to every labelled proposal so far (:func:`~toyflow.preference.belief.
        fit_belief`): how likely a tick is for any cloud, and how sure the labels make it."""
        labelled = [(item.samples, item.labels) for item in self.buffer]
        return fit_belief(labelled, self.settings.belief_settings())
