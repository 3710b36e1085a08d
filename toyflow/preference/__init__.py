"""Preference learning: model B learns from a person's ticks on proposals of model A.

- :mod:`~toyflow.preference.labels`: what a person says (:class:`Answer`), checked and turned into labels;
- :mod:`~toyflow.preference.base`: the :class:`Method` interface, :class:`MethodSettings` and the registry;
- :mod:`~toyflow.preference.methods`: one module per method, each registered by name:
  ``reference`` (the original's, faithfully: docs/original.md), ``dpo`` (Flow-DPO against frozen A) and
  ``reward-fm`` (the default: reward-weighted flow matching on A's own samples);
- :mod:`~toyflow.preference.objectives`: straight-path errors, the barrier;
- :mod:`~toyflow.preference.belief`: what B believes about the person's taste, and how sure it is;
- :mod:`~toyflow.preference.records`: :class:`Proposal`, :class:`RoundRecord`, :class:`Labelled`;
- :mod:`~toyflow.preference.toolkit`: the helpers the methods build their updates from;
- :mod:`~toyflow.preference.undo`: snapshots that take a round back exactly;
- :mod:`~toyflow.preference.log`: the session's log (:class:`SessionLog`, JSON, model A's checksum);
- :mod:`~toyflow.preference.session`: :class:`PreferenceSession` (A, B, optimiser, buffer, history, undo, log);
- :mod:`~toyflow.preference.round`: :func:`play_round`, the one headless round every front end calls;
- :mod:`~toyflow.preference.replay`: :func:`replay`, a logged session again, bit for bit;
- :mod:`~toyflow.preference.views`: :class:`ViewMeter`, what the teaching views show (decision over time,
  trajectories, flip map), measured headless.
"""

from __future__ import annotations

from . import methods  # noqa: F401  (registers every method)
from .base import DEFAULT_METHOD, METHODS, Method, MethodSettings, get_method, register
from .labels import Answer, PreferenceInputError, labels_from, parse_answer
from .log import LogError, SessionLog, tensors_checksum
from .objectives import barrier_direction, straight_path_errors
from .replay import Replayed, replay
from .round import ChartMeter, ChartPoint, RoundResult, oracle_answer, play_round, random_answer, round_seed
from .session import Labelled, PreferenceSession, Proposal, RoundRecord
from .views import BankViews, SameNoiseViews, ViewMeter

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "Answer",
    "ChartMeter",
    "ChartPoint",
    "Labelled",
    "LogError",
    "Method",
    "MethodSettings",
    "PreferenceInputError",
    "PreferenceSession",
    "Proposal",
    "RoundRecord",
    "RoundResult",
    "BankViews",
    "Replayed",
    "SameNoiseViews",
    "SessionLog",
    "ViewMeter",
    "barrier_direction",
    "get_method",
    "labels_from",
    "oracle_answer",
    "parse_answer",
    "play_round",
    "random_answer",
    "register",
    "replay",
    "round_seed",
    "straight_path_errors",
    "tensors_checksum",
]
