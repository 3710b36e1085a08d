"""The noise-free curves of both shapes, and how far each point of a cloud lies from its curve.

A cloud is normalised by its own smallest and largest coordinate (:func:`toyflow.data.normalize_cloud`), and
its noise moves those extremes, so the noise-free curve lies in a cloud's frame at a slightly different scale and
offset than in its own: ``s * curve + o`` (one scale ``s`` and one offset ``o`` shared by both axes, exactly the
freedom that normalisation leaves). :func:`curve_distances` fits ``s`` and ``o`` to each cloud (a few rounds of
nearest points and trimmed least squares, so a stray point cannot drag the fit) and returns every point's distance
to the fitted curve. Real S curves then lie within about 0.2 of their curve and real Swiss rolls within 0.04,
whatever their number of points; a point a person sees as a stray lies much farther out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy.spatial import cKDTree

from .data import KINDS

CURVE_POINTS = 4000  # spacing of about 0.002 along either normalised curve
FIT_POINTS = 128  # points of each cloud that fit its scale and offset (all points are measured)
FIT_ROUNDS = 3
FIT_KEEP = 0.9  # share of the fitting points kept (the nearest) in each least-squares round
FAR = 1e3  # where a non-finite point is put: farther from either curve than any real point


@lru_cache(maxsize=len(KINDS))
def noise_free_curve(kind: str) -> np.ndarray:
    """``CURVE_POINTS`` points evenly spaced in the generator's parameter along the noise-free ``kind``, normalised
    like the data (:func:`toyflow.data.normalize_cloud`): float64 ``(CURVE_POINTS, 2)``."""
    u = np.linspace(0.0, 1.0, CURVE_POINTS)
    if kind == "s_curve":  # scikit-learn's make_s_curve, coordinates 0 and 2
        t = 3 * np.pi * (u - 0.5)
        xz = np.stack([np.sin(t), np.sign(t) * (np.cos(t) - 1)], axis=1)
    elif kind == "swiss_roll":  # make_swiss_roll, coordinates 0 and 2
        t = 1.5 * np.pi * (1 + 2 * u)
        xz = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    else:
        raise ValueError(f"unknown cloud kind {kind!r}; expected one of {KINDS}")
    lo, hi = xz.min(), xz.max()
    return (xz - lo) / (hi - lo) * 2 - 1


@lru_cache(maxsize=len(KINDS))
def _tree(kind: str) -> cKDTree:
    return cKDTree(noise_free_curve(kind))


@lru_cache(maxsize=len(KINDS))
def _normals(kind: str) -> np.ndarray:
    """Unit normals of the noise-free curve at its points: ``(CURVE_POINTS, 2)``."""
    tangent = np.gradient(noise_free_curve(kind), axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    return normal / np.linalg.norm(normal, axis=1, keepdims=True)


def _fit_and_project(points: np.ndarray, kind: str) -> np.ndarray:
    """The nearest point of ``s * curve + o`` to each of ``points (batch, num_points, 2)`` (finite), with ``s`` and
    ``o`` fitted per cloud: ``(batch, num_points, 2)``."""
    curve, tree, normals = noise_free_curve(kind), _tree(kind), _normals(kind)
    b, n, _ = points.shape
    scale, offset = np.ones((b, 1, 1)), np.zeros((b, 1, 1))
    fit = points[:, :FIT_POINTS]
    for _ in range(FIT_ROUNDS):
        # the nearest point of s * curve + o to p is s * (nearest point of the curve to (p - o) / s) + o
        dist, idx = tree.query(((fit - offset) / scale).reshape(-1, 2), workers=-1)
        c = curve[idx].reshape(fit.shape)
        nrm = normals[idx].reshape(fit.shape)
        dist = dist.reshape(fit.shape[:2])
        w = (dist <= np.quantile(dist, FIT_KEEP, axis=1, keepdims=True)).astype(np.float64)
        # point-to-line least squares (it converges in a few rounds where point-to-point crawls):
        # minimise sum w ((p - s c - o (1, 1)) . n)^2 over (s, o), a 2 x 2 system per cloud
        a, e, y = (c * nrm).sum(-1), nrm.sum(-1), (fit * nrm).sum(-1)
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
    _, idx = tree.query(((points - offset) / scale).reshape(-1, 2), workers=-1)
    return curve[idx].reshape(b, n, 2) * scale + offset


def nearest_on_curve(clouds: torch.Tensor | np.ndarray, is_s: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The nearest point of each cloud's noise-free curve, fitted to the cloud (see the module docstring), to each
    of its points.

    ``clouds (batch, num_points, 2)``, ``is_s (batch,)`` (which curve each cloud is measured against: the S curve
    where true, else the Swiss roll). Returns float64 ``(batch, num_points, 2)`` on the CPU; a non-finite point is
    treated as lying at ``(FAR, FAR)``.
    """
    pts = torch.as_tensor(clouds).detach().to("cpu", torch.float64).numpy()
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"expected clouds of shape (batch, num_points, 2), got {tuple(pts.shape)}")
    is_s = torch.as_tensor(is_s).to("cpu", torch.bool).numpy()
    pts = np.where(np.isfinite(pts), pts, FAR)
    out = np.zeros(pts.shape)
    for kind, mask in (("s_curve", is_s), ("swiss_roll", ~is_s)):
        if mask.any() and pts.shape[1]:
            out[mask] = _fit_and_project(pts[mask], kind)
    return torch.from_numpy(out)


def curve_distances(clouds: torch.Tensor | np.ndarray, is_s: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Each point's distance to its cloud's noise-free curve, fitted to the cloud: float32 ``(batch, num_points)``
    on the CPU, for ``clouds (batch, num_points, 2)`` measured against the S curve where ``is_s (batch,)`` is true,
    else the Swiss roll. A non-finite point gets a distance of about ``FAR``."""
    pts = torch.as_tensor(clouds).detach().to("cpu", torch.float64)
    pts = torch.where(torch.isfinite(pts), pts, torch.full_like(pts, FAR))
    return (pts - nearest_on_curve(pts, is_s)).norm(dim=-1).float()
