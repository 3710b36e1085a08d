"""A session's log: everything needed to replay it bit for bit, as JSON.

The header names model A by the SHA-256 of its tensors (:func:`tensors_checksum`), the method and its settings,
the seed, the sampler, the training mixture's S fraction and the device. Then one event per thing the session
did, in order: ``propose`` (how many, from which noise seed), ``answer`` (which proposal, ticks or probabilities
or neither), ``undo``, ``reset`` and ``finetune`` (a control). Each event that may change model B carries B's
checksum after it, so a replay (:func:`toyflow.preference.replay.replay`) can say where it stops being exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_write, special_file
from ..schema import Problem
from .labels import PreferenceInputError
from .log_schema import EVENTS, LOG_FORMAT, LOG_VERSION, check_log
from .workbench import Workbench

__all__ = ["EVENTS", "LOG_FORMAT", "LOG_VERSION", "LogError", "SessionLog", "tensors_checksum"]


class LogError(PreferenceInputError):
    """A session log that cannot be used (unreadable, of another format, or written for another model A)."""


def tensors_checksum(model: nn.Module) -> str:
    """SHA-256 (hex) of every tensor of ``model``'s state dict: names, dtypes, shapes and bytes, in name order.

    The same weights give the same checksum on any device; one changed bit gives another.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass
class SessionLog:
    """The header of a session (see the module docstring) and its ``events``, each a JSON-ready dict."""

    model_a: str
    method: str
    settings: dict
    seed: int
    sampler: dict
    s_fraction: float
    device: str = "cpu"
    created: str = ""
    note: dict = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)

    @classmethod
    def for_session(cls, bench: Workbench, method: str) -> SessionLog:
        """An empty log with the header of a session of ``method`` on ``bench``."""
        return cls(
            model_a=tensors_checksum(bench.a),
            method=method,
            settings=asdict(bench.settings),
            seed=int(bench.seed),
            sampler=bench.sampler.to_dict(),
            s_fraction=float(bench.s_fraction),
            device=bench.device.type,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )

    def add(self, event: str, **fields: object) -> dict:
        """Append one event (one of :data:`EVENTS`) with its ``fields``; returns it."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; expected one of {EVENTS}")
        entry = {"event": event, **fields}
        self.events.append(entry)
        return entry

    def count(self, event: str) -> int:
        """How many events of kind ``event`` the log holds."""
        return sum(e["event"] == event for e in self.events)

    def to_json(self) -> dict:
        """The log as one JSON-ready dict (the format's name and version first)."""
        return {"format": LOG_FORMAT, "version": LOG_VERSION, **asdict(self)}

    def write(self, path: str | os.PathLike) -> Path:
        """Write the log to ``path`` atomically (:func:`~toyflow.atomic.atomic_write`)."""

        def dump(tmp: Path) -> None:
            tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")

        return atomic_write(path, dump)

    @classmethod
    def from_json(cls, data: object, source: str = "the log") -> SessionLog:
        """A log from its JSON dict, checked by its schema (:func:`~toyflow.preference.log_schema.check_log`: every
        field, every event, their order); :class:`LogError`, one line naming ``source``, the event and the field, if
        it is not one that replays."""
        try:
            checked = check_log(data)
        except Problem as p:
            raise LogError(f"{source}: {p}") from None
        header = checked.model_dump(exclude={"format", "version", "settings", "sampler", "events"})
        return cls(
            **header,
            settings=checked.settings.model_dump(),
            sampler=checked.sampler.model_dump(),
            events=[event.model_dump() for event in checked.events],
        )

    @classmethod
    def read(cls, path: str | os.PathLike) -> SessionLog:
        """Read a log written by :meth:`write`; :class:`LogError` (one line naming the file) if it cannot be used."""
        if special_file(path):
            raise LogError(f"cannot read the session log {path}: not a regular file")
        try:
            data = json.loads(Path(path).read_text())
        except OSError as e:
            raise LogError(f"cannot read the session log {path}: {e.strerror or e}") from None
        except (ValueError, RecursionError) as e:
            raise LogError(f"{path} is not JSON ({e})") from None
        return cls.from_json(data, str(path))

    def check_model(self, model_a: nn.Module, name: str = "this model A") -> None:
        """Raise :class:`LogError` (one line) unless ``model_a`` has exactly the tensors the log was written for."""
        found = tensors_checksum(model_a)
        if found != self.model_a:
            raise LogError(
                f"the session log was written for another model A (sha256 {self.model_a[:12]}…), "
                f"not {name} (sha256 {found[:12]}…)"
            )
