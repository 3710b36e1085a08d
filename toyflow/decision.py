"""The decision over time: how likely a cloud on its way from noise is to end as an S curve, step by step.

Along a sampler's trajectory ``x_0 (noise), x_{t_1}, ..., x_1 (the cloud)`` a model's reading of "S or roll" is:

- for a network with class heads (``class_parts`` and a gate, e.g. :class:`~toyflow.model.CloudFlow` with
  ``class_heads``): the gate's probability ``P(S | x_t, t)``, the model's own decision;
- for any other velocity field: the judge's reading of the straight-line endpoint ``x_t + (1 - t) v(x_t, t)``,
  where the cloud would land if it went straight on from ``x_t`` (1.0 for an S curve, 0.0 for a Swiss roll).

A person sees *when* a noise commits to a shape, and, comparing model A with model B on the same noise, that B's
commitment moved.
"""

from __future__ import annotations

import torch
from torch import nn

from .device import precision_context
from .judge import judge
from .path import Velocity, predicted_cloud
from .solver import Sampler, time_grid


def has_gate(model: Velocity) -> bool:
    """Whether ``model`` exposes class heads with a gate: a ``class_parts`` method, not switched off by its
    configuration (``config.class_heads``)."""
    config = getattr(model, "config", None)
    return callable(getattr(model, "class_parts", None)) and bool(getattr(config, "class_heads", True))


def reading(model: Velocity) -> str:
    """What :func:`p_s` reads for ``model``, in words (for captions)."""
    return "the gate's P(S | x_t, t)" if has_gate(model) else "the judge on the straight-line endpoint"


@torch.no_grad()
def p_s(model: Velocity, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``model``'s probability that each cloud ``x_t (batch, num_points, 2)`` at times ``t (batch,)`` becomes an
    S curve: the gate's ``P(S | x_t, t)``, else the judge's reading (0 or 1) of ``x_t + (1 - t) v(x_t, t)``.

    Returns ``(batch,)`` on the CPU. A module is read in eval mode and left in the mode it was in.
    """
    was_training = model.training if isinstance(model, nn.Module) else None
    if was_training is not None:
        model.eval()
    try:
        if has_gate(model):
            return torch.sigmoid(model.class_parts(x_t, t)[2]).float().cpu()
        return judge(predicted_cloud(x_t, model(x_t, t), t)).is_s.float()
    finally:
        if was_training:
            model.train()


def decision_along(
    model: Velocity, trajectory: torch.Tensor, precision: str = "float32"
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`p_s` at every step of ``trajectory (steps + 1, n, num_points, 2)``, a sampler's states at the times
    ``0, 1/steps, ..., 1``, the network read in ``precision`` (one of :data:`toyflow.device.PRECISIONS`; a sampler's
    own, to read the network as it was evaluated along the way). Returns ``(times (steps + 1,), p (n, steps + 1))``
    on the CPU."""
    k, n = trajectory.shape[:2]
    times = time_grid(k - 1, trajectory.device).to(trajectory.dtype)
    with precision_context(trajectory.device, precision):
        p = p_s(model, trajectory.reshape(k * n, *trajectory.shape[2:]), times.repeat_interleave(n))
    return times.cpu(), p.view(k, n).T.contiguous()


def decision_curve(
    model: Velocity, noise: torch.Tensor, sampler: Sampler, trajectory: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decision over time of ``model`` from ``noise (n, num_points, 2)``, sampled with ``sampler`` (or along a
    ``trajectory (steps + 1, n, num_points, 2)`` already sampled from it) and read in the sampler's precision.
    Returns ``(times (k,), p (n, k))``, ``k = sampler.steps + 1``, on the CPU."""
    if trajectory is None:
        trajectory = sampler.sample(model, noise, return_trajectory=True)
    return decision_along(model, trajectory, sampler.precision)
