"""The noise-free curves of both shapes, and how far each point of a cloud lies from its curve.

A cloud is normalised by its own smallest and largest coordinate (:func:`toyflow.data.normalize_cloud`), and
its noise moves those extremes, so the noise-free curve lies in a cloud's frame at a slightly different scale and
offset than in its own: ``s * curve + o`` (one scale ``s`` and one offset ``o`` shared by both axes, exactly the
freedom that normalisation leaves). :func:`curve_distances` fits ``s`` and ``o`` to each cloud (a few rounds of
nearest points and trimmed least squares, so a stray point cannot drag the fit) and returns every point's distance
to the fitted curve. Real S curves then lie within about 0.2 of their curve and real Swiss rolls within 0.04,
whatever their number of points; a point a person sees as a stray lies much farther out. :func:`farthest_from_curve`
gives the largest of a cloud's distances alone, measuring exactly only the points that may be the farthest.

The nearest points of the curves come from grids of candidates (:class:`toyflow.nearest.NearestGrid`: the
distances and indices of a k-d tree, many times faster), clouds some 65,000 points at a time
(:func:`toyflow.nearest.map_chunks`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .data import KINDS, curve_xz
from .nearest import QUERY_CHUNK, NearestGrid, map_chunks
from .once import BuiltOnce

CURVE_POINTS = 4000  # spacing of about 0.002 along either normalised curve
FIT_POINTS = 128  # points of each cloud that fit its scale and offset (all points are measured)
FIT_ROUNDS = 3
FIT_KEEP = 0.9  # share of the fitting points kept (the nearest) in each least-squares round
FAR = 1e3  # where a non-finite point is put: farther from either curve than any real point
GRID_CELL = 0.005  # side of the cells of the curves' nearest-point grids (about four curve points a side)


@BuiltOnce
def noise_free_curve(kind: str) -> np.ndarray:
    """``CURVE_POINTS`` points evenly spaced in the generator's parameter along the noise-free ``kind``, normalised
    like the data (:func:`toyflow.data.normalize_cloud`): float64 ``(CURVE_POINTS, 2)``."""
    xz = curve_xz(kind, np.linspace(0.0, 1.0, CURVE_POINTS))
    lo, hi = xz.min(), xz.max()
    return (xz - lo) / (hi - lo) * 2 - 1


@BuiltOnce
def _grid(kind: str) -> NearestGrid:
    return NearestGrid(noise_free_curve(kind), GRID_CELL)


@BuiltOnce
def _normals(kind: str) -> np.ndarray:
    """Unit normals of the noise-free curve at its points: ``(CURVE_POINTS, 2)``."""
    tangent = np.gradient(noise_free_curve(kind), axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    return normal / np.linalg.norm(normal, axis=1, keepdims=True)


def nearest_curve_index(points: np.ndarray, kind: str) -> np.ndarray:
    """The index of the nearest point of the noise-free ``kind`` (:func:`noise_free_curve`) to each of ``points (m,
    2)`` (finite): int64 ``(m,)``, as a k-d tree of the curve gives it (ties between equally near points aside)."""
    return _grid(kind).query(points)[1]


def prepare() -> None:
    """Build, once per process, what measuring clouds against the curves reads: each curve's nearest-point grid and
    normals (0.3 s on the 2-core CPU), so that the first measurement takes only its own time."""
    for kind in KINDS:
        _grid(kind), _normals(kind)


def _kept(dist: np.ndarray) -> np.ndarray:
    """``dist <= np.quantile(dist, FIT_KEEP, axis=1, keepdims=True)`` for ``dist (batch, k)``, by a partition.

    The quantile interpolates from the ``j``-th smallest value ``a`` (``j = floor((k - 1) * FIT_KEEP)``) towards the
    next, ``b``, by a fraction ``f``; for ``f`` well within ``(0, 0.5)`` the rounded result is at least ``a`` and
    below ``b`` unless ``a == b``, so it keeps exactly the values up to ``a``."""
    k = dist.shape[1]
    j = int(np.floor((k - 1) * FIT_KEEP))
    if 0.01 < (k - 1) * FIT_KEEP - j < 0.49:
        return dist <= np.partition(dist, j, axis=1)[:, j : j + 1]
    return dist <= np.quantile(dist, FIT_KEEP, axis=1, keepdims=True)


def _fit(points: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)``, ``(batch, 1, 1)`` each, of ``s * curve + o`` fitted to each of ``points (batch, num_points,
    2)`` (finite)."""
    curve, grid, normals = noise_free_curve(kind), _grid(kind), _normals(kind)
    b = points.shape[0]
    scale, offset = np.ones((b, 1, 1)), np.zeros((b, 1, 1))
    fit = points[:, :FIT_POINTS]
    for _ in range(FIT_ROUNDS):
        # the nearest point of s * curve + o to p is s * (nearest point of the curve to (p - o) / s) + o
        dist, idx = grid.query(((fit - offset) / scale).reshape(-1, 2))
        c = curve.take(idx, axis=0).reshape(fit.shape)
        nrm = normals.take(idx, axis=0).reshape(fit.shape)
        dist = dist.reshape(fit.shape[:2])
        w = _kept(dist).astype(np.float64)
        # point-to-line least squares (it converges in a few rounds where point-to-point crawls):
        # minimise sum w ((p - s c - o (1, 1)) . n)^2 over (s, o), a 2 x 2 system per cloud
        # (sums of two terms written out: numpy's sum over a last axis of 2 is slow, and adds the same two terms)
        a = c[..., 0] * nrm[..., 0] + c[..., 1] * nrm[..., 1]
        e = nrm[..., 0] + nrm[..., 1]
        y = fit[..., 0] * nrm[..., 0] + fit[..., 1] * nrm[..., 1]
        cc = (w * a * a).sum(1)
        c1 = (w * a * e).sum(1)
        n1 = (w * e * e).sum(1)
        pc = (w * y * a).sum(1)
        p1 = (w * y * e).sum(1)
        det = cc * n1 - c1 * c1
        ok = np.abs(det) > 1e-12
        s = np.where(ok, (pc * n1 - c1 * p1) / np.where(ok, det, 1.0), 1.0)
        o = np.where(ok, (cc * p1 - c1 * pc) / np.where(ok, det, 1.0), 0.0)
        scale = np.clip(s, 0.5, 1.5)[:, None, None]  # a real cloud needs 0.9-1.05; garbage stays bounded
        offset = np.clip(o, -0.5, 0.5)[:, None, None]
    return scale, offset


def _fit_and_project(points: np.ndarray, kind: str) -> np.ndarray:
    """The nearest point of ``s * curve + o`` to each of ``points (batch, num_points, 2)`` (finite), with ``s`` and
    ``o`` fitted per cloud: ``(batch, num_points, 2)``."""
    scale, offset = _fit(points, kind)
    _, idx = _grid(kind).query(((points - offset) / scale).reshape(-1, 2))
    return noise_free_curve(kind)[idx].reshape(points.shape) * scale + offset


def _farthest(points: np.ndarray, kind: str) -> np.ndarray:
    """The largest distance from a point of each of ``points (batch, num_points, 2)`` (finite, ``num_points >= 1``)
    to its fitted curve, float64 ``(batch,)``: the maximum of :func:`curve_distances`' row, before rounding.

    A point's distance is ``s`` times that of ``(p - o) / s`` to the curve, which the grid bounds from its cell; only
    the points whose upper bound reaches the largest lower bound of their cloud are measured (as
    :func:`curve_distances` measures them)."""
    scale, offset = _fit(points, kind)
    lower, upper = _grid(kind).bounds(((points - offset) / scale).reshape(-1, 2))
    s = scale[:, :, 0]
    lower = lower.reshape(points.shape[:2]) * s * (1 - 1e-9) - 1e-12
    upper = upper.reshape(points.shape[:2]) * s * (1 + 1e-9) + 1e-12
    rows, cols = np.nonzero(upper >= lower.max(axis=1, keepdims=True))
    p = points[rows, cols]
    _, idx = _grid(kind).query((p - offset[rows, 0]) / scale[rows, 0])
    near = noise_free_curve(kind)[idx] * scale[rows, 0] + offset[rows, 0]
    out = np.full(len(points), -np.inf)
    np.maximum.at(out, rows, torch.from_numpy(p - near).norm(dim=-1).numpy())
    return out


def cloud_array(clouds: torch.Tensor | np.ndarray) -> np.ndarray:
    """``clouds`` as a float64 numpy array on the CPU (float32 converted by numpy, several times faster than torch)."""
    values = torch.as_tensor(clouds).detach().cpu()
    if values.dtype not in (torch.float32, torch.float64):
        values = values.to(torch.float64)
    return np.asarray(values.numpy(), dtype=np.float64)


def _by_kind(
    pts: np.ndarray, is_s: np.ndarray, fn: Callable[[np.ndarray, str], np.ndarray], out: np.ndarray
) -> np.ndarray:
    """``out[mask] = fn(pts[mask], kind)`` for each kind's clouds, some 65,000 points at a time
    (:func:`~toyflow.nearest.map_chunks`)."""
    chunk = max(1, QUERY_CHUNK // max(1, pts.shape[1]))
    for kind, mask in (("s_curve", is_s), ("swiss_roll", ~is_s)):
        if mask.any():
            _grid(kind), _normals(kind)  # built once, before the threads
            part = pts[mask]
            out[mask] = np.concatenate(map_chunks(lambda a, b, p=part, k=kind: fn(p[a:b], k), len(part), chunk))
    return out


def nearest_on_curve(clouds: torch.Tensor | np.ndarray, is_s: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The nearest point of each cloud's noise-free curve, fitted to the cloud (see the module docstring), to each
    of its points.

    ``clouds (batch, num_points, 2)``, ``is_s (batch,)`` (which curve each cloud is measured against: the S curve
    where true, else the Swiss roll). Returns float64 ``(batch, num_points, 2)`` on the CPU; a non-finite point is
    treated as lying at ``(FAR, FAR)``.
    """
    pts = cloud_array(clouds)
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"expected clouds of shape (batch, num_points, 2), got {tuple(pts.shape)}")
    is_s = torch.as_tensor(is_s).to("cpu", torch.bool).numpy()
    pts = np.where(np.isfinite(pts), pts, FAR)
    out = np.zeros(pts.shape)
    return torch.from_numpy(_by_kind(pts, is_s, _fit_and_project, out) if pts.shape[1] else out)


def curve_distances(clouds: torch.Tensor | np.ndarray, is_s: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Each point's distance to its cloud's noise-free curve, fitted to the cloud: float32 ``(batch, num_points)``
    on the CPU, for ``clouds (batch, num_points, 2)`` measured against the S curve where ``is_s (batch,)`` is true,
    else the Swiss roll. A non-finite point gets a distance of about ``FAR``."""
    pts = cloud_array(clouds)
    pts = torch.from_numpy(np.where(np.isfinite(pts), pts, FAR))
    return (pts - nearest_on_curve(pts, is_s)).norm(dim=-1).float()


def farthest_from_curve(clouds: torch.Tensor | np.ndarray, is_s: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Each cloud's largest distance from a point to its fitted noise-free curve: float32 ``(batch,)`` on the CPU,
    exactly ``curve_distances(clouds, is_s).amax(dim=1)`` for ``clouds (batch, num_points, 2)``, ``num_points >= 1``,
    and ``is_s (batch,)`` (several times faster: see :func:`_farthest`)."""
    pts = cloud_array(clouds)
    if pts.ndim != 3 or pts.shape[-1] != 2 or not pts.shape[1]:
        raise ValueError(f"expected clouds of shape (batch, num_points >= 1, 2), got {tuple(pts.shape)}")
    is_s = torch.as_tensor(is_s).to("cpu", torch.bool).numpy()
    pts = np.where(np.isfinite(pts), pts, FAR)
    return torch.from_numpy(_by_kind(pts, is_s, _farthest, np.zeros(len(pts)))).float()
