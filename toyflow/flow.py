"""Rectified flow: straight paths from noise to data, their training loss, and ODE samplers.

``x_t = t * x1 + (1 - t) * x0`` with target velocity ``x1 - x0``; sampling integrates
``dx/dt = v(x, t)`` from ``t = 0`` (noise) to ``t = 1`` (data).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

SAMPLERS = ("euler", "heun", "midpoint")
DEFAULT_METHOD = "midpoint"
DEFAULT_STEPS = 8

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Point on the straight path: ``x0, x1 (batch, num_points, 2)``, ``t (batch,)`` -> ``(batch, num_points, 2)``."""
    t = t.reshape(-1, *([1] * (x0.dim() - 1)))
    return t * x1 + (1 - t) * x0


def flow_matching_loss(
    model: Velocity,
    x1: torch.Tensor,
    x0: torch.Tensor,
    t: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared error between ``model(x_t, t)`` and ``x1 - x0``; a scalar.

    ``x0, x1 (batch, num_points, 2)``, one time per cloud ``t (batch,)``; optional per-cloud ``weights (batch,)``
    (the loss is then the weighted mean over clouds).
    """
    err = (model(interpolate(x0, x1, t), t) - (x1 - x0)).pow(2).mean(dim=(1, 2))
    if weights is None:
        return err.mean()
    return (err * weights).sum() / weights.sum()


def class_flow_matching_loss(
    model: torch.nn.Module,
    x1: torch.Tensor,
    x0: torch.Tensor,
    t: torch.Tensor,
    is_s: torch.Tensor,
    gate_weight: float = 0.1,
) -> torch.Tensor:
    """Flow matching for a network with class heads (``model.class_parts``); a scalar.

    Each cloud's squared error is taken on its own class's head (``v_S`` where ``is_s (batch,)``, else
    ``v_roll``), plus ``gate_weight`` times the gate's binary cross entropy against ``is_s``. At the optimum
    the heads are the two classes' velocity fields and the gate is ``P(S | x_t, t)``, so the gated sum is the
    mixture's velocity field. ``x0, x1 (batch, num_points, 2)``, ``t (batch,)``.
    """
    v_s, v_roll, logit = model.class_parts(interpolate(x0, x1, t), t)
    label = is_s.to(x1.device)
    v = torch.where(label[:, None, None], v_s, v_roll)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, label.to(logit.dtype))
    return (v - (x1 - x0)).pow(2).mean() + gate_weight * bce


def mixture_loss(
    model: torch.nn.Module,
    x1: torch.Tensor,
    x0: torch.Tensor,
    t: torch.Tensor,
    is_s: torch.Tensor | None = None,
    gate_weight: float = 0.1,
) -> torch.Tensor:
    """Model A's training loss on clouds ``x1 (batch, num_points, 2)`` from noise ``x0`` at times ``t (batch,)``.

    :func:`class_flow_matching_loss` when the network has class heads and the clouds' labels ``is_s (batch,)``
    are known, else :func:`flow_matching_loss` on the network's velocity.
    """
    if is_s is not None and getattr(getattr(model, "config", None), "class_heads", False):
        return class_flow_matching_loss(model, x1, x0, t, is_s, gate_weight)
    return flow_matching_loss(model, x1, x0, t)


def time_grid(steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The sampler's ``steps + 1`` times ``0, 1/steps, ..., 1``."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return torch.linspace(0.0, 1.0, steps + 1, device=device)


@torch.no_grad()
def sample(
    model: Velocity,
    noise: torch.Tensor,
    steps: int = DEFAULT_STEPS,
    method: str = DEFAULT_METHOD,
    return_trajectory: bool = False,
) -> torch.Tensor:
    """Integrate the flow from ``noise (batch, num_points, 2)`` at t=0 to t=1 with ``steps`` steps.

    ``method`` is ``"euler"`` (one velocity per step), ``"heun"`` or ``"midpoint"`` (two, second order). Returns the
    final clouds ``(batch, num_points, 2)``, or with ``return_trajectory`` every step
    ``(steps + 1, batch, num_points, 2)``.
    """
    if method not in SAMPLERS:
        raise ValueError(f"unknown sampler {method!r}; expected one of {SAMPLERS}")
    grid = time_grid(steps, noise.device).to(noise.dtype)
    x = noise
    traj = [x] if return_trajectory else None
    ones = torch.ones(x.shape[0], device=x.device, dtype=x.dtype)
    for k in range(steps):
        t0, t1 = grid[k], grid[k + 1]
        dt = t1 - t0
        v0 = model(x, ones * t0)
        if method == "euler":
            x = x + dt * v0
        elif method == "midpoint":  # second order without evaluating the field at t = 1
            x = x + dt * model(x + 0.5 * dt * v0, ones * (t0 + 0.5 * dt))
        else:
            x_pred = x + dt * v0
            x = x + dt * 0.5 * (v0 + model(x_pred, ones * t1))
        if traj is not None:
            traj.append(x)
    return torch.stack(traj) if traj is not None else x
