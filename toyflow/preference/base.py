"""The interface every preference method implements, the settings they share, and the registry of methods by name.

A method is a class with a ``name``, an :meth:`~Method.update` (B learns from the session's labelled proposals)
and an :meth:`~Method.objective` (its own preference loss, to measure), registered with :func:`register`.
Adding a method means adding one module to :mod:`toyflow.preference.methods` (every module there is imported).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from .session import PreferenceSession, Proposal

DEFAULT_METHOD = "reward-fm"  # chosen by benchmarks/preference.py


@dataclass
class MethodSettings:
    """Knobs of the preference methods (defaults are the measured best); each method reads the ones it needs."""

    lr: float = 5e-4  # (the reference method always uses REFERENCE.md's 1e-3)
    # reward-fm, for a model with class heads: B learns which shape to draw in the gate (gate_lr) and how to draw it
    # only in the velocity heads (head_lr); the trunk stays A's. Learning the whole network at lr cost B half of A's
    # clean clouds, and with the annotator that prefers Swiss rolls up to 80 % of its valid ones (issue 12). The
    # model A trained 4300 steps at lr 6e-3 has a surer gate: at 1e-2 B drew only 0.51 S curves after 3 rounds, at
    # 3e-2 0.98-1.00 (2 seeds, 256 noises; issue 10). The model A trained on logit-normal times is surer still: at
    # 3e-2 0.78-0.82 S curves after 3 rounds, at 1e-1 0.99-1.00, clean 0.94-0.98; with the annotator that prefers
    # Swiss rolls 0.99-1.00 rolls, clean 0.87-0.94 against A's rolls' 0.90 (3 seeds, 256 noises).
    gate_lr: float = 1e-1
    head_lr: float = 3e-4
    steps: int = 8
    batch_size: int = 16
    # reward-fm: pool clouds per step. 8 halves the update's time against 16 (0.13 s against 0.30 s on 2 cores);
    # B's S-fraction after 3 rounds is the same, its clean fraction 0.084 against 0.094 (issue 15)
    pool_batch: int = 8
    # reward-fm: noise clouds paired with each pool cloud once per session, a step draws one of them. With 1, B drew
    # 7 % of its clouds with a point outside [-1.1, 1.1]; with 4, 0.7 % (fresh noise at every step: 0 %)
    pool_noises: int = 4
    pool_size: int = 128
    strength: float = 7.0
    kernel_points: int = 64
    temperature: float = 0.05
    time_samples: int = 4
    fm_batch: int = 128
    t_max: float = 0.5  # reward-fm: train on times in [0, t_max] (the shape is chosen early; late times draw it)
    restart: bool = True  # reward-fm: every round starts again from A, with every tick so far


class Method(ABC):
    """One way for model B to learn from ticks. Stateless: everything it changes lives in the session."""

    name: ClassVar[str] = ""

    def learning_rate(self, settings: MethodSettings) -> float:
        """The learning rate of B's Adam optimiser under ``settings``."""
        return settings.lr

    def parameter_groups(self, b: nn.Module, settings: MethodSettings) -> list[dict]:
        """Which parameters of ``b`` this method trains, at which learning rate: Adam's parameter groups
        (``[{"params": [...], "lr": ...}, ...]``). All of them at :meth:`learning_rate` by default; the session
        freezes the others."""
        return [{"params": list(b.parameters()), "lr": self.learning_rate(settings)}]

    def prepare(self, session: PreferenceSession) -> None:  # noqa: B027  (an optional hook: nothing by default)
        """Called once when ``session`` is built (e.g. to draw what every round reuses)."""

    def state(self, session: PreferenceSession) -> object:
        """What this method keeps between rounds outside the session (none by default: methods are stateless), so
        that :meth:`~toyflow.preference.session.PreferenceSession.undo` can restore it exactly."""
        return None

    def load_state(self, session: PreferenceSession, state: object) -> None:  # noqa: B027  (optional hook)
        """Restore what :meth:`state` returned (nothing by default)."""

    @abstractmethod
    def update(self, session: PreferenceSession, generator: torch.Generator) -> dict[str, float | None]:
        """Update ``session.b`` from ``session.buffer`` (the newest labelled proposals last), drawing every random
        number from ``generator``. Returns the round's figures: ``preference_loss``, ``flow_loss``, ``barrier``
        (any of them may be left out)."""

    @abstractmethod
    def objective(self, session: PreferenceSession, proposal: Proposal, labels: torch.Tensor) -> float:
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
