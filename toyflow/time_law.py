"""The law of the training times: at which ``t`` in [0, 1] of the path a training step asks the network for its
velocity.

Uniform times spend a fifth of the steps on ``t < 0.2``, where the flow is nearly the same for every cloud, and as
few near ``t = 1``, where it draws the shape's fine lines. The logit-normal law (Esser et al., 2024) puts more of
them in between: ``t = sigmoid(mean + std * z)`` with ``z`` standard normal. A share of uniform times keeps the
early ones, at which the gate of a network with class heads chooses the shape, from becoming rare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .validation import check_count, check_probability

LAWS = ("uniform", "logit-normal")


@dataclass(frozen=True)
class TimeLaw:
    """``kind`` (one of :data:`LAWS`); for the logit-normal law its ``mean`` and ``std`` on the logit scale and the
    ``uniform_share`` of times drawn uniformly instead."""

    kind: str = "uniform"
    mean: float = 0.0
    std: float = 1.0
    uniform_share: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in LAWS:
            raise ValueError(f"unknown time law {self.kind!r}; expected one of {LAWS}")
        if not (math.isfinite(self.mean) and math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"a time law needs a finite mean and a finite std > 0, got {self.mean}, {self.std}")
        check_probability("uniform_share", self.uniform_share)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n >= 1`` times ``(n,)`` in [0, 1], float32 on the CPU, drawn from ``generator``. The uniform law draws
        exactly ``torch.rand(n, generator=generator)``."""
        check_count("n", n)
        u = torch.rand(n, generator=generator)
        if self.kind == "uniform":
            return u
        z = torch.randn(n, generator=generator)
        keep_uniform = torch.rand(n, generator=generator) < self.uniform_share
        return torch.where(keep_uniform, u, torch.sigmoid(self.mean + self.std * z))
