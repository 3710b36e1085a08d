"""The interface every preference method implements, and the registry of methods by name.

A method is a class with a ``name``, an :meth:`~Method.update` (B learns from the labelled proposals on the
:class:`~toyflow.preference.workbench.Workbench`) and an :meth:`~Method.objective` (its own preference loss, to
measure), registered with :func:`register`. Adding a method means adding one module to
:mod:`toyflow.preference.methods` (every module there is imported).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn

from .records import Proposal, UpdateStats
from .settings import MethodSettings
from .workbench import Workbench

DEFAULT_METHOD = "reward-fm"  # the preference method a session runs unless told; chosen by benchmarks/preference.py


class Method(ABC):
    """One way for model B to learn from ticks. Stateless: everything it changes lives on the workbench."""

    name: ClassVar[str] = ""

    def learning_rate(self, settings: MethodSettings) -> float:
        """The learning rate of B's Adam optimiser under ``settings``."""
        return settings.lr

    def build_b(self, a: nn.Module, settings: MethodSettings) -> nn.Module:
        """Model B as it starts (and restarts) from model ``a``: a copy of ``a`` by default."""
        return copy.deepcopy(a)

    def parameter_groups(self, b: nn.Module, settings: MethodSettings) -> list[dict]:
        """Which parameters of ``b`` this method trains, at which learning rate: Adam's parameter groups
        (``[{"params": [...], "lr": ...}, ...]``). All of them at :meth:`learning_rate` by default; the workbench
        freezes the others."""
        return [{"params": list(b.parameters()), "lr": self.learning_rate(settings)}]

    def prepare(self, bench: Workbench) -> None:  # noqa: B027  (an optional hook: nothing by default)
        """Called once when a session is built (e.g. to draw what every round reuses)."""

    def ahead(self, bench: Workbench, proposal: Proposal) -> None:  # noqa: B027  (optional hook)
        """Called while ``proposal`` is shown, before it is answered, maybe on another thread: compute what answering
        it will read whatever the answer (nothing by default)."""

    def state(self, bench: Workbench) -> object:
        """What this method keeps between rounds outside the workbench (none by default: methods are stateless), so
        that :meth:`~toyflow.preference.session.PreferenceSession.undo` can restore it exactly."""
        return None

    def load_state(self, bench: Workbench, state: object) -> None:  # noqa: B027  (optional hook)
        """Restore what :meth:`state` returned (nothing by default)."""

    @abstractmethod
    def update(self, bench: Workbench, generator: torch.Generator) -> UpdateStats:
        """Update ``bench.b`` from ``bench.buffer`` (the newest labelled proposals last), drawing every random number
        from ``generator``. Returns the figures this method reports."""

    @abstractmethod
    def objective(self, bench: Workbench, proposal: Proposal, labels: torch.Tensor) -> float:
        """This method's own preference loss of B for ``proposal`` with ``labels (n,)``: deterministic, so it is
        comparable before and after an update. Called without gradients."""


METHODS: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make ``cls`` available as ``PreferenceSession(..., method=cls.name)``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if METHODS.get(cls.name, cls) is not cls:
        raise ValueError(f"a preference method named {cls.name!r} is already registered")
    METHODS[cls.name] = cls
    return cls


def get_method(name: str | None = None) -> Method:
    """The method registered as ``name`` (``None``: :data:`DEFAULT_METHOD`); ``ValueError`` for an unknown name."""
    name = name or DEFAULT_METHOD
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of {tuple(METHODS)}")
    return METHODS[name]()
