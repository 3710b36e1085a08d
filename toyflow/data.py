"""Training data: S-curve and Swiss-roll point clouds, their mixture, and the noise they start from.

Every cloud is ``(num_points, 2)``: coordinates 0 and 2 of scikit-learn's 3-D generators, rescaled by
one affine map (same scale on both axes) so that its smallest coordinate is -1 and its largest +1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .device import make_generator
from .validation import check_count, check_positive, check_probability

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


def make_cloud(kind: str, num_points: int = NUM_POINTS, seed: int | None = None, noise: float = NOISE) -> np.ndarray:
    """One normalised cloud of ``kind`` (``"s_curve"`` or ``"swiss_roll"``): float32 ``(num_points, 2)``, with
    ``num_points >= MIN_POINTS``."""
    from sklearn.datasets import make_s_curve, make_swiss_roll  # imported here: sklearn (and scipy.stats) takes 1 s

    check_count("num_points", num_points, MIN_POINTS)
    if kind == "s_curve":
        xyz, _ = make_s_curve(num_points, noise=noise, random_state=seed)
    elif kind == "swiss_roll":
        xyz, _ = make_swiss_roll(num_points, noise=noise, random_state=seed)
    else:
        raise ValueError(f"unknown cloud kind {kind!r}; expected one of {KINDS}")
    return normalize_cloud(xyz[:, [0, 2]]).astype(np.float32)


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
    clouds = (
        np.stack(
            [
                make_cloud("s_curve" if s else "swiss_roll", num_points, int(cs))
                for s, cs in zip(is_s, cloud_seeds, strict=True)
            ]
        )
        if n
        else np.zeros((0, num_points, 2), np.float32)
    )
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
        self.pools = [
            torch.from_numpy(np.stack([make_cloud(kind, num_points, int(s)) for s in seeds[k]]))
            for k, kind in enumerate(KINDS)
        ]

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
