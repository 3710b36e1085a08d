"""Sampling: integrate ``dx/dt = v(x, t)`` from noise at ``t = 0`` to a cloud at ``t = 1``.

:func:`sample` is the integrator; a :class:`Sampler` is the pair (method, steps) a model is meant to be sampled
with, built once from a checkpoint's metadata (:meth:`Sampler.from_meta`) and passed around instead of loose
settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from .path import Velocity
from .reference import SAMPLER_STEPS, is_reference
from .validation import check_count

SAMPLERS = ("euler", "heun", "midpoint")
DEFAULT_METHOD = "midpoint"
# 8 midpoint steps keep sampling 6 clouds within 0.1 s on a 2-core CPU (0.04-0.10 s, depending on the machine's
# moment). Model A's field is sharp enough since issue 10 that more steps give cleaner clouds (1024 noises: clean
# 0.712 with 8, 0.767 with 12, 0.812 with 16, 0.838 with 24) at proportionally more time: ``Sampler(steps=...)``,
# ``--steps``.
DEFAULT_STEPS = 8


def time_grid(steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The sampler's ``steps + 1`` times ``0, 1/steps, ..., 1``: ``(steps + 1,)``; ``steps >= 1``."""
    steps = check_count("steps", steps)
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


@dataclass(frozen=True)
class Sampler:
    """How a model is sampled: the integration ``method`` (one of :data:`SAMPLERS`) and its number of ``steps``."""

    method: str = DEFAULT_METHOD
    steps: int = DEFAULT_STEPS

    def __post_init__(self) -> None:
        if self.method not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.method!r}; expected one of {SAMPLERS}")
        check_count("steps", self.steps)

    @classmethod
    def from_meta(cls, model: nn.Module, meta: dict | None = None) -> Sampler:
        """The sampler ``model`` is meant to be used with: its checkpoint's ``meta["sampler"]`` when there is one,
        else the reference method's (100 Euler steps) for the reference network and toyflow's default otherwise."""
        if meta and "sampler" in meta:
            return cls(str(meta["sampler"]["method"]), int(meta["sampler"]["steps"]))
        if is_reference(model):
            return cls("euler", SAMPLER_STEPS)
        return cls()

    def with_(self, method: str | None = None, steps: int | None = None) -> Sampler:
        """A copy with ``method`` and/or ``steps`` replaced (``None`` keeps this sampler's; 0 steps is refused)."""
        return replace(
            self, method=self.method if method is None else method, steps=self.steps if steps is None else steps
        )

    def to_dict(self) -> dict:
        """``{"method": ..., "steps": ...}``, as stored in a checkpoint's metadata."""
        return asdict(self)

    def sample(self, model: Velocity, noise: torch.Tensor, return_trajectory: bool = False) -> torch.Tensor:
        """Clouds of ``model`` from ``noise (batch, num_points, 2)`` (moved to the model's device): ``(batch,
        num_points, 2)``, or every step ``(steps + 1, batch, num_points, 2)``. A module is sampled in eval mode
        and left in the mode it was in."""
        if not isinstance(model, nn.Module):
            return sample(model, noise, self.steps, self.method, return_trajectory)
        param = next(model.parameters(), None)
        if param is not None:
            noise = noise.to(param.device)
        was_training = model.training
        model.eval()
        try:
            return sample(model, noise, self.steps, self.method, return_trajectory)
        finally:
            model.train(was_training)
