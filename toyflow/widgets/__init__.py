"""JupyterLab widgets of the preference tutorial: :class:`ProposalPicker` (the clickable tiles; it knows no
learning), :class:`PreferenceApp` (wires a picker to a preference session) and the teaching views drawn after each
round. docs/design.md walks through the modules.

``check_environment`` lives in :mod:`toyflow.environment` (re-exported here).
"""

from __future__ import annotations

from ..environment import check_environment, widget_problems
from .belief import BeliefView, belief_png
from .chart import ChartView, chart_png
from .controller import PreferenceApp, connect
from .decision import DecisionRow, decision_png
from .flipview import FlipMapView, flip_map_png
from .keys import Keyboard
from .motion import MotionView, motion_pngs
from .picker import NEXT, NONE_OF_THESE, RESET, SAVE, TEACH, UNDO, ProposalPicker
from .results import ResultRow, ResultsView
from .tiles import ProposalTile, ProposalTiles, find_by_class

__all__ = [
    "NEXT",
    "NONE_OF_THESE",
    "RESET",
    "SAVE",
    "TEACH",
    "UNDO",
    "BeliefView",
    "ChartView",
    "DecisionRow",
    "FlipMapView",
    "Keyboard",
    "MotionView",
    "PreferenceApp",
    "ProposalPicker",
    "ProposalTile",
    "ProposalTiles",
    "ResultRow",
    "ResultsView",
    "belief_png",
    "chart_png",
    "check_environment",
    "connect",
    "decision_png",
    "find_by_class",
    "flip_map_png",
    "motion_pngs",
    "widget_problems",
]
