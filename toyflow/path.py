"""The straight (rectified-flow) path from noise to data, on which every loss of toyflow is built.

``x_t = t * x1 + (1 - t) * x0`` and its velocity ``u_t = x1 - x0``, for ``t`` from 0 (noise) to 1 (data).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A velocity field: ``v(x (batch, num_points, 2), t (batch,)) -> (batch, num_points, 2)``."""


def straight_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The point on the path and its velocity: ``(x_t, u_t)``.

    ``x0, x1 (batch, num_points, 2)`` (noise and data), one time per cloud ``t (batch,)``; both results are
    ``(batch, num_points, 2)``.
    """
    tt = t.reshape(-1, *([1] * (x0.dim() - 1)))
    return tt * x1 + (1 - tt) * x0, x1 - x0


def predicted_cloud(x: torch.Tensor, v: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Where the straight path through ``x`` with velocity ``v`` ends: ``x + (1 - t) v``, the cloud a field
    predicts at ``t = 1`` from ``x (batch, num_points, 2)`` at time ``t`` (a float, a scalar or one time per cloud
    ``(batch,)``); same shape as ``x``."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return x + (1 - t.reshape(-1, 1, 1) if t.dim() else 1 - t) * v
