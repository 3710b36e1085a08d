"""Replaying a session from its log, bit for bit: the same model A, the same answers, the same model B.

:func:`replay` refuses a log written for another model A (one clear line, :class:`~toyflow.preference.log.LogError`),
builds a session with the log's method, settings, seed and sampler, and does again every event in order. Every
random number a session draws comes from a stream fixed by its seed and a number (:mod:`toyflow.seeds`), so on
the same machine (same device, same torch) model B comes out with exactly the same tensors; after each event the
replayed B's checksum is compared with the logged one, and the first difference (another machine, another torch
build) is reported, not hidden.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from .base import MethodSettings
from .log import SessionLog
from .records import Proposal
from .session import PreferenceSession


@dataclass
class Replayed:
    """A replayed session; ``diverged_at`` is the index of the first event after which B's checksum differs from
    the log's (``None``: every one matched, B is bit for bit the logged B)."""

    session: PreferenceSession
    events: int
    diverged_at: int | None = None

    @property
    def exact(self) -> bool:
        """Whether B matched the log after every event."""
        return self.diverged_at is None

    def describe(self) -> str:
        """One line saying what was replayed and whether it is exact."""
        rounds = f"{self.events} events, {self.session.labelled_rounds} labelled rounds in effect"
        if self.exact:
            return f"replayed {rounds}: model B matches the log bit for bit"
        return (
            f"replayed {rounds}, but model B differs from the log from event {self.diverged_at} on "
            "(another device or torch build?)"
        )


def load_log(log: SessionLog | str | os.PathLike) -> SessionLog:
    """The log read from that path, or ``log`` itself, either checked by its schema
    (:class:`~toyflow.preference.log.LogError`, one line, if it is not one that replays)."""
    if isinstance(log, SessionLog):
        return SessionLog.from_json(log.to_json(), "the session log")
    return SessionLog.read(log)


def session_for(
    model_a: nn.Module, log: SessionLog, meta: dict | None = None, device: str | torch.device | None = None
) -> PreferenceSession:
    """A fresh session like the one that wrote ``log`` (checked by its schema when it was read): its method, settings,
    seed, sampler and mixture."""
    return PreferenceSession(
        model_a,
        method=log.method,
        seed=log.seed,
        s_fraction=log.s_fraction,
        settings=MethodSettings(**log.settings),
        device=device,
        meta={**(meta or {}), "sampler": log.sampler},
    )


def replay(
    model_a: nn.Module,
    log: SessionLog | str | os.PathLike,
    meta: dict | None = None,
    device: str | torch.device | None = None,
    name: str = "this model A",
) -> Replayed:
    """Replay ``log`` (a :class:`~toyflow.preference.log.SessionLog` or a path) on ``model_a``; returns the session
    and whether it is exact. A log for another model A raises :class:`~toyflow.preference.log.LogError` naming
    ``name``, before anything is done."""
    log = load_log(log)
    log.check_model(model_a, name)
    session = session_for(model_a, log, meta, device)
    proposals: dict[int, Proposal] = {}
    diverged = None
    for i, event in enumerate(log.events):
        replay_event(session, proposals, event)
        replayed = session.log.events[-1] if session.log.events else {}
        if diverged is None and "b" in event and replayed.get("b") != event["b"]:
            diverged = i
    return Replayed(session, len(log.events), diverged)


def replay_event(session: PreferenceSession, proposals: dict[int, Proposal], event: dict) -> None:
    """Do one event of a log (checked by its schema: every field there, every answer to a proposal made before it)
    again on ``session`` (``proposals`` by number, updated here)."""
    kind = event["event"]
    if kind == "propose":
        proposal = session.propose(int(event["n"]), seed=int(event["seed"]))
        proposals[proposal.number] = proposal
    elif kind == "answer":
        session.give(event.get("ticks"), event.get("probabilities"), proposal=proposals[event["proposal"]])
    elif kind == "undo":
        session.undo()
    elif kind == "reset":
        session.reset()
        proposals.clear()
    elif kind == "finetune":
        session.finetune_fresh(int(event["steps"]))
