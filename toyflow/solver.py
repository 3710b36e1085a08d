"""Sampling: integrate ``dx/dt = v(x, t)`` from noise at ``t = 0`` to a cloud at ``t = 1``.

:func:`sample` is the integrator; a :class:`Sampler` is the pair (method, steps) a model is meant to be sampled
with, built once from a checkpoint's metadata (:meth:`Sampler.from_meta`) and passed around instead of loose
settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from . import fused
from .cores import cores, on_cores, whole_parts
from .device import PRECISIONS, precision_context
from .handoff import HandOff
from .model import CloudFlow, chunk_clouds
from .path import Velocity, predicted_cloud
from .reference import SAMPLER_STEPS, is_reference
from .validation import check_count

SAMPLERS = ("euler", "heun", "midpoint", "multistep", "exponential")
DEFAULT_SOLVER = "exponential"  # the integration method a model is sampled with unless its checkpoint says otherwise
# The exponential method evaluates the network once a step and integrates the extrapolated predicted cloud exactly
# (exponential_update); the network runs in bfloat16 where the processor has bfloat16 kernels (DEFAULT_PRECISION,
# toyflow.device.autocast_dtype), 1.7 times as fast as float32 on the benchmark's 2-core CPU. On the gated model A
# trained with AdamW (1024 noises), 16 such steps drew clean 0.918 in half the time of 32 multistep steps (0.911); 12
# steps fell to 0.803. Today's (Muon) draws 0.929 at 16 steps, 0.923 at 14.
DEFAULT_STEPS = 16
DEFAULT_PRECISION = "auto"
Previous = tuple[torch.Tensor, torch.Tensor]  # a multistep sampler's last (time, predicted cloud)
StepResult = tuple[torch.Tensor, Previous]  # (x at the step's end, this step's (time, predicted cloud))


class SamplingStopped(Exception):
    """Raised by :func:`sample` when its ``stop()`` said so before a step: the sampling was given up, nothing kept."""


def time_grid(steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The sampler's ``steps + 1`` times ``0, 1/steps, ..., 1``: ``(steps + 1,)``; ``steps >= 1``."""
    steps = check_count("steps", steps)
    return torch.linspace(0.0, 1.0, steps + 1, device=device)


@torch.no_grad()
def sample(
    model: Velocity,
    noise: torch.Tensor,
    steps: int = DEFAULT_STEPS,
    method: str = DEFAULT_SOLVER,
    return_trajectory: bool = False,
    stop: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Integrate the flow from ``noise (batch, num_points, 2)`` at t=0 to t=1 with ``steps`` steps.

    ``method`` is ``"euler"`` (one velocity per step), ``"heun"`` or ``"midpoint"`` (two, second order),
    ``"multistep"`` (one, second order: see :func:`multistep_update`) or ``"exponential"`` (one, second order, the
    same extrapolated prediction integrated exactly: see :func:`exponential_update`). Returns the final clouds ``(batch,
    num_points, 2)``, or with ``return_trajectory`` every step ``(steps + 1, batch, num_points, 2)``. ``stop`` (no
    arguments) is asked before each step: true, and :class:`SamplingStopped` is raised (work read ahead gives way).
    """
    if method not in SAMPLERS:
        raise ValueError(f"unknown sampler {method!r}; expected one of {SAMPLERS}")
    grid = time_grid(steps, noise.device).to(noise.dtype)
    x = noise
    traj = [x] if return_trajectory else None
    ones = torch.ones(x.shape[0], device=x.device, dtype=x.dtype)
    previous: Previous | None = None  # the multistep methods' last (time, predicted cloud)
    with fused.weights_held():  # the weights do not change along the way: rounded to bfloat16 once
        for k in range(steps):
            if stop is not None and stop():
                raise SamplingStopped(f"stopped before step {k + 1} of {steps}")
            t0, t1 = grid[k], grid[k + 1]
            dt = t1 - t0
            v0 = model(x, ones * t0)
            if method == "multistep":
                x, previous = multistep_update(x, v0, t0, t1, previous)
            elif method == "exponential":
                x, previous = exponential_update(x, v0, t0, t1, previous)
            elif method == "euler":
                x = x + dt * v0
            elif method == "midpoint":  # second order without evaluating the field at t = 1
                x = x + dt * model(x + 0.5 * dt * v0, ones * (t0 + 0.5 * dt))
            else:
                x_pred = x + dt * v0
                x = x + dt * 0.5 * (v0 + model(x_pred, ones * t1))
            if traj is not None:
                traj.append(x)
    return torch.stack(traj) if traj is not None else x


def prediction_line(
    x: torch.Tensor, v: torch.Tensor, t0: torch.Tensor, previous: Previous | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """This step's predicted cloud (:func:`predicted_cloud` of ``x (batch, num_points, 2)`` and ``v`` at ``t0``) and
    the slope in time of the line through it and ``previous``'s, same shape (``None`` on the first step)."""
    predicted = predicted_cloud(x, v, t0)
    if previous is None:
        return predicted, None
    t_prev, predicted_prev = previous
    return predicted, (predicted - predicted_prev) / (t0 - t_prev)


def multistep_update(
    x: torch.Tensor, v: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor, previous: Previous | None = None
) -> StepResult:
    """One step of the multistep sampler from ``t0`` to ``t1``: ``x (batch, num_points, 2)`` with the field's
    velocity ``v`` there -> ``(x at t1, (t0, predicted cloud))``; pass the second item back as ``previous``.

    One evaluation of the field a step. The step moves ``x`` straight towards a predicted cloud
    (:func:`predicted_cloud`), as Euler's step does, but towards the prediction for the step's middle time,
    extrapolated linearly from this step's prediction and ``previous`` (the first step has none and is Euler's).
    The predicted cloud changes slowly where the velocity, near ``t = 1``, changes fast; the last step lands on
    it. This is DPM-Solver++(2M) (Lu et al., 2022) with time ``t`` in place of the log signal-to-noise ratio, which
    is infinite at ``t = 1``: second order in the steps before the last, and with twice the steps of the midpoint
    rule at the same cost, closer to the exact flow than it (tests/test_solver.py).
    """
    predicted, slope = prediction_line(x, v, t0, previous)
    target = predicted if slope is None else predicted + 0.5 * (t1 - t0) * slope
    return x + (t1 - t0) / (1 - t0) * (target - x), (t0, predicted)


def exponential_update(
    x: torch.Tensor, v: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor, previous: Previous | None = None
) -> StepResult:
    """One step of the exponential sampler from ``t0`` to ``t1``: ``x (batch, num_points, 2)`` with the field's
    velocity ``v`` there -> ``(x at t1, (t0, predicted cloud))``; pass the second item back as ``previous``.

    A rectified flow's velocity is ``v = (p - x) / (1 - t)``, with ``p`` the predicted cloud
    (:func:`predicted_cloud`), so ``d/dt [x / (1 - t)] = p / (1 - t)^2``. Like the multistep sampler, the step
    extrapolates ``p`` linearly from this step's prediction and ``previous`` (the first step has none and holds it
    constant); unlike it, the step integrates that line exactly instead of aiming at its value in the step's
    middle. With ``u = 1 - t`` and ``p(t) = end - slope * u``, where ``end`` is the line's value at ``t = 1``::

        x(t1) = (u1 / u0) x + (1 - u1 / u0) end - slope * u1 * log(u0 / u1)

    and the last step (``t1 = 1``) lands on ``end``. An exponential integrator (as DPM-Solver++ is, in the log
    signal-to-noise ratio) in time ``t``; exact where the prediction moves linearly in time (tests/test_solver.py).
    On the gated model A trained with AdamW, 16 steps drew cleaner clouds than the multistep sampler's 32 (0.918
    against 0.911 on 1024 noises); where the prediction curves strongly (``v = x``) the multistep sampler is the
    closer one.
    """
    predicted, slope = prediction_line(x, v, t0, previous)
    u0, u1 = 1 - t0, 1 - t1
    if slope is None:
        return x + (t1 - t0) / u0 * (predicted - x), (t0, predicted)
    end = predicted + slope * u0
    if u1 <= 0:
        return end, (t0, predicted)
    ratio = u1 / u0
    return ratio * x + (1 - ratio) * end - slope * (u1 * torch.log(u0 / u1)), (t0, predicted)


@dataclass(frozen=True)
class Sampler:
    """How a model is sampled: the integration ``method`` (one of :data:`SAMPLERS`), its number of ``steps``, and the
    ``precision`` the network's evaluations run in (one of :data:`toyflow.device.PRECISIONS`; the clouds themselves
    are integrated in float32)."""

    method: str = DEFAULT_SOLVER
    steps: int = DEFAULT_STEPS
    precision: str = DEFAULT_PRECISION

    def __post_init__(self) -> None:
        if self.method not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.method!r}; expected one of {SAMPLERS}")
        check_count("steps", self.steps)
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; expected one of {PRECISIONS}")

    @classmethod
    def from_meta(cls, model: nn.Module, meta: dict | None = None) -> Sampler:
        """The sampler ``model`` is meant to be used with: its checkpoint's ``meta["sampler"]`` when there is one (in
        float32 when it names no precision, as checkpoints before the precision was a setting were sampled), else the
        reference method's (100 Euler steps in float32) for the reference network and toyflow's default otherwise."""
        if meta and "sampler" in meta:
            saved = meta["sampler"]
            return cls(str(saved["method"]), int(saved["steps"]), str(saved.get("precision", "float32")))
        if is_reference(model):
            return cls("euler", SAMPLER_STEPS, "float32")
        return cls()

    def with_(self, method: str | None = None, steps: int | None = None, precision: str | None = None) -> Sampler:
        """A copy with ``method``, ``steps`` and/or ``precision`` replaced (``None`` keeps this sampler's; 0 steps
        is refused)."""
        return replace(
            self,
            method=self.method if method is None else method,
            steps=self.steps if steps is None else steps,
            precision=self.precision if precision is None else precision,
        )

    def to_dict(self) -> dict:
        """``{"method": ..., "steps": ..., "precision": ...}``, as stored in a checkpoint's metadata."""
        return asdict(self)

    def sample(
        self,
        model: Velocity,
        noise: torch.Tensor,
        return_trajectory: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> torch.Tensor:
        """Clouds of ``model`` from ``noise (batch, num_points, 2)`` (moved to the model's device): float32 ``(batch,
        num_points, 2)``, or every step ``(steps + 1, batch, num_points, 2)``. The network's evaluations run under
        ``torch.autocast`` in the sampler's precision (:func:`toyflow.device.autocast_dtype`). A module is sampled
        in eval mode and left in the mode it was in. ``stop``: see :func:`sample`."""
        if not isinstance(model, nn.Module):
            return self._integrate(model, noise, return_trajectory, stop)
        param = next(model.parameters(), None)
        if param is not None:
            noise = noise.to(param.device)
        was_training = model.training
        model.eval()
        try:
            return self._integrate(model, noise, return_trajectory, stop)
        finally:
            model.train(was_training)

    def _integrate(
        self, model: Velocity, noise: torch.Tensor, return_trajectory: bool, stop: Callable[[], bool] | None
    ) -> torch.Tensor:
        """:func:`sample` with the network's evaluations under autocast in this sampler's precision; a batch of
        toyflow's network on the CPU in pieces on the cores at once (:meth:`_core_parts`), the same clouds."""
        sizes = self._core_parts(model, noise)
        if len(sizes) < 2:
            return self._integrate_here(model, noise, return_trajectory, stop)
        split = sum(sizes)
        parts = noise[:split].split(sizes)
        jobs = [functools.partial(self._integrate_here, model, part, return_trajectory, stop) for part in parts]
        outputs = on_cores(jobs, hand_back_memory=True)
        if split < noise.shape[0]:  # the last, partial chunk as the whole batch would have it: on this thread
            outputs.append(self._integrate_here(model, noise[split:], return_trajectory, stop))
        return torch.cat(outputs, dim=1 if return_trajectory else 0)

    def _integrate_here(
        self, model: Velocity, noise: torch.Tensor, return_trajectory: bool, stop: Callable[[], bool] | None
    ) -> torch.Tensor:
        with precision_context(noise.device, self.precision):
            return sample(model, noise, self.steps, self.method, return_trajectory, stop)

    def _core_parts(self, model: Velocity, noise: torch.Tensor) -> list[int]:
        """The sizes of the pieces of ``noise (batch, num_points, 2)`` sampled on the cores at once
        (:func:`~toyflow.cores.on_cores`): for toyflow's network (or a hand-off of two) on the CPU, whose clouds are
        evaluated a chunk at a time (:func:`~toyflow.model.chunk_clouds`) and never mix, the whole chunks shared out
        between the cores, each piece made of the chunks the whole batch is read in; fewer than two pieces: at
        once. Each piece is computed by one thread alone instead of two threads on each operation, the same clouds
        (to the bit on the shipped networks; in general to the rounding of a kernel run on fewer threads)."""
        if not isinstance(model, CloudFlow | HandOff) or noise.device.type != "cpu":
            return []
        with torch.no_grad(), precision_context(noise.device, self.precision):  # as the pieces are sampled
            chunk = chunk_clouds(noise)
        return whole_parts(noise.shape[0], chunk, cores())
