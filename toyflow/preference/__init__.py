"""Preference learning: model B learns from a person's ticks on proposals of model A.

- :mod:`~toyflow.preference.labels`: what a person says (:class:`Answer`), checked and turned into labels;
- :mod:`~toyflow.preference.base`: the :class:`Method` interface, :class:`MethodSettings` and the registry;
- :mod:`~toyflow.preference.methods`: one module per method, each registered by name:
  ``reference`` (REFERENCE.md, faithfully), ``dpo`` (Flow-DPO against frozen A) and ``reward-fm`` (the
  default: reward-weighted flow matching on A's own samples);
- :mod:`~toyflow.preference.objectives`: straight-path errors, the barrier, the kernel preference model;
- :mod:`~toyflow.preference.session`: :class:`PreferenceSession` (A, B, optimiser, buffer, history);
- :mod:`~toyflow.preference.round`: :func:`play_round`, the one headless round every front end calls.
"""

from __future__ import annotations

from . import methods  # noqa: F401  (registers every method)
from .base import DEFAULT_METHOD, METHODS, Method, MethodSettings, get_method, register
from .labels import Answer, PreferenceInputError, labels_from, parse_answer
from .objectives import barrier_direction, straight_path_errors
from .round import ChartMeter, ChartPoint, RoundResult, oracle_answer, play_round, round_seed
from .session import Labelled, PreferenceSession, Proposal, RoundRecord

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "Answer",
    "ChartMeter",
    "ChartPoint",
    "Labelled",
    "Method",
    "MethodSettings",
    "PreferenceInputError",
    "PreferenceSession",
    "Proposal",
    "RoundRecord",
    "RoundResult",
    "barrier_direction",
    "get_method",
    "labels_from",
    "oracle_answer",
    "parse_answer",
    "play_round",
    "register",
    "round_seed",
    "straight_path_errors",
]
