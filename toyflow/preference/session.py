"""A preference session: model A (frozen), model B (learning), B's optimiser, the labelled proposals and the history.

``propose`` draws proposals from A, ``give`` takes ticks (or probabilities) and lets the session's method update
B, ``resample`` draws B from given noise (the proposals' noise shows the change). Every random number comes from
a stream of its own (:mod:`toyflow.seeds`): proposal ``k`` from ``(seed, "proposal", k)``, the update of round
``r`` from ``(seed, "update", r)``, so the same seed proposes the same clouds whatever the method and whatever
the updates drew, and a round replayed from the same B gives the same B.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .. import coupling
from ..checkpoint import save_checkpoint
from ..data import NUM_POINTS, CloudStream, draw_noise
from ..flow import mixture_loss
from ..seeds import derive_seed, stream
from ..solver import Sampler
from .base import DEFAULT_METHOD, MethodSettings, get_method
from .labels import PreferenceInputError, labels_from
from .objectives import kernel_scores

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


@dataclass
class Proposal:
    """Proposals of model A: ``noise`` and ``samples`` are ``(n, num_points, 2)``; ``seed`` is the noise's seed and
    ``number`` counts the session's proposals from 1."""

    noise: torch.Tensor
    samples: torch.Tensor
    seed: int | None = None
    number: int = 0


@dataclass
class RoundRecord:
    """What one call of :meth:`PreferenceSession.give` did."""

    round: int
    labels: list[float] | None
    updated: bool
    reason: str = ""
    preference_loss: float | None = None
    flow_loss: float | None = None
    barrier: float | None = None
    seconds: float = 0.0


@dataclass
class Labelled:
    """Proposals with the person's labels: ``noise, samples (n, num_points, 2)``, ``labels (n,)`` summing to 1."""

    noise: torch.Tensor
    samples: torch.Tensor
    labels: torch.Tensor


class PreferenceSession:
    """Model A (frozen), model B (learning), the optimiser, the replay buffer and the history.

    ``method`` names a registered :class:`~toyflow.preference.base.Method` (default: ``reward-fm``); the
    methods call the helpers below (``fresh_batch``, ``couple``, ``fit``, ``step_along``, ``restart_from_a``).
    """

    def __init__(
        self,
        model_a: nn.Module,
        method: str | None = DEFAULT_METHOD,
        seed: int = 0,
        sampler_steps: int | None = None,
        s_fraction: float = 0.2,
        settings: MethodSettings | None = None,
        device: str | torch.device | None = None,
        meta: dict | None = None,
    ) -> None:
        self.learner = get_method(method)
        self.method = self.learner.name
        self.settings = settings or MethodSettings()
        self.seed = seed
        self.s_fraction = s_fraction
        self.device = torch.device(device) if device is not None else next(model_a.parameters()).device
        self.a = model_a.to(self.device).eval().requires_grad_(False)
        self.a_meta = meta or {}
        self.sampler = Sampler.from_meta(model_a, self.a_meta).with_(steps=sampler_steps)
        self._pool: tuple[torch.Tensor, torch.Tensor] | None = None
        self._mixture: CloudStream | None = None
        self.reset()
        self.learner.prepare(self)

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget everything learned: B becomes a fresh copy of A; buffer, history and counters are emptied."""
        self.b = copy.deepcopy(self.a).requires_grad_(True).train()
        self.opt = torch.optim.Adam(self.b.parameters(), lr=self.learner.learning_rate(self.settings))
        self.buffer: list[Labelled] = []
        self.history: list[RoundRecord] = []
        self.last_proposal: Proposal | None = None
        self.proposals_drawn = 0
        self._finetunes = 0

    @property
    def labelled_rounds(self) -> int:
        """Number of rounds that updated B."""
        return sum(r.updated for r in self.history)

    @property
    def sampler_steps(self) -> int:
        """Steps of the sampler that draws A and B."""
        return self.sampler.steps

    # -------------------------------------------------------------- sampling
    def propose(self, n: int = 4, seed: int | None = None) -> Proposal:
        """Draw ``n`` noises and A's samples of them: proposal ``k`` of the session uses the noise of ``seed``, else
        of the session's proposal stream ``(seed, "proposal", k)``."""
        self.proposals_drawn += 1
        if seed is None:
            seed = derive_seed(self.seed, "proposal", self.proposals_drawn)
        noise = draw_noise(n, NUM_POINTS, seed, self.device)
        samples = self.sampler.sample(self.a, noise)
        self.last_proposal = Proposal(noise=noise, samples=samples, seed=seed, number=self.proposals_drawn)
        return self.last_proposal

    def resample(self, noise: torch.Tensor) -> torch.Tensor:
        """Model B's clouds from ``noise (n, num_points, 2)``: ``(n, num_points, 2)``."""
        return self.sampler.sample(self.b, noise)

    def sample_a(self, n: int, seed: int) -> torch.Tensor:
        """``n`` clouds of A from the noise of ``seed``: ``(n, num_points, 2)``."""
        return self.sampler.sample(self.a, draw_noise(n, NUM_POINTS, seed, self.device))

    def sample_b(self, n: int, seed: int) -> torch.Tensor:
        """``n`` clouds of B from the noise of ``seed``: ``(n, num_points, 2)``."""
        return self.sampler.sample(self.b, draw_noise(n, NUM_POINTS, seed, self.device))

    # --------------------------------------------------------------- learning
    def give(
        self,
        ticks: Sequence[int] | None = None,
        probabilities: Sequence[float] | None = None,
        proposal: Proposal | None = None,
    ) -> RoundRecord:
        """Take the person's answer for ``proposal`` (default: the last one) and update B.

        No tick: a skipped round, B unchanged. Every proposal ticked equally: no preference signal,
        B unchanged. A non-finite loss skips the step with a warning and leaves B unchanged. Bad input raises
        :class:`PreferenceInputError` and is not a round.
        """
        proposal = proposal or self.last_proposal
        if proposal is None:
            raise PreferenceInputError("no proposals yet: call propose() first")
        n = proposal.noise.shape[0]
        y = labels_from(n, ticks, probabilities)
        number = len(self.history) + 1
        if y is None:
            return self._record(RoundRecord(number, None, False, "nothing ticked: round skipped, B unchanged"))
        labels = [round(float(v), 6) for v in y]
        if torch.allclose(y, torch.full_like(y, 1.0 / n)):
            return self._record(
                RoundRecord(number, labels, False, "all proposals ticked alike: no preference to learn, B unchanged")
            )
        start = time.perf_counter()
        backup = copy.deepcopy(self.b.state_dict())
        opt_backup = copy.deepcopy(self.opt.state_dict())
        self.buffer.append(Labelled(proposal.noise.detach(), proposal.samples.detach(), y.to(self.device)))
        stats = self.learner.update(self, stream(self.seed, "update", number))
        finite = all(math.isfinite(v) for v in stats.values() if v is not None) and all(
            torch.isfinite(p).all() for p in self.b.parameters()
        )
        if not finite:
            self.b.load_state_dict(backup)
            self.opt.load_state_dict(opt_backup)
            self.buffer.pop()
            warnings.warn("non-finite loss in the preference update: step skipped, B unchanged", stacklevel=2)
            return self._record(RoundRecord(number, labels, False, "non-finite loss: step skipped, B unchanged"))
        return self._record(RoundRecord(number, labels, True, "", seconds=time.perf_counter() - start, **stats))

    def _record(self, rec: RoundRecord) -> RoundRecord:
        self.history.append(rec)
        return rec

    def finetune_fresh(self, steps: int) -> float:
        """A control, not a preference method: ``steps`` steps of B on fresh mixture data, with A's training loss.

        Returns the last loss.
        """
        self._finetunes += 1
        gen = stream(self.seed, "finetune", self._finetunes)
        return self.fit(lambda: self.fresh_batch(self.settings.batch_size, gen), steps, gen)

    # ---------------------------------------------------------- for the methods
    def fresh_batch(self, size: int, generator: torch.Generator, couple: bool = True) -> Batch:
        """``size`` fresh clouds of the training mixture, noise for them (coupled as in A's training, or
        independent with ``couple=False``, as the reference method draws it) and their labels: ``(x1, x0, is_s)``,
        ``x1, x0 (size, num_points, 2)`` on B's device, ``is_s (size,)``; every draw from ``generator``."""
        if self._mixture is None or self._mixture.batch_size != size:
            seed = derive_seed(self.seed, "mixture")
            self._mixture = CloudStream(size, self.s_fraction, NUM_POINTS, seed=seed, pool_size=256)
        x1, is_s = self._mixture.next(generator)
        x1 = x1.to(self.device)
        x0 = torch.randn(x1.shape, generator=generator)
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

    def restart_from_a(self, lr: float) -> None:
        """B takes A's weights again, with a fresh Adam optimiser of learning rate ``lr``."""
        self.b.load_state_dict(self.a.state_dict())
        self.opt = torch.optim.Adam(self.b.parameters(), lr=lr)

    def pool(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A's own samples drawn once per session: ``(noise, samples)``, each ``(pool_size, num_points, 2)``."""
        if self._pool is None:
            noise = draw_noise(self.settings.pool_size, NUM_POINTS, derive_seed(self.seed, "pool"), self.device)
            self._pool = (noise, self.sampler.sample(self.a, noise))
        return self._pool

    def preference_scores(self, clouds: torch.Tensor) -> torch.Tensor:
        """Estimated probability that each cloud ``(m, num_points, 2)`` would be ticked: ``(m,)`` in [0, 1], by
        :func:`~toyflow.preference.objectives.kernel_scores` on every labelled proposal so far."""
        labelled = [(item.samples, item.labels) for item in self.buffer]
        return kernel_scores(clouds, labelled, self.settings.kernel_points)

    # ------------------------------------------------------------ measuring, saving
    @torch.no_grad()
    def preference_objective(self, proposal: Proposal, labels: torch.Tensor) -> float:
        """The method's own preference loss of B for ``proposal`` with ``labels (n,)`` (deterministic)."""
        return self.learner.objective(self, proposal, labels.to(self.device))

    def save(self, path: str | os.PathLike, **metadata: object) -> Path:
        """Save model B (atomically, as safetensors) with the method, its settings and the round history."""
        return save_checkpoint(
            self.b,
            path,
            preference={
                "method": self.method,
                "settings": asdict(self.settings),
                "labelled_rounds": self.labelled_rounds,
                "rounds": [asdict(r) for r in self.history],
            },
            sampler=Sampler.from_meta(self.a, self.a_meta).to_dict(),
            **metadata,
        )
