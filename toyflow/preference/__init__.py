"""Preference learning: model B learns from a person's ticks on proposals of model A.

A :class:`PreferenceSession` proposes clouds of A, takes answers and lets its method (:mod:`.methods`, one module
each, registered by name) update B on its :class:`~toyflow.preference.workbench.Workbench`; :func:`play_round` is
the one headless round every front end calls. docs/design.md walks through the modules and the round.
"""

from __future__ import annotations

from . import methods  # noqa: F401  (registers every method)
from .base import DEFAULT_METHOD, METHODS, Method, get_method, register
from .belief import Belief
from .heldout import HeldOut, HeldOutReading
from .labels import Answer, PreferenceInputError, labels_from, parse_answer
from .log import LogError, SessionLog, tensors_checksum
from .objectives import barrier_direction, straight_path_errors
from .records import PROPOSALS, ChartPoint, Labelled, Pool, Proposal, RoundRecord, UpdateStats
from .replay import Replayed, replay
from .round import ChartMeter, RoundResult, oracle_answer, play_round, play_until, random_answer, round_seed
from .session import PreferenceSession
from .settings import MethodSettings
from .views import BankViews, SameNoiseViews, ViewMeter

__all__ = [
    "PROPOSALS",
    "DEFAULT_METHOD",
    "METHODS",
    "Answer",
    "Belief",
    "ChartMeter",
    "ChartPoint",
    "HeldOut",
    "HeldOutReading",
    "Labelled",
    "LogError",
    "Method",
    "MethodSettings",
    "PreferenceInputError",
    "Pool",
    "PreferenceSession",
    "Proposal",
    "RoundRecord",
    "RoundResult",
    "BankViews",
    "Replayed",
    "SameNoiseViews",
    "SessionLog",
    "UpdateStats",
    "ViewMeter",
    "barrier_direction",
    "get_method",
    "labels_from",
    "oracle_answer",
    "parse_answer",
    "play_round",
    "play_until",
    "random_answer",
    "register",
    "replay",
    "round_seed",
    "straight_path_errors",
    "tensors_checksum",
]
