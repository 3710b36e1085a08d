"""The decision over time: how likely a cloud on its way from noise is to end as an S curve, step by step.

Along a sampler's trajectory ``x_0 (noise), x_{t_1}, ..., x_1 (the cloud)`` a model's reading of "S or roll" is:

- for a network with class heads (``class_parts`` and a gate, e.g. :class:`~toyflow.model.CloudFlow` with
  ``class_heads``): the gate's probability ``P(S | x_t, t)``, the model's own decision;
- for any other velocity field: the judge's reading of the straight-line endpoint ``x_t + (1 - t) v(x_t, t)``,
  where the cloud would land if it went straight on from ``x_t`` (1.0 for an S curve, 0.0 for a Swiss roll).

A person sees *when* a noise commits to a shape, and, comparing model A with model B on the same noise, that B's
commitment moved.

Reading it costs no evaluation of the network of its own where the clouds are being sampled anyway: a
:class:`DecisionRecorder` sampled in the model's place reads the decision at each of the sampler's evaluations
(:func:`sample_deciding`), and only the finished clouds are read once more, at ``t = 1`` (:func:`decision_from`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .device import precision_context
from .judge import judge
from .path import Velocity, predicted_cloud
from .solver import Sampler, time_grid

# The samplers that evaluate the field once a step, at the step's start: at the trajectory's states (the others also
# evaluate it between them).
ONE_EVALUATION = ("euler", "multistep", "exponential")


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


class DecisionRecorder(nn.Module):
    """``model``'s velocity field, reading ``model``'s decision at every evaluation: sampled in ``model``'s place it
    draws exactly ``model``'s clouds and keeps, for each evaluation at ``x (n, num_points, 2)`` and ``t (n,)``, what
    :func:`p_s` would read there: the gate's ``P(S | x, t)`` of a network with class heads (from the same evaluation,
    :meth:`~toyflow.model.CloudFlow.gated_velocity`), else the straight-line endpoint, judged all at once by
    :meth:`readings`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.gated = has_gate(model)
        if self.gated and not callable(getattr(model, "gated_velocity", None)):
            raise ValueError("a model with class heads is read while sampled through its gated_velocity method")
        self._kept: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``model``'s velocity at ``x (n, num_points, 2)``, ``t (n,)``, the decision there kept."""
        if self.gated:
            v, p = self.model.gated_velocity(x, t)
            self._kept.append(p.float())
        else:
            v = self.model(x, t)
            self._kept.append(predicted_cloud(x, v, t))
        return v

    def readings(self) -> torch.Tensor:
        """The decision at each evaluation so far, ``(n, evaluations)`` on the CPU."""
        if self.gated:
            return torch.stack(self._kept, dim=1).cpu()
        endpoints = torch.stack(self._kept)  # (evaluations, n, num_points, 2)
        k, n = endpoints.shape[:2]
        return judge(endpoints.reshape(k * n, *endpoints.shape[2:])).is_s.float().view(k, n).T.contiguous()


@dataclass(frozen=True)
class DecisionTrace:
    """A sampler's ``trajectory (steps + 1, n, num_points, 2)`` from noise to clouds, and the decision read at each
    state but the last as it was sampled, ``readings (n, steps)`` (``None``: not read then; :func:`decision_from`
    reads the whole trajectory)."""

    trajectory: torch.Tensor
    readings: torch.Tensor | None = None


def sample_deciding(model: Velocity, noise: torch.Tensor, sampler: Sampler) -> DecisionTrace:
    """``sampler``'s trajectory of ``model`` from ``noise (n, num_points, 2)``, the very clouds sampling alone draws,
    with the decision read at each evaluation when the sampler evaluates the field once a step (:data:`ONE_EVALUATION`)
    and ``model`` is a module whose decision an evaluation gives (:class:`DecisionRecorder`); else the trajectory
    alone."""
    readable = not has_gate(model) or callable(getattr(model, "gated_velocity", None))
    if sampler.method not in ONE_EVALUATION or not isinstance(model, nn.Module) or not readable:
        return DecisionTrace(sampler.sample(model, noise, return_trajectory=True))
    recorder = DecisionRecorder(model)
    trajectory = sampler.sample(recorder, noise, return_trajectory=True)
    return DecisionTrace(trajectory, recorder.readings())


def decision_from(
    model: Velocity, trace: DecisionTrace, precision: str = "float32"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decision over time along ``trace``: its readings and ``model``'s at the finished clouds (``t = 1``, one
    evaluation, in ``precision``), or, without readings, :func:`decision_along` the whole trajectory. Returns
    ``(times (steps + 1,), p (n, steps + 1))`` on the CPU."""
    if trace.readings is None:
        return decision_along(model, trace.trajectory, precision)
    trajectory = trace.trajectory
    k, n = trajectory.shape[:2]
    times = time_grid(k - 1, trajectory.device).to(trajectory.dtype)
    with precision_context(trajectory.device, precision):
        last = p_s(model, trajectory[-1], times[-1].expand(n))
    return times.cpu(), torch.cat([trace.readings.cpu(), last[:, None]], dim=1)


def decision_curve(
    model: Velocity, noise: torch.Tensor, sampler: Sampler, trajectory: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decision over time of ``model`` from ``noise (n, num_points, 2)``, sampled with ``sampler`` and read as it
    is sampled (:func:`sample_deciding`), or along a ``trajectory (steps + 1, n, num_points, 2)`` already sampled from
    it, in the sampler's precision. Returns ``(times (k,), p (n, k))``, ``k = sampler.steps + 1``, on the CPU."""
    trace = DecisionTrace(trajectory) if trajectory is not None else sample_deciding(model, noise, sampler)
    return decision_from(model, trace, sampler.precision)
