"""Taking a round back exactly: a snapshot of everything a round may change in a session, and its restoration.

Before each answer, a session keeps a :class:`Snapshot`: model B's tensors, its optimiser (type, settings and
state), the labelled proposals, the method's own state (:meth:`~toyflow.preference.base.Method.state`), the
proposal shown, the counters, and the answer itself. Restoring it puts B back bit for bit, whatever the method did
in the round (``reward-fm`` even replaces the optimiser when it restarts B from A).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from .records import Labelled, Proposal
from .workbench import Workbench

T = TypeVar("T")


@dataclass
class Snapshot:
    """A session as it was before one answer; ``proposal`` is the proposal answered and ``ticks`` /
    ``probabilities`` the answer as given (to show the tiles again as they were)."""

    b_state: dict[str, torch.Tensor]
    opt_state: dict
    buffer: list[Labelled]
    method_state: object
    last_proposal: Proposal | None
    finetunes: int
    proposal: Proposal
    ticks: list[int] | None
    probabilities: list[float] | None


def take(
    bench: Workbench,
    method_state: object,
    proposal: Proposal,
    ticks: Sequence[int] | None,
    probabilities: Sequence[float] | None,
    last_proposal: Proposal | None,
    finetunes: int,
) -> Snapshot:
    """A deep copy of what an answer to ``proposal`` may change: B, its optimiser and the labelled proposals on
    ``bench``, the method's ``method_state``, and the session's ``last_proposal`` and ``finetunes`` count."""
    return Snapshot(
        b_state=copied(bench.b.state_dict()),
        opt_state=copied(bench.opt.state_dict()),
        buffer=list(bench.buffer),
        method_state=copy.deepcopy(method_state),
        last_proposal=last_proposal,
        finetunes=finetunes,
        proposal=proposal,
        ticks=None if ticks is None else [int(i) for i in ticks],
        probabilities=None if probabilities is None else [float(p) for p in probabilities],
    )


def copied(value: T) -> T:
    """A deep copy of ``value``, nested dicts, lists and tuples of tensors and plain values (a state dict, an
    optimiser's state): tensors cloned, detached, a dict's type and attributes kept (a module's state dict carries its
    ``_metadata``); a fifth of ``copy.deepcopy``'s time for B's state, which a round copies before it answers."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()  # type: ignore[return-value]
    if isinstance(value, dict):
        out = copy.copy(value)  # the same type, its attributes shared (they are never changed)
        out.clear()
        out.update((k, copied(v)) for k, v in value.items())
        return out
    if isinstance(value, list | tuple):
        return type(value)(copied(v) for v in value)  # type: ignore[return-value]
    return copy.deepcopy(value)


def restore(bench: Workbench, snapshot: Snapshot) -> None:
    """Put ``bench`` back as it was when ``snapshot`` was taken: B bit for bit, a fresh optimiser of the same type
    holding the same state, the same labelled proposals. (The session restores its own counters and the method's
    state.) The snapshot stays usable."""
    bench.b.load_state_dict(snapshot.b_state)
    bench.load_optimizer(copied(snapshot.opt_state))  # the same groups as when the snapshot was taken
    bench.buffer = list(snapshot.buffer)
