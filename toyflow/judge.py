"""The judge: S curve or Swiss roll, valid or not, clean or not.

A cloud is compared with noise-free templates of both shapes by the symmetric Chamfer distance.
Its class is the nearer template; it is **valid** when that distance is no more than the 95th
percentile of real clouds of the same class. A mean distance forgives a few stray points; a person looking
at a tile does not, so a cloud is **clean** when it is valid *and* its farthest point from its class's
noise-free curve (:func:`toyflow.curves.curve_distances`) is within twice the 99th percentile of the
point-to-curve distance over real clouds of the class (about 0.24 for S curves, 0.04 for Swiss rolls). Both
thresholds are calibrated once per number of points, from real clouds of fixed seeds.

The Chamfer distances are exact, and computed without a k-d tree: from the points of a cloud to a template by a
grid of candidates (:class:`toyflow.nearest.NearestGrid`), from the points of a template to a cloud by windows
along the template's curve (:class:`toyflow.nearest.NearestInClouds`); the judge measures only the nearer template
(the other one is bounded from the grid's cells) and only the points of a cloud that may be its farthest from the
curve (:func:`toyflow.curves.farthest_from_curve`). Clouds go some 65,000 points at a time
(:func:`toyflow.nearest.map_chunks`, on :data:`toyflow.nearest.WORKERS` threads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .curves import cloud_array, curve_distances, farthest_from_curve, nearest_curve_index
from .curves import prepare as prepare_curves
from .data import KINDS, MIN_POINTS, NUM_POINTS, make_cloud, sample_mixture
from .nearest import QUERY_CHUNK, NearestGrid, NearestInClouds, map_chunks
from .once import BuiltOnce
from .validation import check_count, check_probability

TEMPLATE_POINTS = 800
TEMPLATE_SEED = 12345
CALIBRATION_CLOUDS = 400  # real clouds of each class behind the thresholds, per number of points
CALIBRATION_PIECE = 100  # of them measured at a time
VALID_QUANTILE = 0.95
STRAY_QUANTILE = 0.99
STRAY_FACTOR = 2.0
GRID_CELL = 0.006  # side of the cells of the templates' nearest-point grids


def chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer distance (mean nearest-neighbour distance, both ways, averaged).

    ``a (batch, n, 2)`` against ``b (batch, m, 2)`` or one shared ``b (m, 2)``; returns ``(batch,)``.
    """
    if b.dim() == 2:
        b = b.expand(a.shape[0], *b.shape)
    d = torch.cdist(a, b)
    return 0.5 * (d.min(dim=2).values.mean(dim=1) + d.min(dim=1).values.mean(dim=1))


PAIRWISE_ELEMENTS = 1 << 20  # point-to-point distances pairwise_chamfer holds at a time


@dataclass(frozen=True)
class NearestDistances:
    """What the Chamfer distances between the clouds of ``a (n, p, 2)`` and ``b (m, q, 2)`` are made of: each point
    of a cloud of ``a`` to the nearest point of each cloud of ``b``, ``a_to_b (n, p, m)``, and each point of a cloud of
    ``b`` to the nearest of each cloud of ``a``, averaged over the cloud of ``b``, ``b_to_a (n, m)``. Those of the
    clouds of ``b`` taken a few at a time, concatenated (:meth:`joined`), are those of all of them to the bit."""

    a_to_b: torch.Tensor
    b_to_a: torch.Tensor

    @staticmethod
    def of(a: torch.Tensor, b: torch.Tensor, max_elements: int = PAIRWISE_ELEMENTS) -> NearestDistances:
        """The nearest distances between every cloud of ``a (n, p, 2)`` and of ``b (m, q, 2)``, about
        ``max_elements`` point-to-point distances at a time."""
        n, p, _ = a.shape
        m, q, _ = b.shape
        blocks = [_nearest(d) for _, d in _distance_blocks(a, b, max_elements)]
        if not blocks:
            dtype = torch.result_type(a, b)
            return NearestDistances(torch.empty(n, p, m, dtype=dtype), torch.empty(n, m, dtype=dtype))
        return NearestDistances(torch.cat([x for x, _ in blocks]), torch.cat([y for _, y in blocks]))

    @staticmethod
    def joined(parts: list[NearestDistances]) -> NearestDistances:
        """The nearest distances to the clouds of every part's ``b`` in turn (the parts share ``a``)."""
        a_to_b = torch.cat([x.a_to_b for x in parts], dim=2)
        return NearestDistances(a_to_b, torch.cat([x.b_to_a for x in parts], dim=1))

    def chamfer(self, q: int, max_elements: int = PAIRWISE_ELEMENTS) -> torch.Tensor:
        """The Chamfer distances ``(n, m)``: :func:`pairwise_chamfer` of the clouds these distances were measured
        between, ``q`` points in each cloud of ``b``, to the bit (the means over ``a``'s points taken over the same
        rows at a time)."""
        n, p, m = self.a_to_b.shape
        rows = _pairwise_rows(p, m, q, max_elements)
        out = torch.empty(n, m, dtype=self.a_to_b.dtype)
        for i in range(0, n, rows):
            out[i : i + rows] = _symmetric(self.a_to_b[i : i + rows], self.b_to_a[i : i + rows])
        return out


def pairwise_chamfer(a: torch.Tensor, b: torch.Tensor, max_elements: int = PAIRWISE_ELEMENTS) -> torch.Tensor:
    """Chamfer distance between every cloud of ``a (n, p, 2)`` and of ``b (m, q, 2)``: ``(n, m)``.

    Every point of a few clouds of ``a`` against every point of ``b`` in one distance matrix, at most about
    ``max_elements`` distances at a time."""
    n, _, _ = a.shape
    m, _, _ = b.shape
    out = torch.empty(n, m, dtype=torch.result_type(a, b))
    i = 0
    for part, d in _distance_blocks(a, b, max_elements):
        out[i : i + part] = _symmetric(*_nearest(d))
        i += part
    return out


def _pairwise_rows(p: int, m: int, q: int, max_elements: int) -> int:
    """Clouds of ``a`` whose distances to every point of ``b`` are held at once."""
    return max(1, max_elements // max(1, p * m * q))


def _distance_blocks(a: torch.Tensor, b: torch.Tensor, max_elements: int) -> Iterator[tuple[int, torch.Tensor]]:
    """``(clouds, d)`` for a few clouds of ``a (n, p, 2)`` at a time: ``d (clouds, p, m, q)`` their points'
    distances to every point of ``b (m, q, 2)``."""
    n, p, _ = a.shape
    m, q, _ = b.shape
    flat_b = b.reshape(m * q, 2)
    rows = _pairwise_rows(p, m, q, max_elements)
    for i in range(0, n, rows):
        part = a[i : i + rows]
        yield part.shape[0], torch.cdist(part.reshape(-1, 2), flat_b).view(part.shape[0], p, m, q)


def _nearest(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The nearest distances in a block ``d (clouds, p, m, q)`` of :func:`_distance_blocks`: ``a_to_b (clouds, p,
    m)`` and ``b_to_a (clouds, m)`` (:class:`NearestDistances`)."""
    return d.amin(dim=3), d.amin(dim=1).mean(dim=2)


def _symmetric(a_to_b: torch.Tensor, b_to_a: torch.Tensor) -> torch.Tensor:
    """Chamfer distances ``(clouds, m)`` from nearest distances ``a_to_b (clouds, p, m)`` and ``b_to_a (clouds,
    m)``: the two means, averaged."""
    return 0.5 * (a_to_b.mean(dim=1) + b_to_a)


@BuiltOnce
def templates() -> torch.Tensor:
    """Noise-free S curve and Swiss roll, normalised like the data: ``(2, TEMPLATE_POINTS, 2)`` (S first).

    They are the clouds ``make_cloud(kind, TEMPLATE_POINTS, seed=TEMPLATE_SEED, noise=0.0)`` draws."""
    return torch.from_numpy(np.stack([make_cloud(kind, TEMPLATE_POINTS, TEMPLATE_SEED, noise=0.0) for kind in KINDS]))


@dataclass(frozen=True)
class Verdict:
    """The judge's reading of a batch of clouds (all tensors are ``(batch,)``).

    ``distance`` is the Chamfer distance to the nearer template, ``max_distance`` the farthest point's distance
    to that class's noise-free curve.
    """

    is_s: torch.Tensor
    distance: torch.Tensor
    valid: torch.Tensor
    max_distance: torch.Tensor
    clean: torch.Tensor

    @property
    def s_fraction(self) -> float:
        """Share of clouds judged S curves."""
        return self.is_s.float().mean().item()

    @property
    def valid_fraction(self) -> float:
        """Share of clouds within their class's threshold."""
        return self.valid.float().mean().item()

    @property
    def clean_fraction(self) -> float:
        """Share of clouds that are valid and have no stray point."""
        return self.clean.float().mean().item()

    def valid_fraction_of(self, s_curves: bool) -> float:
        """Valid share among the clouds judged S curves (``True``) or Swiss rolls (``False``); NaN if none."""
        return self._share_of(self.valid, s_curves)

    def clean_fraction_of(self, s_curves: bool) -> float:
        """Clean share among the clouds judged S curves (``True``) or Swiss rolls (``False``); NaN if none."""
        return self._share_of(self.clean, s_curves)

    def of_shape(self, shape: str) -> torch.Tensor:
        """Which clouds are judged ``shape`` (``"s_curve"`` or ``"swiss_roll"``), clean or not: ``(batch,)`` bool."""
        check_shape(shape)
        return self.is_s if shape == "s_curve" else ~self.is_s

    def _share_of(self, flags: torch.Tensor, s_curves: bool) -> float:
        mask = self.is_s == s_curves
        return flags[mask].float().mean().item() if mask.any() else float("nan")

    def first(self, k: int) -> Verdict:
        """The verdict on the first ``k`` clouds (``1 <= k <= batch``): every tensor ``(k,)``."""
        check_count("k", k)
        if k > self.is_s.shape[0]:
            raise ValueError(f"k must be at most the {self.is_s.shape[0]} clouds judged, got {k}")
        return Verdict(self.is_s[:k], self.distance[:k], self.valid[:k], self.max_distance[:k], self.clean[:k])

    def summary(self) -> dict[str, float]:
        """Count, S-fraction, and the valid and clean fractions overall and per class, as a dict."""
        return {
            "n": int(self.is_s.numel()),
            "s_fraction": self.s_fraction,
            "valid": self.valid_fraction,
            "valid_s": self.valid_fraction_of(True),
            "valid_roll": self.valid_fraction_of(False),
            "clean": self.clean_fraction,
            "clean_s": self.clean_fraction_of(True),
            "clean_roll": self.clean_fraction_of(False),
        }


@BuiltOnce
def _template_grids() -> tuple[NearestGrid, ...]:
    return tuple(NearestGrid(t, GRID_CELL) for t in templates().double().numpy())


@BuiltOnce
def _template_windows() -> tuple[NearestInClouds, ...]:
    """Each template's nearest cloud points, its points ranked along its noise-free curve."""
    out = []
    for t, kind in zip(templates().double().numpy(), KINDS, strict=True):
        out.append(NearestInClouds(t, np.argsort(nearest_curve_index(t, kind), kind="stable")))
    return tuple(out)


def _chamfer_to(good: np.ndarray, k: int) -> np.ndarray:
    """Chamfer distance of each finite cloud ``(b, n, 2)`` (float64, ``n >= 1``) to template ``k``: float64 ``(b,)``,
    half the sum of the mean distance from its points to the template and from the template's points to it."""
    dist, idx = _template_grids()[k].query(good.reshape(-1, 2))
    to = dist.reshape(good.shape[:2]).mean(axis=1)
    back = _template_windows()[k].distances(good, idx.reshape(good.shape[:2])).mean(axis=1)
    return 0.5 * (to + back)


def _finite_clouds(clouds: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(points, finite)``: the clouds ``(batch, n, 2)`` as float64 on the CPU, and which have only finite
    values ``(batch,)``."""
    pts = cloud_array(clouds)
    return pts, np.isfinite(pts).all(axis=(1, 2))


def _by_chunks(clouds: torch.Tensor | np.ndarray, columns: int, fn: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """``fn(good)`` of the finite clouds ``(b, n, 2)`` (float64), some 65,000 points at a time
    (:func:`~toyflow.nearest.map_chunks`): float32 ``(batch, columns)``, inf for a cloud with a non-finite point (or
    with no points)."""
    pts, finite = _finite_clouds(clouds)
    out = np.full((pts.shape[0], columns), np.inf, dtype=np.float32)
    if pts.shape[1] and finite.any():
        good = pts[finite]
        _template_grids(), _template_windows()  # built once, before the threads
        chunk = max(1, QUERY_CHUNK // pts.shape[1])
        out[finite] = np.concatenate(map_chunks(lambda a, b: fn(good[a:b]), len(good), chunk))
    return torch.from_numpy(out)


def distances(clouds: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Chamfer distance of each cloud ``(batch, num_points, 2)`` to both templates: ``(batch, 2)`` (S, roll), CPU.

    The same figure as :func:`chamfer`, computed exactly (see the module docstring). A cloud with a non-finite
    point is infinitely far from both.
    """
    return _by_chunks(clouds, 2, lambda good: np.stack([_chamfer_to(good, k) for k in range(2)], axis=1))


def _distance_to(clouds: torch.Tensor | np.ndarray, k: int) -> torch.Tensor:
    """Column ``k`` of :func:`distances` alone: ``(batch,)``."""
    return _by_chunks(clouds, 1, lambda good: _chamfer_to(good, k)[:, None])[:, 0]


def _own_chunk(good: np.ndarray) -> np.ndarray:
    """:func:`_own_distances` of finite clouds ``(b, n, 2)`` (float64): ``(b, 2)`` float32."""
    b, n, _ = good.shape
    rows = np.arange(b)

    def lower(points: np.ndarray, k: int) -> np.ndarray:  # sum of lower bounds of the points' distances to k
        return _template_grids()[k].bounds(points.reshape(-1, 2))[0].reshape(points.shape[:2]).sum(axis=1)

    # every 8th point tells the nearer template, and bounds the other from below for most clouds
    few = good[:, ::8]
    sums = np.stack([lower(few, 0), lower(few, 1)], axis=1)
    near = (sums[:, 1] < sums[:, 0]).astype(int)
    out = np.empty((b, 2), dtype=np.float32)
    for k in range(2):
        mine = near == k
        if mine.any():
            out[mine, k] = _chamfer_to(good[mine], k).astype(np.float32)
    # the other: half the mean distance to it, from below (rounding is monotone, so a float32 bound above the
    # float32 distance leaves the comparison of the two as it is); from every point where the few fall short
    out[rows, 1 - near] = (0.5 * sums[rows, 1 - near] / n).astype(np.float32)
    for refine in (lambda i, k: 0.5 * lower(good[i], k) / n, lambda i, k: _chamfer_to(good[i], k)):
        unsure = ~(out[rows, 1 - near] > out[rows, near])
        for k in range(2):
            i = np.flatnonzero(unsure & (near == 1 - k))
            if len(i):
                out[i, k] = refine(i, k).astype(np.float32)
    return out


def _own_distances(clouds: torch.Tensor | np.ndarray) -> torch.Tensor:
    """What the judge needs of :func:`distances`: ``(batch, 2)`` float32 where the nearer template's column is
    exactly :func:`distances`' and the other may be a lower bound of it that is still larger (so the nearer
    template, and its distance, are those of :func:`distances`).

    The Chamfer distance is half the sum of two means of nearest-point distances, each at least 0: half the mean
    from the cloud's points to the other template, bounded from below by the grid's cells alone (often from every
    8th point alone), already exceeds the nearer template's distance for nearly every cloud, which spares measuring
    the other template at all."""
    return _by_chunks(clouds, 2, _own_chunk)


@dataclass(frozen=True)
class Thresholds:
    """The judge's limits for clouds of one number of points, S curve first: a valid cloud's Chamfer distance
    (95th percentile of real clouds) and a clean cloud's farthest point from its curve (twice the 99th percentile
    of real clouds' point-to-curve distances)."""

    valid: tuple[float, float]
    stray: tuple[float, float]


# What calibrate_from_real_clouds(NUM_POINTS) gives (tests/test_judge.py computes it again and compares): a process
# judging clouds of the default size need not draw the 800 real clouds
CALIBRATED = {
    NUM_POINTS: Thresholds(
        valid=(0.056589290499687195, 0.014591113664209843), stray=(0.23848797380924225, 0.04107247665524483)
    )
}


def calibrate(num_points: int = NUM_POINTS) -> Thresholds:
    """The :class:`Thresholds` for clouds of ``num_points >= MIN_POINTS`` points, from real clouds of fixed seeds:
    :data:`CALIBRATED` where it has them, else :func:`calibrate_from_real_clouds` (cached)."""
    return CALIBRATED.get(num_points) or calibrate_from_real_clouds(num_points)


@BuiltOnce
def calibrate_from_real_clouds(num_points: int = NUM_POINTS) -> Thresholds:
    """The :class:`Thresholds` for clouds of ``num_points >= MIN_POINTS`` points, measured on real clouds of fixed
    seeds (cached)."""
    valid, stray = [], []
    for k, s_fraction in enumerate((1.0, 0.0)):
        real, _ = sample_mixture(CALIBRATION_CLOUDS, s_fraction, num_points, seed=2024 + k)
        # a hundred clouds at a time: the same figures, a fraction of the scratch memory
        parts = real.split(CALIBRATION_PIECE)
        own = torch.cat([_distance_to(part, k) for part in parts])  # column k of distances()
        valid.append(float(torch.quantile(own, VALID_QUANTILE)))
        points = torch.cat([curve_distances(part, torch.full((len(part),), k == 0)).flatten() for part in parts])
        stray.append(STRAY_FACTOR * float(torch.quantile(points, STRAY_QUANTILE)))
    return Thresholds(valid=(valid[0], valid[1]), stray=(stray[0], stray[1]))


def prepare(num_points: int = NUM_POINTS) -> None:
    """Build, once per process, what the judge's first call on clouds of ``num_points`` points would build: its
    calibration, the nearest-point grids and windows of its templates and of the noise-free curves (0.75-0.94 s on the
    2-core AVX2 CPU in a slow hour, where judging 64 clouds takes 0.03 s; no k-d tree, no scipy), so that work
    waiting for the judge does not wait for them."""
    calibrate(num_points)
    _template_grids(), _template_windows()
    prepare_curves()


def thresholds(num_points: int = NUM_POINTS) -> tuple[float, float]:
    """The valid thresholds (95th percentile of the own-template distance of real S curves and real Swiss rolls)."""
    return calibrate(num_points).valid


def _judged_points(clouds: torch.Tensor | np.ndarray) -> np.ndarray:
    """The points of clouds ``(batch, num_points, 2)`` as the judge reads them; ``ValueError`` for another shape or
    fewer than ``MIN_POINTS`` points."""
    clouds = torch.as_tensor(clouds)
    if clouds.dim() != 3 or clouds.shape[-1] != 2:
        raise ValueError(f"expected clouds of shape (batch, num_points, 2), got {tuple(clouds.shape)}")
    check_count("num_points", clouds.shape[1], MIN_POINTS)
    return cloud_array(clouds)


def classify(clouds: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The judge's class alone: ``(batch,)`` bool, ``True`` for an S curve, exactly :func:`judge`'s ``is_s`` for
    clouds ``(batch, num_points, 2)``, without measuring how far their points stray (what the decision over time
    reads of a cloud, in about 0.6 of the judge's time)."""
    d = _own_distances(_judged_points(clouds))
    return d[:, 0] <= d[:, 1]


def judge(clouds: torch.Tensor | np.ndarray) -> Verdict:
    """Classify and score clouds ``(batch, num_points, 2)``, ``num_points >= MIN_POINTS``: class, valid and clean (see
    the module docstring). A cloud with a non-finite value is neither valid nor clean."""
    pts = _judged_points(clouds)
    d = _own_distances(pts)
    is_s = d[:, 0] <= d[:, 1]
    own = torch.where(is_s, d[:, 0], d[:, 1])
    limits = calibrate(int(clouds.shape[1]))
    valid = (own <= torch.where(is_s, *map(torch.tensor, limits.valid))) & torch.isfinite(own)
    farthest = farthest_from_curve(pts, is_s)
    finite = torch.from_numpy(np.isfinite(pts).all(axis=(1, 2)))
    clean = valid & finite & (farthest <= torch.where(is_s, *map(torch.tensor, limits.stray)))
    return Verdict(is_s=is_s, distance=own, valid=valid, max_distance=farthest, clean=clean)


def check_shape(shape: str) -> None:
    """``ValueError`` unless ``shape`` is one of :data:`~toyflow.data.KINDS`."""
    if shape not in KINDS:
        raise ValueError(f"unknown shape {shape!r}; expected one of {KINDS}")


def oracle_ticks(
    clouds: torch.Tensor | np.ndarray,
    flip_prob: float = 0.0,
    generator: torch.Generator | None = None,
    shape: str = "s_curve",
) -> list[int]:
    """The simulated annotator: indices of the clouds ``(n, num_points, 2)`` that the judge calls clean clouds of
    ``shape`` (``"s_curve"``, the default, or ``"swiss_roll"``: the person's taste may be either).

    With ``flip_prob > 0`` each of the ``n`` tick decisions is flipped with that probability (a noisy human),
    drawn from ``generator``, which it then needs (``ValueError`` without one: no flip comes from torch's global
    generator).
    """
    check_shape(shape)  # before the judge's work
    check_probability("flip_prob", flip_prob)
    if flip_prob > 0 and generator is None:
        raise ValueError("flip_prob > 0 draws the flips at random: pass a torch.Generator to draw them from")
    v = judge(clouds)
    wanted = v.of_shape(shape) & v.clean
    if flip_prob > 0:
        flips = torch.rand(wanted.shape[0], generator=generator) < flip_prob
        wanted = wanted ^ flips
    return [int(i) for i in torch.nonzero(wanted).flatten()]
