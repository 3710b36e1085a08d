"""Model B as an answer would make it, computed before the answer is given: a rehearsal of a round's update.

While the person ticks, the ticks as they stand say what the round would teach B. A method's update is determined by the
session's state and the round's stream (``(seed, "update", r)``), so the same update run on a copy of the workbench
(:meth:`~toyflow.preference.workbench.Workbench.apart`), on a worker thread, gives B to the bit as the round will if the
answer is given as it stands. What is read of that B ahead of the answer (the round's tiles,
:meth:`~toyflow.preference.session.PreferenceSession.read_ahead`, and its clouds of the held-out noises, the slowest of
the views, :meth:`~toyflow.preference.heldout.HeldOut.read_ahead`: both at once by
:func:`~toyflow.preference.round.rehearse_round`) is then taken for any B with the same weights, bit for bit; an answer
given otherwise finds nothing that fits and B is read as it is. Nothing of the session changes: its B, optimiser,
labelled proposals, history and log are the round's alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import torch
from torch import nn

from .labels import Answer
from .records import Proposal, UpdateStats
from .workbench import Workbench

Update = Callable[[Workbench, torch.Generator], UpdateStats]


class Stage(str, Enum):
    """How far a :class:`Rehearsal` got, in order (each equal to its words, for a caller on another thread)."""

    NOT_BEGUN = "not begun"
    UPDATE = "update"
    TILES = "tiles"
    HELD_OUT = "held-out clouds"
    DONE = "done"


@dataclass
class Rehearsal:
    """An update of B to run apart: ``bench`` (a workbench made apart, with ``proposal`` labelled as ``answer``
    says, last), the method's ``update``, and the number of the round that will answer (``round``) and its stream
    (``generator``). ``stage`` says how far whoever runs it got (:class:`Stage`), for a caller on another thread."""

    bench: Workbench
    update: Update
    answer: Answer
    proposal: Proposal
    round: int
    generator: torch.Generator
    stage: Stage = Stage.NOT_BEGUN

    @property
    def stop(self) -> Callable[[], bool] | None:
        """What gives the rehearsal up, asked between two steps (the workbench's)."""
        return self.bench.stop

    def run(self) -> nn.Module | None:
        """Update the copy of B and return it frozen (eval mode, no gradients): the B the round will make, or
        ``None`` where the update came out non-finite (the round then keeps B as it was). Raises
        :class:`~toyflow.preference.workbench.UpdateStopped` when the workbench's ``stop()`` gives it up between
        two optimiser steps. Run it once."""
        self.stage = Stage.UPDATE
        self.update(self.bench, self.generator)
        b = self.bench.b
        if not all(torch.isfinite(p).all() for p in b.parameters()):
            return None
        return b.eval().requires_grad_(False)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """Whether ``a`` and ``b`` are networks of one type with the same tensors, bit for bit (parameters and
    buffers)."""
    if type(a) is not type(b):
        return False
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(
        sa[k].dtype == sb[k].dtype and sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa
    )
