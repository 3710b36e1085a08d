"""The reference method of the original research code (docs/original.md), kept faithfully for comparison: its network,
its noise and its loss (its training recipe is in :mod:`toyflow.reference_training`).

Its network is a per-point MLP whose LayerNorms span the whole cloud (normalised shape
``[num_points, hidden]``): that is the only way its points see each other, and it ties the model to
exactly ``num_points`` points in a fixed order. Time enters through a 100-entry lookup table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .data import NUM_POINTS
from .path import straight_path

TIME_BINS = 100
TIME_SCALE = 0.2
SAMPLER_STEPS = 100


@dataclass(frozen=True)
class ReferenceConfig:
    """Size of the reference network (docs/original.md: 3 hidden layers of 256, 4-dim time embedding)."""

    hidden: int = 256
    layers: int = 3
    time_dim: int = 4
    num_points: int = NUM_POINTS
    arch: str = field(default="reference")

    def to_dict(self) -> dict:
        """The configuration as a JSON-ready dict."""
        return asdict(self)


class ReferenceFlow(nn.Module):
    """The original velocity network: ``x (batch, 400, 2)``, ``t (batch,)`` -> ``(batch, 400, 2)``."""

    def __init__(self, config: ReferenceConfig | None = None) -> None:
        super().__init__()
        self.config = config or ReferenceConfig()
        c = self.config
        self.time_table = nn.Embedding(TIME_BINS, c.time_dim)
        dims = [2 + c.time_dim] + [c.hidden] * c.layers
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.norms = nn.ModuleList(nn.LayerNorm([c.num_points, c.hidden]) for _ in range(c.layers))
        self.act = nn.LeakyReLU()
        self.out = nn.Linear(c.hidden, 2, bias=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Velocity ``(batch, num_points, 2)`` at ``x (batch, num_points, 2)`` and time ``t`` (a float or ``(batch,)``),
        for clouds of exactly ``config.num_points`` points (a limit of the original design)."""
        if x.shape[1] != self.config.num_points:
            raise ValueError(
                f"the reference network only accepts clouds of {self.config.num_points} points, got {x.shape[1]}"
            )
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        idx = (t * TIME_BINS).floor().long().clamp(0, TIME_BINS - 1)
        temb = TIME_SCALE * self.time_table(idx)[:, None, :].expand(-1, x.shape[1], -1)
        h = torch.cat([x, temb], dim=-1)
        for linear, norm in zip(self.linears, self.norms, strict=True):
            h = self.act(norm(linear(h)))
        return self.out(h)


def reference_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """The original noise of ``shape`` (``(batch, num_points, 2)``): standard normal per point, then the whole batch
    rescaled to [-1, 1] by its min and max."""
    z = torch.randn(shape, generator=generator)
    return (z - z.min()) / (z.max() - z.min()) * 2 - 1


def reference_loss(model: nn.Module, x1: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The original training loss (a scalar) of ``model`` on the straight path from ``x0`` to ``x1`` (both ``(batch,
    num_points, 2)``) at times ``t (batch,)``: squared error summed over points and coordinates, mean over the
    batch."""
    path = straight_path(x0, x1, t)
    return (model(path.x_t, t) - path.u_t).pow(2).sum(dim=(1, 2)).mean()


def is_reference(model: nn.Module) -> bool:
    """Whether ``model`` is the reference network (which needs the reference noise and 400 points)."""
    return isinstance(getattr(model, "config", None), ReferenceConfig)
