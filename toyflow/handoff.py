"""A velocity field in two parts: one network until a time, another from it on.

A flow chooses the shape of a cloud early on the path (``t`` near 0, noise) and draws it late (``t`` near 1, the
cloud). Model B learning a taste on a network that never saw a label need change only the first: :class:`HandOff`
is B's own network until :attr:`HandOff.time` and a frozen copy of model A's from it on, so that A's late field
draws the shape B chose, as cleanly as A draws it.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import FlowConfig
from .validation import handoff_time_problem


class HandOff(nn.Module):
    """``v(x, t)``: ``early(x, t)`` where ``t < time``, ``late(x, t)`` where ``t >= time``, for ``x (batch,
    num_points, 2)`` and ``t`` a float or ``(batch,)``; returns ``(batch, num_points, 2)``.

    Both parts are submodules (``early.*`` and ``late.*`` in the state dict); ``late`` is frozen when built. The
    two networks share one configuration, which :attr:`config` gives."""

    def __init__(self, early: nn.Module, late: nn.Module, time: float) -> None:
        super().__init__()
        if handoff_time_problem(time) is not None:
            raise ValueError(f"a hand-off time must be in (0, 1], got {time!r}")
        self.early = early
        self.late = late.requires_grad_(False)
        self.time = float(time)

    @property
    def config(self) -> FlowConfig:
        """The configuration of the two networks (the early one's)."""
        return self.early.config

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Velocity at ``x (batch, num_points, 2)`` and time ``t`` (a float, a 0-d tensor or ``(batch,)``):
        ``(batch, num_points, 2)``."""
        if not isinstance(t, torch.Tensor):
            return self.early(x, t) if t < self.time else self.late(x, t)
        early = t.to(x.device) < self.time
        if bool(early.all()):
            return self.early(x, t)
        if not bool(early.any()):
            return self.late(x, t)
        # clouds on both sides of the hand-off (a batch of training times): each cloud's velocity from its own side
        return torch.where(early[:, None, None], self.early(x, t), self.late(x, t))
