"""Training data: S-curve and Swiss-roll point clouds, their mixture, and the noise they start from.

Every cloud is ``(num_points, 2)``: coordinates 0 and 2 of scikit-learn's 3-D S curve and Swiss roll (``make_s_curve``,
``make_swiss_roll``), rescaled by one affine map (same scale on both axes) so that its smallest coordinate is -1 and
its largest +1. They are drawn here, from the same random stream and with the same arithmetic, so that a seed gives
scikit-learn's cloud to the bit without importing it (a second in every process that draws data) or calling it (half a
millisecond a cloud, most of it building a new random stream).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np
import torch

from .device import make_generator
from .validation import check_count, check_finite, check_positive, check_probability

NUM_POINTS = 400
# The fewest points a cloud may have. The judge must tell S curves from Swiss rolls in at least 99 % of real clouds
# (99 %): on 3 x 1000 real clouds it classifies 99.3-99.6 % right at 16 points, 99.7-100 % at 20 and every one from
# 32 on; and only from about 24 points can a clean cloud's noise-free curve be fitted (real Swiss rolls' stray
# threshold is 0.36 at 16 points, 0.075 at 20, 0.044 at 32, 0.042 at 400). 32 leaves a margin on both.
MIN_POINTS = 32
NOISE = 0.1
KINDS = ("s_curve", "swiss_roll")


def normalize_cloud(points: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Rescale each cloud so that its smallest coordinate is -1 and its largest +1.

    ``points``: ``(..., num_points, 2)``. One scale for both axes, so the aspect ratio is kept.
    """
    lead = points.shape[:-2]
    flat = points.reshape(*lead, -1)
    if isinstance(points, torch.Tensor):
        lo = flat.min(dim=-1).values[..., None, None]
        hi = flat.max(dim=-1).values[..., None, None]
    else:
        lo = flat.min(axis=-1)[..., None, None]
        hi = flat.max(axis=-1)[..., None, None]
    return (points - lo) / (hi - lo) * 2 - 1


def curve_xz(kind: str, u: np.ndarray) -> np.ndarray:
    """Coordinates 0 and 2 of ``kind`` at parameters ``u (..., n)`` in [0, 1], without noise, computed as
    scikit-learn's ``make_s_curve`` and ``make_swiss_roll`` compute them from their first uniform draw: float64
    ``(..., n, 2)``, not normalised."""
    _check_kind(kind)
    if kind == "s_curve":
        t = 3 * np.pi * (u - 0.5)
        return np.stack([np.sin(t), np.sign(t) * (np.cos(t) - 1)], axis=-1)
    t = 1.5 * np.pi * (1 + 2 * u)
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=-1)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown cloud kind {kind!r}; expected one of {KINDS}")


_STREAMS = threading.local()  # each thread's legacy random stream (make_clouds)


def _legacy_stream(seed: int | None) -> np.random.RandomState:
    """This thread's ``RandomState``, seeded with ``seed``: the stream ``RandomState(seed)`` is, without building one
    (a third of a millisecond: a new one first seeds itself from the system's entropy)."""
    stream = getattr(_STREAMS, "stream", None)
    if stream is None:
        stream = _STREAMS.stream = np.random.RandomState()
    stream.seed(seed)
    return stream


def make_clouds(
    kind: str, seeds: Sequence[int | None], num_points: int = NUM_POINTS, noise: float = NOISE
) -> np.ndarray:
    """Normalised clouds of ``kind`` (``"s_curve"`` or ``"swiss_roll"``), one per seed: float32 ``(len(seeds),
    num_points, 2)``, with ``num_points >= MIN_POINTS``; a seed None draws from fresh entropy.

    Cloud ``i`` holds the draws of scikit-learn's generator with ``random_state=seeds[i]``, in their order, from
    ``RandomState(seeds[i])``: the curve's parameters (uniform), the left-out coordinate 1 (uniform), then the noise of
    all three coordinates (standard normal, ``noise`` times it added)."""
    check_count("num_points", num_points, MIN_POINTS)
    check_finite("noise", noise, minimum=0.0)
    _check_kind(kind)  # before any draw
    if len(seeds) == 0:
        return np.zeros((0, num_points, 2), np.float32)
    u = np.empty((len(seeds), num_points))
    eps = np.empty((len(seeds), 2, num_points))
    for i, seed in enumerate(seeds):
        stream = _legacy_stream(seed)
        u[i] = stream.uniform(size=num_points)
        stream.uniform(size=num_points)  # coordinate 1, which the clouds leave out: drawn, as the stream holds it
        eps[i] = stream.standard_normal(size=(3, num_points))[[0, 2]]
    xz = curve_xz(kind, u) + noise * eps.transpose(0, 2, 1)
    return normalize_cloud(xz).astype(np.float32)


def make_cloud(kind: str, num_points: int = NUM_POINTS, seed: int | None = None, noise: float = NOISE) -> np.ndarray:
    """One normalised cloud of ``kind`` (``"s_curve"`` or ``"swiss_roll"``): float32 ``(num_points, 2)``, with
    ``num_points >= MIN_POINTS``; ``seed`` None draws from fresh entropy (:func:`make_clouds`)."""
    return make_clouds(kind, [seed], num_points, noise)[0]


def sample_mixture(
    n: int,
    s_fraction: float = 0.2,
    num_points: int = NUM_POINTS,
    seed: int | np.random.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` clouds, each an S curve with probability ``s_fraction``, else a Swiss roll.

    Returns ``(clouds, is_s)``: float32 ``(n, num_points, 2)`` and bool ``(n,)``. ``n = 0`` gives empty tensors;
    ``num_points`` is at least :data:`MIN_POINTS`.
    """
    check_count("n", n, minimum=0)
    check_probability("s_fraction", s_fraction)
    check_count("num_points", num_points, MIN_POINTS)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    is_s = rng.random(n) < s_fraction
    cloud_seeds = rng.integers(0, 2**31 - 1, size=n)
    clouds = np.empty((n, num_points, 2), np.float32)
    clouds[is_s] = make_clouds("s_curve", cloud_seeds[is_s], num_points)
    clouds[~is_s] = make_clouds("swiss_roll", cloud_seeds[~is_s], num_points)
    return torch.from_numpy(clouds), torch.from_numpy(is_s)


class CloudStream:
    """An endless, seeded stream of training batches from the mixture.

    Clouds are drawn once into a pool of ``pool_size`` clouds per class, then each batch picks every
    cloud's class (S curve with probability ``s_fraction``) and a random member of that class's pool.
    """

    def __init__(
        self,
        batch_size: int,
        s_fraction: float = 0.2,
        num_points: int = NUM_POINTS,
        seed: int = 0,
        pool_size: int = 2048,
    ) -> None:
        check_count("batch_size", batch_size)
        check_probability("s_fraction", s_fraction)
        check_count("num_points", num_points, MIN_POINTS)
        check_count("pool_size", pool_size)
        self.batch_size, self.s_fraction, self.num_points = batch_size, s_fraction, num_points
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        seeds = self.rng.integers(0, 2**31 - 1, size=(2, pool_size))
        self.pools = [torch.from_numpy(make_clouds(kind, seeds[k], num_points)) for k, kind in enumerate(KINDS)]

    def next(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch: ``(clouds (batch, num_points, 2), is_s (batch,))``, drawn from ``generator`` if given, else
        from the stream's own."""
        b = self.batch_size
        gen = generator or self.gen
        is_s = torch.rand(b, generator=gen) < self.s_fraction
        idx = torch.randint(0, self.pools[0].shape[0], (b,), generator=gen)
        clouds = torch.where(is_s[:, None, None], self.pools[0][idx], self.pools[1][idx])
        return clouds, is_s


def truncate_noise(z: torch.Tensor, radius: float = 0.0) -> torch.Tensor:
    """Standard normal points ``z (..., 2)`` mapped, point by point, to the 2-D normal law restricted to the disk of
    ``radius`` (``radius`` 0: ``z`` itself, unchanged). Same shape.

    Each point keeps its direction; its distance ``r`` from the origin goes to the radius with the same rank under
    the truncated law (``F_R^-1(F(r))``, ``F(r) = 1 - exp(-r^2 / 2)``), so the map is monotone, close to the
    identity near the origin (``radius`` 2.5: points with ``r < 1`` move less than 3 %), and "the same noise" stays
    the same noise: one seed, one standard normal draw, one point of the truncated law.
    """
    if radius == 0.0:
        return z
    check_positive("radius", radius)
    r = torch.linalg.vector_norm(z, dim=-1, keepdim=True)
    u = -torch.expm1(-0.5 * r * r)  # F(r): uniform in [0, 1)
    mass = -math.expm1(-0.5 * radius * radius)  # F(radius)
    r_new = torch.sqrt(-2.0 * torch.log1p(-u * mass))
    return torch.where(r > 0, z * (r_new / r.clamp(min=1e-30)), z)


def draw_noise(
    n: int,
    num_points: int = NUM_POINTS,
    seed: int | torch.Generator | None = None,
    device: str | torch.device = "cpu",
    radius: float = 0.0,
) -> torch.Tensor:
    """The noise clouds start from: float32 ``(n, num_points, 2)``, ``n >= 1`` clouds of ``num_points >= MIN_POINTS``
    points, i.i.d. per point, standard normal, or normal truncated at ``radius`` (:func:`truncate_noise`; a model's
    own radius is :func:`toyflow.model.noise_radius`).

    Drawn on the CPU from ``seed`` and then moved, so the same seed gives the same noise on every device.
    """
    check_count("n", n)
    check_count("num_points", num_points, MIN_POINTS)
    gen = make_generator(seed)
    return truncate_noise(torch.randn(n, num_points, 2, generator=gen), radius).to(device)


def noise_like(x: torch.Tensor, generator: torch.Generator, radius: float = 0.0) -> torch.Tensor:
    """Fresh noise of ``x``'s shape ``(..., num_points, 2)`` on the CPU from ``generator``, truncated at ``radius``."""
    return truncate_noise(torch.randn(x.shape, generator=generator), radius)
