"""The straight (rectified-flow) path from noise to data, on which every loss of toyflow is built.

``x_t = t * x1 + (1 - t) * x0`` and its velocity ``u_t = x1 - x0``, for ``t`` from 0 (noise) to 1 (data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A velocity field: ``v(x (batch, num_points, 2), t (batch,)) -> (batch, num_points, 2)``."""


@dataclass(frozen=True)
class PathSample:
    """A point of the straight path and the velocity along it: ``x_t`` and ``u_t``, ``(batch, num_points, 2)``."""

    x_t: torch.Tensor
    u_t: torch.Tensor


def straight_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> PathSample:
    """The point on the path at ``t`` and its velocity, from ``x0, x1 (batch, num_points, 2)`` (noise and data) and
    one time per cloud ``t (batch,)``."""
    tt = t.reshape(-1, *([1] * (x0.dim() - 1)))
    return PathSample(x_t=tt * x1 + (1 - tt) * x0, u_t=x1 - x0)


def predicted_cloud(x: torch.Tensor, v: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Where the straight path through ``x`` with velocity ``v`` ends: ``x + (1 - t) v``, the cloud a field
    predicts at ``t = 1`` from ``x (batch, num_points, 2)`` at time ``t`` (a float, a scalar or one time per cloud
    ``(batch,)``); same shape as ``x``."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return x + (1 - t.reshape(-1, 1, 1) if t.dim() else 1 - t) * v
