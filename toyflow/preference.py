"""Preference learning: model B learns from a person's ticks on proposals of model A.

Methods (all behind one :class:`PreferenceSession`):

* ``reference`` — the original method of REFERENCE.md, faithfully: straight-path errors of B on the
  proposals over the sampler's time grid, cross entropy of ``softmax(-e)`` with the labels, combined
  with the flow-matching loss on fresh training data by dynamic barrier gradient descent, one Adam step.
* ``dpo`` — Flow-DPO style: logits ``-(e_B - e_A) / temperature`` with frozen A as reference, every
  earlier round replayed, several steps per round, the barrier protecting the flow-matching loss.
* ``reward-fm`` (the default, chosen by ``benchmarks/preference.py``) — reward-weighted flow matching: a
  pool of A's own samples (drawn once per session) is weighted by a preference model fitted to every tick
  so far (a kernel on Chamfer distances to the ticked and unticked proposals), and B, restarted from A each
  round, takes a few flow-matching steps on that weighted pool with fresh noise coupled as in A's training,
  at early times only (``t < 0.5``, where a cloud's shape is chosen; later times, which draw the shape,
  stay A's). The pool is A's clean samples, so B only moves probability between shapes A draws well.
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

from .coupling import couple
from .data import NUM_POINTS, CloudStream, draw_noise
from .device import make_generator
from .flow import flow_matching_loss, interpolate, mixture_loss, sample, time_grid
from .judge import pairwise_chamfer

METHODS = ("reward-fm", "dpo", "reference")
DEFAULT_METHOD = "reward-fm"
REFERENCE_LR = 1e-3  # REFERENCE.md: one Adam step of lr 1e-3 per round
REFERENCE_GRID = 100  # REFERENCE.md: straight-path errors over the 100 Euler grid times


class PreferenceInputError(ValueError):
    """Labels that cannot be used (out-of-range index, probability outside [0, 1], ...)."""


@dataclass
class Proposal:
    """Proposals of model A: ``noise`` and ``samples`` are ``(n, num_points, 2)``."""

    noise: torch.Tensor
    samples: torch.Tensor
    seed: int | None = None


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


def labels_from(
    n: int, ticks: Sequence[int] | None = None, probabilities: Sequence[float] | None = None
) -> torch.Tensor | None:
    """Turn ticked indices or per-proposal probabilities into a label vector ``(n,)`` summing to 1.

    ``ticks``: indices in ``[0, n)`` (duplicates ignored); ``probabilities``: up to ``n`` numbers in
    [0, 1] with a positive sum (missing ones count as 0). Returns ``None`` when nothing is ticked.
    Raises :class:`PreferenceInputError` for bad input.
    """
    if ticks is not None and probabilities is not None:
        raise PreferenceInputError("give either ticks or probabilities, not both")
    if probabilities is not None:
        p = [float(v) for v in probabilities]
        if len(p) > n:
            raise PreferenceInputError(f"got {len(p)} probabilities for {n} proposals")
        bad = [v for v in p if not (0.0 <= v <= 1.0)]
        if bad:
            raise PreferenceInputError(f"probabilities must lie in [0, 1], got {bad[0]}")
        y = torch.zeros(n)
        y[: len(p)] = torch.tensor(p)
        if y.sum() <= 0:
            raise PreferenceInputError("probabilities must have a positive sum")
        return y / y.sum()
    ticks = sorted(set(int(i) for i in (ticks or [])))
    if not ticks:
        return None
    out = [i for i in ticks if not 0 <= i < n]
    if out:
        raise PreferenceInputError(f"proposal index {out[0]} is out of range 0..{n - 1}")
    y = torch.zeros(n)
    y[ticks] = 1.0 / len(ticks)
    return y


def parse_answer(text: str, n: int) -> tuple[list[int] | None, list[float] | None]:
    """Read a terminal answer, as in the original: indices separated by spaces, an empty line for none,
    or ``p`` followed by probabilities (``p 0.1 0.5``). Returns ``(ticks, probabilities)``, one of them ``None``.

    Raises :class:`PreferenceInputError` for words that are not numbers; ranges are checked by :func:`labels_from`.
    """
    words = text.replace(",", " ").split()
    if words and words[0].lower() == "p":
        try:
            probs = [float(w) for w in words[1:]]
        except ValueError:
            raise PreferenceInputError(f"'p' must be followed by numbers, got {text.strip()!r}") from None
        labels_from(n, probabilities=probs)
        return None, probs
    try:
        ticks = [int(w) for w in words]
    except ValueError:
        raise PreferenceInputError(f"expected indices 0..{n - 1} separated by spaces, got {text.strip()!r}") from None
    labels_from(n, ticks=ticks)
    return ticks, None


def straight_path_errors(
    model: nn.Module, noise: torch.Tensor, samples: torch.Tensor, times: torch.Tensor
) -> torch.Tensor:
    """B's straight-path error per proposal: ``e_i = mean_k mean_points ||(x_i - z_i) - v(x_{t_k}, t_k)||^2``.

    ``noise, samples (n, num_points, 2)``, ``times (k,)``; returns ``(n,)`` (with gradients).
    """
    n, k = noise.shape[0], times.shape[0]
    z = noise.repeat(k, 1, 1)
    x = samples.repeat(k, 1, 1)
    t = times.repeat_interleave(n)
    v = model(interpolate(z, x, t), t)
    err = (v - (x - z)).pow(2).sum(-1).mean(-1)
    return err.view(k, n).mean(0)


def _flat_grad(loss: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params, strict=True)]
    )


def barrier_direction(grad_main: torch.Tensor, grad_pref: torch.Tensor, phi: float) -> tuple[torch.Tensor, float]:
    """Dynamic barrier gradient descent: ``d = grad_main + lambda * grad_pref`` with
    ``lambda = max((phi - <grad_main, grad_pref>) / ||grad_pref||^2, 0)``, so ``<d, grad_pref> >= phi``.

    Flat gradients ``(num_params,)``; returns ``(d, lambda)``.
    """
    sq = grad_pref.pow(2).sum()
    if sq <= 0:
        return grad_main, 0.0
    lam = torch.clamp((phi - grad_main.dot(grad_pref)) / sq, min=0.0)
    return grad_main + lam * grad_pref, float(lam)


@dataclass
class MethodSettings:
    """Knobs of the preference methods (defaults are the measured best; ``reference`` ignores most)."""

    lr: float = 5e-4  # (the reference method always uses REFERENCE.md's 1e-3)
    steps: int = 8
    batch_size: int = 16
    pool_size: int = 128
    strength: float = 7.0
    kernel_points: int = 64
    temperature: float = 0.05
    time_samples: int = 4
    fm_batch: int = 128
    t_max: float = 0.5  # reward-fm: train on times in [0, t_max] (the shape is chosen early; late times draw it)
    restart: bool = True  # reward-fm: every round starts again from A, with every tick so far


@dataclass
class _Labelled:
    noise: torch.Tensor
    samples: torch.Tensor
    labels: torch.Tensor


class PreferenceSession:
    """Model A (frozen), model B (learning), the optimiser, the replay buffer and the history.

    ``propose`` draws proposals from A, ``give`` takes ticks (or probabilities) and updates B,
    ``resample`` draws B from given noise (the same noise as the proposals shows the change).
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
        method = method or DEFAULT_METHOD
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
        from .evaluation import sampler_of

        self.method = method
        self.settings = settings or MethodSettings()
        self.seed = seed
        self.s_fraction = s_fraction
        self.device = torch.device(device) if device is not None else next(model_a.parameters()).device
        self.a = model_a.to(self.device).eval().requires_grad_(False)
        self.a_meta = meta or {}
        spec = sampler_of(model_a, self.a_meta)
        self.sampler_steps = sampler_steps or spec["steps"]
        self.sampler_method = spec["method"]
        self._pool: tuple[torch.Tensor, torch.Tensor] | None = None
        self.reset()
        if self.method == "reward-fm":
            self.pool()  # drawn now, so that the first round is as quick as the others

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget everything learned: B becomes a fresh copy of A; buffer and history are emptied."""
        self.b = copy.deepcopy(self.a).requires_grad_(True).train()
        self.opt = torch.optim.Adam(
            self.b.parameters(), lr=REFERENCE_LR if self.method == "reference" else self.settings.lr
        )
        self.buffer: list[_Labelled] = []
        self.history: list[RoundRecord] = []
        self.last_proposal: Proposal | None = None
        self._gen = torch.Generator().manual_seed(self.seed)
        self._stream: CloudStream | None = None

    @property
    def labelled_rounds(self) -> int:
        """Number of rounds that updated B."""
        return sum(r.updated for r in self.history)

    # -------------------------------------------------------------- sampling
    def _sample(self, model: nn.Module, noise: torch.Tensor) -> torch.Tensor:
        was_training = model.training
        model.eval()
        out = sample(model, noise.to(self.device), steps=self.sampler_steps, method=self.sampler_method)
        model.train(was_training)
        return out

    def propose(self, n: int = 4, seed: int | None = None) -> Proposal:
        """Draw ``n`` noises (from ``seed``, else the session's generator) and A's samples of them."""
        gen = make_generator(seed) if seed is not None else self._gen
        noise = draw_noise(n, NUM_POINTS, gen, self.device)
        self.last_proposal = Proposal(noise=noise, samples=self._sample(self.a, noise), seed=seed)
        return self.last_proposal

    def resample(self, noise: torch.Tensor) -> torch.Tensor:
        """Model B's clouds from ``noise (n, num_points, 2)``: ``(n, num_points, 2)``."""
        return self._sample(self.b, noise)

    def sample_a(self, n: int, seed: int) -> torch.Tensor:
        """``n`` clouds of A from the noise of ``seed``."""
        return self._sample(self.a, draw_noise(n, NUM_POINTS, seed, self.device))

    def sample_b(self, n: int, seed: int) -> torch.Tensor:
        """``n`` clouds of B from the noise of ``seed``."""
        return self._sample(self.b, draw_noise(n, NUM_POINTS, seed, self.device))

    # --------------------------------------------------------------- learning
    def give(
        self,
        ticks: Sequence[int] | None = None,
        probabilities: Sequence[float] | None = None,
        proposal: Proposal | None = None,
    ) -> RoundRecord:
        """Take the person's answer for ``proposal`` (default: the last one) and update B.

        No tick: a skipped round, B unchanged. Every proposal ticked equally: no preference signal,
        B unchanged. A non-finite loss skips the step with a warning and leaves B unchanged.
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
        self.buffer.append(_Labelled(proposal.noise.detach(), proposal.samples.detach(), y.to(self.device)))
        stats = getattr(self, "_update_" + self.method.replace("-", "_"))()
        finite = all(math.isfinite(v) for v in stats.values() if v is not None) and all(
            torch.isfinite(p).all() for p in self.b.parameters()
        )
        if not finite:
            self.b.load_state_dict(backup)
            self.opt.load_state_dict(opt_backup)
            self.buffer.pop()
            warnings.warn("non-finite loss in the preference update: step skipped, B unchanged", stacklevel=2)
            return self._record(RoundRecord(number, labels, False, "non-finite loss: step skipped, B unchanged"))
        rec = RoundRecord(number, labels, True, "", seconds=time.perf_counter() - start, **stats)
        return self._record(rec)

    def _record(self, rec: RoundRecord) -> RoundRecord:
        self.history.append(rec)
        return rec

    def _fresh_batch(self, size: int, couple: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``size`` fresh clouds of the training mixture, noise for them (coupled as in A's training, or
        independent with ``couple=False``, as the reference method draws it) and their labels: ``(x1, x0, is_s)``."""
        if self._stream is None or self._stream.batch_size != size:
            self._stream = CloudStream(size, self.s_fraction, NUM_POINTS, seed=self.seed + 7, pool_size=256)
        x1, is_s = self._stream.next()
        x1 = x1.to(self.device)
        x0 = torch.randn(x1.shape, generator=self._gen)
        return x1, (self._couple(x0, x1) if couple else x0.to(self.device)), is_s

    def _couple(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """Fresh noise ``x0`` paired with clouds ``x1 (batch, num_points, 2)`` as in model A's training: noise clouds
        matched to data clouds, then points to points (both by optimal transport). Returns ``x0`` on B's device."""
        seed = int(torch.randint(0, 2**31, (1,), generator=self._gen))
        return couple(x0.to(x1.device), x1, seed=seed).to(self.device)

    def _update_reference(self) -> dict:
        """REFERENCE.md steps 1, 3, 5, 6: one dynamic-barrier Adam step on the newest round only."""
        last = self.buffer[-1]
        params = [p for p in self.b.parameters() if p.requires_grad]
        x1, x0, is_s = self._fresh_batch(self.settings.fm_batch, couple=False)
        t = torch.rand(x1.shape[0], generator=self._gen).to(self.device)
        f = mixture_loss(self.b, x1, x0, t, is_s)
        grad_f = _flat_grad(f, params)
        times = time_grid(REFERENCE_GRID, self.device)[:-1]  # t_k = k / 100, k = 0..99
        e = straight_path_errors(self.b, last.noise, last.samples, times)
        g = -(last.labels * torch.log_softmax(-e, dim=0)).sum()
        grad_g = _flat_grad(g, params)
        phi = min(g.item(), grad_g.pow(2).sum().item())
        d, lam = barrier_direction(grad_f, grad_g, phi)
        self._apply(params, d)
        return {"preference_loss": g.item(), "flow_loss": f.item(), "barrier": lam}

    def _apply(self, params: list[torch.Tensor], direction: torch.Tensor) -> None:
        offset = 0
        for p in params:
            k = p.numel()
            p.grad = direction[offset : offset + k].view_as(p).clone()
            offset += k
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def _update_dpo(self) -> dict:
        """Flow-DPO logits against frozen A, all rounds replayed, the barrier protecting flow matching."""
        s = self.settings
        params = [p for p in self.b.parameters() if p.requires_grad]
        grid = time_grid(self.sampler_steps, self.device)[:-1]
        stats: dict = {}
        for _ in range(s.steps):
            idx = torch.randint(0, grid.shape[0], (s.time_samples,), generator=self._gen)
            times = grid[idx.to(grid.device)]
            g = 0.0
            for item in self.buffer:
                e_b = straight_path_errors(self.b, item.noise, item.samples, times)
                with torch.no_grad():
                    e_a = straight_path_errors(self.a, item.noise, item.samples, times)
                logits = -(e_b - e_a) / s.temperature
                g = g - (item.labels * torch.log_softmax(logits, dim=0)).sum()
            g = g / len(self.buffer)
            x1, x0, is_s = self._fresh_batch(s.batch_size)
            t = torch.rand(x1.shape[0], generator=self._gen).to(self.device)
            f = mixture_loss(self.b, x1, x0, t, is_s)
            grad_f = _flat_grad(f, params)
            grad_g = _flat_grad(g, params)
            # quality is the protected objective: descend on g, and f may not rise to first order
            d, lam = barrier_direction(grad_g, grad_f, 0.0)
            self._apply(params, d)
            stats = {"preference_loss": g.item(), "flow_loss": f.item(), "barrier": lam}
        return stats

    def finetune_fresh(self, steps: int) -> float:
        """A control, not a preference method: ``steps`` steps of B on fresh mixture data, with A's training loss.

        Returns the last loss.
        """
        return self._fit(lambda: self._fresh_batch(self.settings.batch_size), steps)

    def _fit(
        self,
        next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
        steps: int,
        t_max: float = 1.0,
    ) -> float:
        """``steps`` Adam steps of B on batches ``(x1, x0, is_s)`` from ``next_batch``, times drawn from
        ``U[0, t_max]``, with :func:`~toyflow.flow.mixture_loss` (A's training loss where the clouds' labels
        ``is_s`` are known); returns the last loss."""
        loss = torch.tensor(float("nan"))
        for _ in range(steps):
            x1, x0, is_s = next_batch()
            t = (t_max * torch.rand(x1.shape[0], generator=self._gen)).to(self.device)
            loss = mixture_loss(self.b, x1, x0, t, is_s)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss.item()

    # ------------------------------------------------------------ objectives
    @torch.no_grad()
    def preference_objective(self, proposal: Proposal, labels: torch.Tensor) -> float:
        """The current method's own preference loss for ``proposal`` with ``labels (n,)``, deterministic.

        ``reference``: cross entropy of ``softmax(-e_B)`` with the labels; ``dpo``: the same with logits
        ``-(e_B - e_A) / temperature``; ``reward-fm``: B's flow-matching loss on A's pool weighted by a
        preference model fitted to these labels. Errors use the whole time grid (or fixed times), so the
        value is comparable before and after an update.
        """
        labels = labels.to(self.device)
        if self.method == "reward-fm":
            noise, pool = self.pool()
            weights = torch.softmax(self.settings.strength * self._scores(pool, [(proposal.samples, labels)]), 0)
            total = 0.0
            for t in (0.1, 0.4, 0.7, 0.9):
                tt = torch.full((pool.shape[0],), t, device=self.device)
                total += float(flow_matching_loss(self.b, pool, noise, tt, weights=weights))
            return total / 4
        steps = REFERENCE_GRID if self.method == "reference" else self.sampler_steps
        times = time_grid(steps, self.device)[:-1]
        e = straight_path_errors(self.b, proposal.noise, proposal.samples, times)
        if self.method == "dpo":
            e = (e - straight_path_errors(self.a, proposal.noise, proposal.samples, times)) / self.settings.temperature
        return float(-(labels * torch.log_softmax(-e, dim=0)).sum())

    # reward-weighted flow matching ------------------------------------------
    def pool(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A's own samples drawn once per session: ``(noise, samples)``, each ``(pool_size, num_points, 2)``."""
        if self._pool is None:
            noise = draw_noise(self.settings.pool_size, NUM_POINTS, self.seed + 99, self.device)
            self._pool = (noise, self._sample(self.a, noise))
        return self._pool

    def preference_scores(self, clouds: torch.Tensor) -> torch.Tensor:
        """Estimated probability that each cloud ``(m, num_points, 2)`` would be ticked: ``(m,)`` in [0, 1].

        A kernel regression on every labelled proposal so far: weights ``exp(-d / h)`` of the Chamfer
        distance ``d`` (on a fixed subset of points), ``h`` the median distance divided by 10.
        """
        return self._scores(clouds, [(item.samples, item.labels) for item in self.buffer])

    def _scores(self, clouds: torch.Tensor, labelled_sets: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        k = self.settings.kernel_points
        labelled = torch.cat([samples for samples, _ in labelled_sets])[:, :k].cpu()
        targets = torch.cat([(labels > 0).float() for _, labels in labelled_sets]).cpu()
        d = pairwise_chamfer(clouds[:, :k].cpu(), labelled)
        h = d.median().clamp(min=1e-6) / 10
        w = torch.exp(-(d - d.min(dim=1, keepdim=True).values) / h)
        return (w * targets).sum(1) / w.sum(1)

    def _update_reward_fm(self) -> dict:
        """Restart B from A (``restart``), then ``steps`` flow-matching steps on A's pool resampled with weights
        ``exp(strength * score)``, fresh noise coupled as in A's training, times in ``[0, t_max]``."""
        s = self.settings
        _, pool = self.pool()
        weights = torch.softmax(s.strength * self.preference_scores(pool), dim=0)
        if s.restart:  # B = A fine-tuned on every tick so far: no drift piles up over the rounds
            self.b.load_state_dict(self.a.state_dict())
            self.opt = torch.optim.Adam(self.b.parameters(), lr=s.lr)

        def next_batch() -> tuple[torch.Tensor, torch.Tensor, None]:
            idx = torch.multinomial(weights, s.batch_size, replacement=True, generator=self._gen).to(pool.device)
            x1 = pool[idx]
            return x1, self._couple(torch.randn(x1.shape, generator=self._gen), x1), None

        return {"flow_loss": self._fit(next_batch, s.steps, s.t_max)}

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike, **metadata: object) -> Path:
        """Save model B (atomically, as safetensors) with the method, its settings and the round history."""
        from .checkpoint import save_checkpoint
        from .evaluation import sampler_of

        rounds = [asdict(r) for r in self.history]
        return save_checkpoint(
            self.b,
            path,
            preference={
                "method": self.method,
                "settings": asdict(self.settings),
                "labelled_rounds": self.labelled_rounds,
                "rounds": rounds,
            },
            sampler=sampler_of(self.a, self.a_meta),
            **metadata,
        )
