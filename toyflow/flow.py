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
    path = straight_path(x0, x1, t)
    err = (model(path.x_t, t) - path.u_t).pow(2).mean(dim=(1, 2))
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
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Flow matching for a network with class heads (``model.class_parts``); a scalar.

    Each cloud's squared error is taken on its own class's head (``v_S`` where ``is_s (batch,)``, else
    ``v_roll``), plus ``gate_weight`` times the gate's binary cross entropy against ``is_s``. At the optimum
    the heads are the two classes' velocity fields and the gate is ``P(S | x_t, t)``, so the gated sum is the
    mixture's velocity field. ``x0, x1 (batch, num_points, 2)``, ``t (batch,)``. ``is_s`` may also be a float
    probability that each cloud is an S curve: each head's error is then weighted by its class's probability and the
    gate's cross entropy is taken against that probability. Optional per-cloud ``weights (batch,)`` make the loss
    the weighted mean over clouds.
    """
    path = straight_path(x0, x1, t)
    v_s, v_roll, logit = model.class_parts(path.x_t, t)
    label = is_s.to(x1.device)
    if label.dtype == torch.bool and weights is None:  # A's training loss
        v = torch.where(label[:, None, None], v_s, v_roll)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, label.to(logit.dtype))
        return (v - path.u_t).pow(2).mean() + gate_weight * bce
    p = label.to(logit.dtype)
    err_s, err_roll = (v_s - path.u_t).pow(2).mean(dim=(1, 2)), (v_roll - path.u_t).pow(2).mean(dim=(1, 2))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, p, reduction="none")
    per_cloud = p * err_s + (1 - p) * err_roll + gate_weight * bce
    return per_cloud.mean() if weights is None else (per_cloud * weights).sum() / weights.sum()


def mixture_loss(
    model: torch.nn.Module,
    x1: torch.Tensor,
    x0: torch.Tensor,
    t: torch.Tensor,
    is_s: torch.Tensor | None = None,
    gate_weight: float = 0.1,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Model A's training loss on clouds ``x1 (batch, num_points, 2)`` from noise ``x0`` at times ``t (batch,)``.

    :func:`class_flow_matching_loss` when the network has class heads and the clouds' labels ``is_s (batch,)``
    are known, else :func:`flow_matching_loss` on the network's velocity; optional per-cloud ``weights (batch,)``.
    """
    if is_s is not None and has_class_heads(model):
        return class_flow_matching_loss(model, x1, x0, t, is_s, gate_weight, weights)
    return flow_matching_loss(model, x1, x0, t, weights)
