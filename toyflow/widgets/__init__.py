"""JupyterLab widgets of the preference tutorial.

- :mod:`~toyflow.widgets.picker`: :class:`ProposalPicker`, the clickable proposal tiles (a ``VBox``; it renders
  and forwards answers, and knows no learning);
- :mod:`~toyflow.widgets.controller`: :class:`PreferenceApp`, which wires a picker to a preference session;
- :mod:`~toyflow.widgets.tiles` (proposal tiles), :mod:`~toyflow.widgets.results` (B's tiles),
  :mod:`~toyflow.widgets.chart` (the chart), :mod:`~toyflow.widgets.status` (buttons, status line): its parts.

``check_environment`` lives in :mod:`toyflow.environment` (re-exported here).
"""

from __future__ import annotations

from ..environment import check_environment, widget_problems
from .chart import ChartView, chart_png
from .controller import PreferenceApp, connect
from .picker import NEXT, NONE_OF_THESE, TEACH, ProposalPicker
from .results import ResultRow, ResultsView
from .tiles import ProposalTile, ProposalTiles, find_by_class

__all__ = [
    "NEXT",
    "NONE_OF_THESE",
    "TEACH",
    "ChartView",
    "PreferenceApp",
    "ProposalPicker",
    "ProposalTile",
    "ProposalTiles",
    "ResultRow",
    "ResultsView",
    "chart_png",
    "check_environment",
    "connect",
    "find_by_class",
    "widget_problems",
]
