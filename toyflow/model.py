"""The velocity network: one velocity per point, computed from the whole cloud.

A point's velocity depends on the other points through pooled (mean) features, so the network is
permutation equivariant, accepts any number of points, and takes continuous time ``t`` in [0, 1].

With ``class_heads`` (the default) the network writes the flow's velocity the way it decomposes exactly
over the mixture's two classes: ``v(x, t) = P(S | x, t) v_S(x, t) + (1 - P(S | x, t)) v_roll(x, t)``, with
one velocity head per class and a gate, a classifier of the whole cloud. Training fits each head on its own
class and the gate by cross entropy (:func:`toyflow.flow.class_flow_matching_loss`), so the choice between
the shapes is a sharp, calibrated decision rather than a blur of the two velocities, a blur that the
majority class wins (without it model A drew 13-15% S curves from a 20% mixture). Sampling uses ``v`` only.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from . import fused

# On the CPU without gradients, the network reads this many points at a time at most (whole clouds, at least
# one): the activations of a few clouds stay in the processor's caches. No cloud's velocity depends on another's: the
# same clouds (to the bit on the shipped networks; in general to the rounding of a matrix product's kernel, which may
# group its sums differently for fewer rows). A GPU reads them all at once. Measured on 64 clouds of 400 points:
# - in float32, fused (toyflow.fused) on a 2-core AVX2 processor: 16 at a time 0.50-0.55 s, 12 0.56-0.62 s, 24
#   0.51-0.69 s, 32 0.57 s (the plain path on the 2-core AVX-512 processor: 24 at a time 0.32 s, 16 0.34 s, 32 0.46 s,
#   all at once 0.46 s);
# - fused in bfloat16 (AVX-512), which keeps fewer arrays alive: 32 at a time 0.22 s, 24 0.24 s, 40 or 48 0.22 s, all
#   at once 0.27 s.
INFERENCE_CHUNK_POINTS = 6400
FUSED_CHUNK_POINTS = 12800
Parts = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class FlowConfig:
    """Size of a :class:`CloudFlow`; saved with every checkpoint."""

    width: int = 64
    depth: int = 3
    time_freqs: int = 16
    pos_freqs: int = 16  # >0: random Fourier features of each point's coordinates (fixed, seeded, saved)
    pos_scale: float = 4.0
    class_heads: bool = True  # one velocity head per class plus a gate P(S | x, t) (see the module docstring)
    # The source law: 0 for the standard normal, R > 0 for the normal truncated at radius R (toyflow.data.
    # truncate_noise). Part of the flow: it is drawn in training, sampling, and preference learning alike.
    noise_radius: float = 0.0
    arch: str = field(default="cloudflow")

    def to_dict(self) -> dict:
        """The configuration as a JSON-ready dict."""
        return asdict(self)


def time_features(t: torch.Tensor, num_freqs: int) -> torch.Tensor:
    """Sinusoidal features of continuous time: ``t (batch,)`` -> ``(batch, 2 * num_freqs)``."""
    freqs = torch.exp(torch.linspace(0.0, math.log(200.0), num_freqs, device=t.device, dtype=t.dtype))
    angles = t[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class SetBlock(nn.Module):
    """Residual block: per-point MLP on the point's features, the cloud's mean feature and time."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.pool = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """``h (batch, num_points, width)``, ``temb (batch, width)`` -> ``(batch, num_points, width)``."""
        z = self.norm(h)
        ctx = self.pool(z.mean(dim=1)) + temb
        return h + self.mlp(z + ctx[:, None, :])

    def fused_forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` when nothing of it needs a gradient, on a CPU (:mod:`toyflow.fused`; sampling, or B
        learning only its gate and heads), run with autocast off: ``h (batch, num_points, width)`` bfloat16 or float32
        and ``temb (batch, width)`` float32 -> ``(batch, num_points, width)`` of ``h``'s type; the cloud's mean
        feature and its layer in float32, each product fused with what follows it."""
        z = fused.layer_norm(self.norm, h)
        ctx = self.pool(z.mean(dim=1).float()) + temb
        hidden = fused.linear_silu(self.mlp[0], z.add_(ctx.to(h.dtype)[:, None, :]))  # z's memory, still cached
        return fused.linear_add(self.mlp[2], hidden, h)


class CloudFlow(nn.Module):
    """Velocity field ``v(x, t)`` for whole clouds.

    ``x (batch, num_points, 2)``, ``t (batch,)`` -> ``(batch, num_points, 2)``.
    """

    def __init__(self, config: FlowConfig | None = None) -> None:
        super().__init__()
        self.config = config or FlowConfig()
        w = self.config.width
        k = self.config.pos_freqs
        if k:  # a fixed random projection, seeded, stored with the weights
            gen = torch.Generator().manual_seed(0)
            self.register_buffer("pos_matrix", torch.randn(2, k, generator=gen) * self.config.pos_scale)
        self.embed = nn.Linear(2 + 2 * k, w)
        self.time = nn.Sequential(nn.Linear(2 * self.config.time_freqs, w), nn.SiLU(), nn.Linear(w, w))
        self.blocks = nn.ModuleList(SetBlock(w) for _ in range(self.config.depth))
        self.out_norm = nn.LayerNorm(w)
        self.out = nn.Linear(w, 4 if self.config.class_heads else 2)  # (v_S, v_roll) or v
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        if self.config.class_heads:
            self.gate = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Velocity at ``x (batch, num_points, 2)`` and time ``t`` (a float or ``(batch,)``).

        Returns ``(batch, num_points, 2)``.
        """
        if not self.config.class_heads:
            return by_clouds(lambda xc, tc: (self._outputs(xc, tc)[0],), x, t)[0]
        return self.gated_velocity(x, t)[0]

    def gated_velocity(self, x: torch.Tensor, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """The velocity and the gate that weighs its heads: ``(v (batch, num_points, 2), P(S | x, t) (batch,))`` at
        ``x (batch, num_points, 2)`` and time ``t``; ``v`` is exactly :meth:`forward`'s. Only for networks built
        with ``class_heads``."""
        self._require_class_heads()
        return by_clouds(self._gated, x, t)

    def class_parts(self, x: torch.Tensor, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The class decomposition of the velocity: ``(v_S, v_roll, logit)``.

        ``x (batch, num_points, 2)`` -> ``v_S, v_roll (batch, num_points, 2)`` and the gate's logit of
        ``P(S | x, t)``, ``(batch,)``. Only for networks built with ``class_heads``.
        """
        self._require_class_heads()
        return by_clouds(self._class_parts, x, t)

    def _class_parts(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, logit = self._outputs(x, t)
        assert logit is not None  # only networks with class heads get here (_require_class_heads)
        return out[..., :2], out[..., 2:], logit

    def _gated(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_s, v_roll, logit = self._class_parts(x, t)
        p = torch.sigmoid(logit)
        gate = p[:, None, None]
        return gate * v_s + (1 - gate) * v_roll, p

    def shape_parameters(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """``(gate, heads)``: the parameters of the gate, which chooses the shape, and of the velocity heads, which
        draw it (the output layer). The trunk that computes the per-point features is in neither. Only for networks
        built with ``class_heads``."""
        self._require_class_heads()
        return list(self.gate.parameters()), list(self.out.parameters())

    @torch.no_grad()
    def shift_gate(self, nats: float) -> None:
        """Add ``nats`` to the gate's log odds of an S curve, at every ``x`` and ``t`` (the bias of its last layer):
        the gate's ``P(S)`` becomes ``sigmoid(logit + nats)``. Only for networks built with ``class_heads``."""
        self._require_class_heads()
        self.gate[-1].bias += nats

    def _require_class_heads(self) -> None:
        if not self.config.class_heads:
            raise ValueError("this network has no class heads (FlowConfig.class_heads is False)")

    def _outputs(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The output layer at ``x (batch, num_points, 2)`` and times ``t (batch,)`` (as :func:`by_clouds` hands them
        on), ``(batch, num_points, 2)`` (``v``) or with class heads ``(batch, num_points, 4)`` (``v_S``, ``v_roll``),
        and the gate's logit ``(batch,)`` (``None`` without class heads). On a CPU, when the per-point features need
        no gradient (sampling, or training only the gate and heads), they are computed the fused way
        (:mod:`toyflow.fused`, in bfloat16 under autocast to it, else in float32) and the heads in float32."""
        dtype = fused.compute_dtype(x, self._trunk_needs_grad(x))
        with fused.full_precision() if dtype is not None else contextlib.nullcontext():
            h = self._features(x, t) if dtype is None else self._fused_features(x, t, dtype)
            logit = self.gate(h.mean(dim=1))[:, 0] if self.config.class_heads else None
            return self.out(h), logit

    def _trunk_needs_grad(self, x: torch.Tensor) -> bool:
        """Whether the per-point features at ``x`` need a gradient: gradients on, and ``x`` or a weight of the trunk
        (everything but the gate and the output layer) requires one."""
        if not torch.is_grad_enabled():
            return False
        trunk = (self.time, self.embed, *self.blocks, self.out_norm)
        return x.requires_grad or any(p.requires_grad for module in trunk for p in module.parameters())

    def _embedding(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h, temb)``: each point's first features ``(batch, num_points, width)`` and the time's ``(batch,
        width)``."""
        temb = self.time(time_features(t, self.config.time_freqs))
        if self.config.pos_freqs:
            proj = x @ self.pos_matrix
            x = torch.cat([x, proj.sin(), proj.cos()], dim=-1)
        return self.embed(x), temb

    def _features(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Normalised per-point features ``(batch, num_points, width)``."""
        h, temb = self._embedding(x, t)
        for block in self.blocks:
            h = block(h, temb)
        return self.out_norm(h)

    def _fused_features(self, x: torch.Tensor, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """:meth:`_features`, float32, computed the fused way (autocast off; the blocks' per-point work in ``dtype``,
        bfloat16 or float32)."""
        h, temb = self._embedding(x, t)
        h = h.to(dtype)
        for block in self.blocks:
            h = block.fused_forward(h, temb)
        return fused.layer_norm(self.out_norm, h).float()


def by_clouds(fn: Callable[[torch.Tensor, torch.Tensor], Parts], x: torch.Tensor, t: torch.Tensor | float) -> Parts:
    """``fn(x, t)`` for clouds ``x (batch, num_points, 2)`` at times ``t`` (a float or ``(batch,)``), each of whose
    outputs has the batch first: on the CPU without gradients, on a few whole clouds at a time
    (:data:`INFERENCE_CHUNK_POINTS` points, :data:`FUSED_CHUNK_POINTS` fused in bfloat16) and concatenated, the same
    values to rounding; else at once (a GPU wants large batches)."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
    clouds = chunk_clouds(x)
    if torch.is_grad_enabled() or x.device.type != "cpu" or x.shape[0] <= clouds:
        return fn(x, t)
    parts = [fn(xc, tc) for xc, tc in zip(x.split(clouds), t.split(clouds), strict=True)]
    return tuple(torch.cat(outputs) for outputs in zip(*parts, strict=True))


def chunk_clouds(x: torch.Tensor) -> int:
    """How many whole clouds of ``x (batch, num_points, 2)`` :func:`by_clouds` hands on at a time on the CPU without
    gradients, as things stand on the calling thread (:data:`FUSED_CHUNK_POINTS` points where the evaluation is
    fused in bfloat16, else :data:`INFERENCE_CHUNK_POINTS`; at least one cloud)."""
    chunk = FUSED_CHUNK_POINTS if fused.compute_dtype(x) == fused.LOW else INFERENCE_CHUNK_POINTS
    return max(1, chunk // max(1, x.shape[1]))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def has_class_heads(model: nn.Module) -> bool:
    """Whether ``model`` was built with class heads (:attr:`FlowConfig.class_heads`); networks without such a
    configuration (the reference method's) have none."""
    return bool(getattr(getattr(model, "config", None), "class_heads", False))


def noise_radius(model: nn.Module) -> float:
    """The radius of ``model``'s source law (:attr:`FlowConfig.noise_radius`; 0: standard normal). Networks without
    one (the reference method's) start from the standard normal: 0."""
    return float(getattr(getattr(model, "config", None), "noise_radius", 0.0))
