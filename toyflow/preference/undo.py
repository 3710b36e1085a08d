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
from typing import TYPE_CHECKING

import torch

from .records import Labelled, Proposal

if TYPE_CHECKING:
    from .session import PreferenceSession


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
    session: PreferenceSession,
    proposal: Proposal,
    ticks: Sequence[int] | None,
    probabilities: Sequence[float] | None,
) -> Snapshot:
    """A deep copy of what an answer to ``proposal`` may change in ``session``."""
    return Snapshot(
        b_state=copy.deepcopy(session.b.state_dict()),
        opt_state=copy.deepcopy(session.opt.state_dict()),
        buffer=list(session.buffer),
        method_state=copy.deepcopy(session.learner.state(session)),
        last_proposal=session.last_proposal,
        finetunes=session._finetunes,
        proposal=proposal,
        ticks=None if ticks is None else [int(i) for i in ticks],
        probabilities=None if probabilities is None else [float(p) for p in probabilities],
    )


def restore(session: PreferenceSession, snapshot: Snapshot) -> None:
    """Put ``session`` back as it was when ``snapshot`` was taken (B bit for bit, a fresh optimiser of the same type
    holding the same state, the same buffer and method state). The snapshot stays usable."""
    session.b.load_state_dict(snapshot.b_state)
    session.opt = session.new_optimizer()  # the same groups as when the snapshot was taken, then their state
    session.opt.load_state_dict(copy.deepcopy(snapshot.opt_state))
    session.buffer = list(snapshot.buffer)
    session.learner.load_state(session, copy.deepcopy(snapshot.method_state))
    session.last_proposal = snapshot.last_proposal
    session._finetunes = snapshot.finetunes
    session.b_version += 1  # a new version (a cache key: never reused, so nothing stale is taken for B)
