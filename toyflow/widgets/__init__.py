"""JupyterLab widgets of the preference tutorial.

- :mod:`~toyflow.widgets.picker`: :class:`ProposalPicker`, the clickable proposal tiles (a ``VBox``; it renders
  and forwards answers, and knows no learning);
- :mod:`~toyflow.widgets.controller`: :class:`PreferenceApp`, which wires a picker to a preference session;
- :mod:`~toyflow.widgets.tiles` (proposal tiles), :mod:`~toyflow.widgets.results` (B's tiles),
  :mod:`~toyflow.widgets.chart` (the chart), :mod:`~toyflow.widgets.status` (buttons, status line),
  :mod:`~toyflow.widgets.display` (what a listener shows), :mod:`~toyflow.widgets.keys` (keys, via ipyevents),
  :mod:`~toyflow.widgets.decision` (the decision over time under the tiles): its parts;
- :mod:`~toyflow.widgets.belief` (what B believes about the person's taste), :mod:`~toyflow.widgets.motion` (A
  and B in motion) and :mod:`~toyflow.widgets.flipview` (the flip map), drawn by :mod:`~toyflow.widgets.painter`
  after each round.

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
