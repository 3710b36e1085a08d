"""scipy's exact solvers that toyflow uses, imported when first needed: a k-d tree (nearest points, where the judge's
grids leave a query) and the linear assignment problem (pairing noise with data by optimal transport).

``import toyflow`` imports no scipy: its two packages take about 0.7 s to import on a 2-core CPU, which the command
line's ``--help``, a refused argument and ``toyflow sample`` never need. A first use imports its package under one
lock, so that two threads never import scipy's packages at the same time (a session pairs A's pool on a thread of
its own while the judge's grids are built on another; packages that import each other can deadlock when two threads
import them at once).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

_IMPORTING = threading.Lock()  # held while a scipy package is imported (an instant once it is)


def kd_tree(points: np.ndarray) -> cKDTree:
    """scipy's k-d tree of ``points (m, 2)``."""
    with _IMPORTING:
        from scipy.spatial import cKDTree
    return cKDTree(points)


def assignment(cost: np.ndarray) -> np.ndarray:
    """The optimal assignment of a square cost matrix ``cost (size, size)`` (scipy's exact solver): ``cols (size,)``,
    row ``i`` assigned to column ``cols[i]``."""
    with _IMPORTING:
        from scipy.optimize import linear_sum_assignment
    return linear_sum_assignment(cost)[1]
