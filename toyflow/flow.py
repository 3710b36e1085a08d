"""The flow-matching losses of model A (and of model B's fresh-data terms), built on the straight path.

Each regresses a network's velocity at ``x_t`` on the path's velocity ``u_t`` (:func:`toyflow.path.straight_path`).
"""

from __future__ import annotations

import torch

from .model import has_class_heads
from .path import Velocity, straight_path


def flow_matching_loss(
    model: Velocity,
    x1: torch.Tensor,
    x0: torch.Tensor,
    t: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared error between ``model(x_t, t)`` and ``u_t = x1 - x0``; a scalar.

    ``x0, x1 (batch, num_points, 2)``, one time per cloud ``t (batch,)``; optional per-cloud ``weights (batch,)``
    (the loss is then the weighted mean over clouds).
    """
    x_t, u_t = straight_path(x0, x1, t)
    err = (model(x_t, t) - u_t).pow(2).mean(dim=(1, 2))
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
    x_t, u_t = straight_path(x0, x1, t)
    v_s, v_roll, logit = model.class_parts(x_t, t)
    label = is_s.to(x1.device)
    v = torch.where(label[:, None, None], v_s, v_roll)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, label.to(logit.dtype))
    return (v - u_t).pow(2).mean() + gate_weight * bce


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
    if is_s is not None and has_class_heads(model):
        return class_flow_matching_loss(model, x1, x0, t, is_s, gate_weight)
    return flow_matching_loss(model, x1, x0, t)
