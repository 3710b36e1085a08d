"""How clean a set of clouds is, in the figures a person checks by eye: stray points and points outside the box.

:func:`stray_figures` measures a set of clouds ``(n, num_points, 2)`` the way the judge's ``clean`` verdict does
(each point's distance to its class's fitted noise-free curve, :func:`toyflow.curves.curve_distances`) and adds
what a canvas wider than the data's box shows: clouds with a point outside [-1.1, 1.1], points beyond 1.05.
:func:`nearest_pool_distance` tells whether generated clouds are copies of a set they learned from.
"""

from __future__ import annotations

import math

import torch

from .curves import curve_distances
from .judge import Verdict, judge, pairwise_chamfer

FAR_FROM_ROLL = 0.1  # a point this far from the roll curve is plainly visible (real rolls: at most about 0.04)


def _quantile(values: torch.Tensor, q: float) -> float:
    return float(torch.quantile(values, q)) if values.numel() else math.nan


def stray_figures(clouds: torch.Tensor, verdict: Verdict | None = None) -> dict[str, float]:
    """Stray-point figures of ``clouds (n, num_points, 2)`` (``verdict``: the judge's, if already computed).

    Returns a dict of shares in [0, 1] and distances: ``rolls_far`` (rolls with a point farther than
    ``FAR_FROM_ROLL`` from the roll curve), ``roll_max_median`` (median over rolls of the farthest point's
    distance), ``roll_p99`` and ``s_p99`` (99th percentile of all points' distances to the curve, per class),
    ``outside_box`` (clouds with a point outside [-1.1, 1.1]), ``beyond_105`` (points beyond 1.05 in x or y),
    ``clean``, ``clean_s``, ``clean_roll`` (the judge's). NaN where a class is absent.
    """
    clouds = torch.as_tensor(clouds).detach().float().cpu()
    v = verdict or judge(clouds)
    d = curve_distances(clouds, v.is_s)
    rolls, s = d[~v.is_s], d[v.is_s]
    return {
        "n": int(clouds.shape[0]),
        "rolls_far": float((rolls.amax(dim=1) > FAR_FROM_ROLL).float().mean()) if len(rolls) else math.nan,
        "roll_max_median": _quantile(rolls.amax(dim=1), 0.5) if len(rolls) else math.nan,
        "roll_p99": _quantile(rolls.flatten(), 0.99),
        "s_p99": _quantile(s.flatten(), 0.99),
        "outside_box": float((clouds.abs() > 1.1).any(dim=2).any(dim=1).float().mean()),
        "beyond_105": float((clouds.abs() > 1.05).any(dim=2).float().mean()),
        "clean": v.clean_fraction,
        "clean_s": v.clean_fraction_of(True),
        "clean_roll": v.clean_fraction_of(False),
    }


def nearest_pool_distance(clouds: torch.Tensor, pool: torch.Tensor, points: int = 100) -> torch.Tensor:
    """Chamfer distance from each cloud of ``clouds (n, num_points, 2)`` to its nearest cloud of ``pool (m, p, 2)``,
    on the first ``points`` points of each (a cloud's points are in random order): ``(n,)``. A copy of a pool
    cloud is much nearer to it than a fresh sample of the same model."""
    if len(clouds) == 0 or len(pool) == 0:
        return torch.zeros(0)
    return pairwise_chamfer(clouds[:, :points].cpu(), pool[:, :points].cpu()).amin(dim=1)
