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

from collections.abc import Callable

import torch
from torch import nn

from .device import precision_context
from .judge import classify
from .path import Velocity, predicted_cloud
from .solver import Sampler, time_grid
from .trace import DecisionTrace

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

    Returns ``(batch,)`` on the CPU. A module is read in eval mode and left in the mode it was in. Without a gate, at
    ``t = 1`` the cloud has landed: the endpoint is ``x_t`` itself, read without evaluating the field.
    """
    if not has_gate(model) and bool((torch.as_tensor(t) >= 1).all()):
        return endpoint_reading(x_t)
    was_training = model.training if isinstance(model, nn.Module) else None
    if was_training is not None:
        model.eval()
    try:
        if has_gate(model):
            return torch.sigmoid(model.class_parts(x_t, t)[2]).float().cpu()
        return endpoint_reading(predicted_cloud(x_t, model(x_t, t), t))
    finally:
        if was_training:
            model.train()


def endpoint_reading(endpoints: torch.Tensor) -> torch.Tensor:
    """The judge's reading of straight-line endpoints ``(..., num_points, 2)``: 1.0 for an S curve, 0.0 for a Swiss
    roll, ``(...)`` on the CPU."""
    flat = endpoints.reshape(-1, *endpoints.shape[-2:])
    return classify(flat).float().view(endpoints.shape[:-2])


def reads_while_sampled(model: Velocity) -> bool:
    """Whether one evaluation of ``model`` also gives what its decision is read from: a module whose gate comes with
    its velocity (:meth:`~toyflow.model.CloudFlow.gated_velocity`), or one without a gate (its endpoint)."""
    return isinstance(model, nn.Module) and (not has_gate(model) or callable(getattr(model, "gated_velocity", None)))


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
    """``model``'s velocity field, keeping what ``model``'s decision is read from at every evaluation: sampled in
    ``model``'s place it draws exactly ``model``'s clouds and keeps, for each evaluation at ``x (n, num_points, 2)``
    and ``t (n,)``, the gate's ``P(S | x, t)`` of a network with class heads (from the same evaluation,
    :meth:`~toyflow.model.CloudFlow.gated_velocity`), else the straight-line endpoint ``x + (1 - t) v``, which
    :func:`decision_from` judges when the decision is read (:func:`p_s`'s readings, without evaluating again)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not reads_while_sampled(model):
            raise ValueError(
                "only a module is read while sampled, and one with class heads through its gated_velocity method"
            )
        self.model = model
        self.train(model.training)  # a sampler restores the recorder's mode onto model: model's own, not a new one's
        self.gated = has_gate(model)
        self._kept: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``model``'s velocity at ``x (n, num_points, 2)``, ``t (n,)``; what its decision is read from, kept."""
        if self.gated:
            v, p = self.model.gated_velocity(x, t)
            self._kept.append(p.float())
        else:
            v = self.model(x, t)
            self._kept.append(predicted_cloud(x, v, t))
        return v

    def trace(self, trajectory: torch.Tensor) -> DecisionTrace:
        """The :class:`DecisionTrace` of the ``trajectory (steps + 1, n, num_points, 2)`` sampled with this recorder,
        on the CPU."""
        kept = torch.stack(self._kept).cpu()  # (evaluations, n) or (evaluations, n, num_points, 2)
        if self.gated:
            return DecisionTrace(trajectory.cpu(), gate=kept.T.contiguous())
        return DecisionTrace(trajectory.cpu(), endpoints=kept)


def sample_deciding(
    model: Velocity, noise: torch.Tensor, sampler: Sampler, stop: Callable[[], bool] | None = None
) -> DecisionTrace:
    """``sampler``'s trajectory of ``model`` from ``noise (n, num_points, 2)``, the very clouds sampling alone draws,
    with what the decision is read from kept at each evaluation (:class:`DecisionRecorder`) when the sampler evaluates
    the field once a step (:data:`ONE_EVALUATION`) and ``model`` is a module whose evaluation gives it; else the
    trajectory alone. On the CPU. ``stop``: as for :meth:`~toyflow.solver.Sampler.sample`."""
    if sampler.method not in ONE_EVALUATION or not reads_while_sampled(model):
        return DecisionTrace(sampler.sample(model, noise, return_trajectory=True, stop=stop).cpu())
    recorder = DecisionRecorder(model)
    return recorder.trace(sampler.sample(recorder, noise, return_trajectory=True, stop=stop))


def decision_from(
    model: Velocity, trace: DecisionTrace, precision: str = "float32"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decision over time along ``trace``: the gate it kept, or the judge's reading of the endpoints it kept, and
    ``model``'s reading of the finished clouds (``t = 1``, one evaluation, in ``precision``); without either,
    :func:`decision_along` the whole trajectory. Returns ``(times (steps + 1,), p (n, steps + 1))`` on the CPU."""
    param = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    trajectory = trace.trajectory if param is None else trace.trajectory.to(param.device)
    if trace.gate is None and trace.endpoints is None:
        return decision_along(model, trajectory, precision)
    k, n = trajectory.shape[:2]
    times = time_grid(k - 1, trajectory.device).to(trajectory.dtype)
    if trace.gate is None and not has_gate(model):  # the landed clouds are read as the endpoints are: in one call
        readings = endpoint_reading(torch.cat([trace.endpoints.cpu(), trajectory[-1:].cpu()]))
        return times.cpu(), readings.T.contiguous()
    readings = trace.gate if trace.gate is not None else endpoint_reading(trace.endpoints).T
    with precision_context(trajectory.device, precision):
        last = p_s(model, trajectory[-1], times[-1].expand(n))
    return times.cpu(), torch.cat([readings.cpu(), last[:, None]], dim=1)


def decision_curve(
    model: Velocity, noise: torch.Tensor, sampler: Sampler, trajectory: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decision over time of ``model`` from ``noise (n, num_points, 2)``, sampled with ``sampler`` and read as it
    is sampled (:func:`sample_deciding`), or along a ``trajectory (steps + 1, n, num_points, 2)`` already sampled from
    it, in the sampler's precision. Returns ``(times (k,), p (n, k))``, ``k = sampler.steps + 1``, on the CPU."""
    trace = DecisionTrace(trajectory) if trajectory is not None else sample_deciding(model, noise, sampler)
    return decision_from(model, trace, sampler.precision)
