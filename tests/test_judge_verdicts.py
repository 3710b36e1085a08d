"""The judge's verdicts are frozen: a slow reference judge, kept here, reads the same clouds as toyflow's.

The reference is the judge as first written (every Chamfer term from k-d trees, one tree per cloud and template;
the stray test by fitting each cloud's noise-free curve with k-d tree queries of every point). toyflow's judge may
compute differently (faster), but must give the same class, valid and clean verdicts on every cloud, and the same
distances up to float32 rounding. The clouds: real clouds of both classes (fixed seeds), clouds of the shipped
model A (fixed noises), noise, and clouds made to land just inside and just outside each threshold (the valid
threshold of each class, the stray threshold of each class, and the border between the classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from toyflow.checkpoint import load_checkpoint
from toyflow.curves import FAR, FIT_KEEP, FIT_POINTS, FIT_ROUNDS, noise_free_curve
from toyflow.data import KINDS, draw_noise, sample_mixture
from toyflow.evaluation import generate
from toyflow.judge import CALIBRATION_CLOUDS, STRAY_FACTOR, STRAY_QUANTILE, VALID_QUANTILE, judge, templates
from toyflow.shipped import shipped_checkpoint

pytestmark = pytest.mark.slow  # the reference judge calibrates itself on 800 real clouds (seconds)


# ------------------------------------------------------------------------------------------ the reference judge
def reference_distances(clouds: torch.Tensor) -> np.ndarray:
    """Chamfer distance of each cloud ``(batch, n, 2)`` to both templates, float64 ``(batch, 2)``; inf if not
    finite."""
    pts = clouds.detach().to("cpu", torch.float64).numpy()
    b, n, _ = pts.shape
    out = np.full((b, 2), np.inf)
    finite = np.isfinite(pts).all(axis=(1, 2))
    good = pts[finite]
    tpl = templates().double().numpy()
    # (one tree per cloud queried with both templates' points: the same figures as a tree per cloud and template)
    from_both = np.array([cKDTree(c).query(tpl.reshape(-1, 2))[0].reshape(2, -1) for c in good]).reshape(-1, 2, 800)
    for k in range(2):
        to_template = cKDTree(tpl[k]).query(good.reshape(-1, 2))[0].reshape(len(good), n).mean(axis=1)
        from_template = np.array([row.mean() for row in from_both[:, k]])
        out[finite, k] = 0.5 * (to_template + from_template)
    return out


def _reference_fit_and_project(points: np.ndarray, kind: str) -> np.ndarray:
    curve = noise_free_curve(kind)
    tree = cKDTree(curve)
    tangent = np.gradient(curve, axis=0)
    normals = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    b, n, _ = points.shape
    scale, offset = np.ones((b, 1, 1)), np.zeros((b, 1, 1))
    fit = points[:, :FIT_POINTS]
    for _ in range(FIT_ROUNDS):
        dist, idx = tree.query(((fit - offset) / scale).reshape(-1, 2))
        c = curve[idx].reshape(fit.shape)
        nrm = normals[idx].reshape(fit.shape)
        dist = dist.reshape(fit.shape[:2])
        w = (dist <= np.quantile(dist, FIT_KEEP, axis=1, keepdims=True)).astype(np.float64)
        a, e, y = (c * nrm).sum(-1), nrm.sum(-1), (fit * nrm).sum(-1)
        cc, c1, n1 = (w * a * a).sum(1), (w * a * e).sum(1), (w * e * e).sum(1)
        pc, p1 = (w * y * a).sum(1), (w * y * e).sum(1)
        det = cc * n1 - c1 * c1
        ok = np.abs(det) > 1e-12
        s = np.where(ok, (pc * n1 - c1 * p1) / np.where(ok, det, 1.0), 1.0)
        o = np.where(ok, (cc * p1 - c1 * pc) / np.where(ok, det, 1.0), 0.0)
        scale = np.clip(s, 0.5, 1.5)[:, None, None]
        offset = np.clip(o, -0.5, 0.5)[:, None, None]
    _, idx = tree.query(((points - offset) / scale).reshape(-1, 2))
    return curve[idx].reshape(b, n, 2) * scale + offset


def reference_curve_distances(clouds: torch.Tensor, is_s: np.ndarray) -> np.ndarray:
    """Each point's distance to its cloud's fitted noise-free curve: float64 ``(batch, n)``."""
    pts = clouds.detach().to("cpu", torch.float64).numpy()
    pts = np.where(np.isfinite(pts), pts, FAR)
    near = np.zeros(pts.shape)
    for kind, mask in (("s_curve", is_s), ("swiss_roll", ~is_s)):
        if mask.any():
            near[mask] = _reference_fit_and_project(pts[mask], kind)
    return np.linalg.norm(pts - near, axis=-1)


@dataclass(frozen=True)
class Reading:
    is_s: np.ndarray
    distance: np.ndarray
    valid: np.ndarray
    max_distance: np.ndarray
    clean: np.ndarray


_LIMITS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def reference_limits(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The valid and stray thresholds (S curve, Swiss roll), float32, calibrated as the judge does."""
    if num_points not in _LIMITS:
        valid, stray = [], []
        for k, s_fraction in enumerate((1.0, 0.0)):
            real, _ = sample_mixture(CALIBRATION_CLOUDS, s_fraction, num_points, seed=2024 + k)
            own = torch.from_numpy(reference_distances(real)[:, k]).float()
            valid.append(float(torch.quantile(own, VALID_QUANTILE)))
            points = torch.from_numpy(reference_curve_distances(real, np.full(len(real), k == 0))).float()
            stray.append(STRAY_FACTOR * float(torch.quantile(points.flatten(), STRAY_QUANTILE)))
        _LIMITS[num_points] = (np.float32(valid), np.float32(stray))
    return _LIMITS[num_points]


def reference_judge(clouds: torch.Tensor) -> Reading:
    """The judge as first written, on clouds ``(batch, n, 2)``."""
    d = torch.from_numpy(reference_distances(clouds)).float().numpy()
    is_s = d[:, 0] <= d[:, 1]
    own = np.where(is_s, d[:, 0], d[:, 1])
    valid_limit, stray_limit = reference_limits(clouds.shape[1])
    valid = (own <= np.where(is_s, *valid_limit)) & np.isfinite(own)
    farthest = torch.from_numpy(reference_curve_distances(clouds, is_s)).float().numpy().max(axis=1)
    finite = np.isfinite(clouds.numpy()).all(axis=(1, 2))
    clean = valid & finite & (farthest <= np.where(is_s, *stray_limit))
    return Reading(is_s, own, valid, farthest, clean)


# ------------------------------------------------------------------------------------------ the clouds
def _bisect(make, value, limit: float, lo: float, hi: float, rounds: int = 24) -> tuple[float, float]:
    """``(a, b)`` close together with ``value(make(a)) <= limit < value(make(b))`` (per cloud, vectorised)."""
    lo_t, hi_t = np.full(make.n, lo), np.full(make.n, hi)
    for _ in range(rounds):
        mid = 0.5 * (lo_t + hi_t)
        above = value(make(mid)) > limit
        hi_t, lo_t = np.where(above, mid, hi_t), np.where(above, lo_t, mid)
    return lo_t, hi_t


class Blend:
    """Clouds ``start + a * (end - start)`` for one ``a`` per cloud."""

    def __init__(self, start: torch.Tensor, end: torch.Tensor) -> None:
        self.start, self.end, self.n = start.double(), end.double(), len(start)

    def __call__(self, a: np.ndarray) -> torch.Tensor:
        a_t = torch.from_numpy(np.asarray(a, dtype=np.float64))[:, None, None]
        return (self.start + a_t * (self.end - self.start)).float()


def near_thresholds(num_points: int = 400) -> torch.Tensor:
    """Clouds just inside and just outside each of the judge's thresholds (both sides of each)."""
    valid_limit, stray_limit = reference_limits(num_points)
    gen = torch.Generator().manual_seed(7)
    out = []
    for k in range(len(KINDS)):
        real = sample_mixture(4, 1.0 if k == 0 else 0.0, num_points, seed=70 + k)[0]
        # the valid threshold: noise added little by little until the Chamfer distance crosses it
        noisy = Blend(real, real + 0.15 * torch.randn(real.shape, generator=gen))
        lo, hi = _bisect(noisy, lambda c, k=k: reference_judge(c).distance, valid_limit[k], 0.0, 1.0)
        out += [noisy(lo), noisy(hi)]
        # the stray threshold: one point moved out little by little, to beyond the cloud's frame
        moved = real.clone()
        moved[:, 7] += torch.tensor([1.5, 0.0])
        stray = Blend(real, moved)
        lo, hi = _bisect(stray, lambda c: reference_judge(c).max_distance, stray_limit[k], 0.0, 1.0)
        out += [stray(lo), stray(hi)]
    # the border between the classes: an S curve turned into a Swiss roll point by point
    s, roll = sample_mixture(3, 1.0, num_points, seed=80)[0], sample_mixture(3, 0.0, num_points, seed=81)[0]
    border = Blend(s, roll)
    lo, hi = _bisect(border, lambda c: (~reference_judge(c).is_s).astype(float), 0.5, 0.0, 1.0)
    out += [border(lo), border(hi)]
    return torch.cat(out)


@pytest.fixture(scope="module")
def clouds() -> torch.Tensor:
    real_s = sample_mixture(40, 1.0, seed=60)[0]
    real_rolls = sample_mixture(40, 0.0, seed=61)[0]
    model_a, meta = load_checkpoint(shipped_checkpoint("model_a"))
    generated = generate(model_a, 64, seed=62, meta=meta)
    noise = draw_noise(4, seed=63)
    return torch.cat([real_s, real_rolls, generated, noise, near_thresholds()])


# ------------------------------------------------------------------------------------------ the tests
def test_the_cloud_set_reaches_every_verdict_and_every_threshold(clouds):
    """The frozen set is worth freezing: both classes, valid and not, clean and not, and clouds on either side of
    every threshold, within 1e-6 of it."""
    ref = reference_judge(clouds)
    valid_limit, stray_limit = reference_limits(clouds.shape[1])
    for flags in (ref.is_s, ref.valid, ref.clean):
        assert flags.any() and not flags.all()
    for cls in (True, False):
        mine = ref.is_s == cls
        assert ref.valid[mine].any() and ref.clean[mine].any()
        assert (ref.valid[mine] & ~ref.clean[mine]).any()
        k = 0 if cls else 1
        gap = ref.distance[mine] - valid_limit[k]
        assert (gap <= 0).any() and (gap > 0).any() and np.abs(gap).min() < 1e-6
        gap = ref.max_distance[mine] - stray_limit[k]
        assert (gap <= 0).any() and (gap > 0).any() and np.abs(gap).min() < 1e-6


def test_verdicts_are_those_of_the_reference_judge(clouds):
    ref, new = reference_judge(clouds), judge(clouds)
    np.testing.assert_array_equal(new.is_s.numpy(), ref.is_s)
    np.testing.assert_array_equal(new.valid.numpy(), ref.valid)
    np.testing.assert_array_equal(new.clean.numpy(), ref.clean)
    finite = np.isfinite(ref.distance)
    np.testing.assert_array_equal(np.isfinite(new.distance.numpy()), finite)
    np.testing.assert_allclose(new.distance.numpy()[finite], ref.distance[finite], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(new.max_distance.numpy(), ref.max_distance, rtol=1e-6, atol=1e-7)


def test_the_class_alone_is_the_reference_judges_class(clouds):
    """classify (the decision over time's reading) gives the reference judge's class on the whole set, the clouds
    near the thresholds and noise included, without measuring the strays."""
    from toyflow.judge import classify

    np.testing.assert_array_equal(classify(clouds).numpy(), reference_judge(clouds).is_s)


def test_thresholds_are_those_of_the_reference_judge():
    from toyflow.judge import calibrate

    for num_points in (400,):
        valid_limit, stray_limit = reference_limits(num_points)
        limits = calibrate(num_points)
        np.testing.assert_array_equal(np.float32(limits.valid), valid_limit)
        np.testing.assert_array_equal(np.float32(limits.stray), stray_limit)
