"""Pairing noise points with data points inside each cloud (minibatch optimal transport).

The network is permutation equivariant, so which noise point travels to which data point is ours
to choose. Pairing them by (approximate) optimal transport makes every point's path nearly straight,
which makes the flow easier to learn and lets a few sampler steps suffice.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def ot_pair(noise: torch.Tensor, clouds: torch.Tensor, chunk: int = 50, seed: int | None = None) -> torch.Tensor:
    """Reorder each cloud's noise points so that noise point ``i`` is paired with data point ``i``.

    ``noise, clouds (batch, num_points, 2)``. Points are split at random into chunks of ``chunk`` and
    matched by exact optimal assignment (squared distance) within each chunk; returns the reordered
    noise ``(batch, num_points, 2)``, a permutation of the input noise within every cloud.
    """
    rng = np.random.default_rng(seed)
    z = noise.detach().cpu().numpy()
    x = clouds.detach().cpu().numpy()
    b, n, _ = z.shape
    chunk = min(chunk, n)
    whole = n - n % chunk  # points in full chunks; a remainder forms one smaller chunk
    order_x = rng.permuted(np.tile(np.arange(n), (b, 1)), axis=1)
    order_z = rng.permuted(np.tile(np.arange(n), (b, 1)), axis=1)
    xs = np.take_along_axis(x, order_x[..., None], axis=1)
    zs = np.take_along_axis(z, order_z[..., None], axis=1)
    out = np.empty_like(z)
    rows = np.arange(b)[:, None]
    for lo, hi in ([(0, whole)] if whole else []) + ([(whole, n)] if whole < n else []):
        size = min(chunk, hi - lo)
        xc = xs[:, lo:hi].reshape(b, -1, size, 2)
        zc = zs[:, lo:hi].reshape(b, -1, size, 2)
        cost = ((xc[:, :, :, None, :] - zc[:, :, None, :, :]) ** 2).sum(-1)  # (b, chunks, size, size)
        perm = np.empty(cost.shape[:3], dtype=np.int64)
        for k in range(b):
            for c in range(cost.shape[1]):
                perm[k, c] = linear_sum_assignment(cost[k, c])[1]
        matched = np.take_along_axis(zc, perm[..., None], axis=2).reshape(b, hi - lo, 2)
        out[rows, order_x[:, lo:hi]] = matched
    return torch.from_numpy(out).to(noise.device)


def pair_clouds(
    noise: torch.Tensor, clouds: torch.Tensor, projections: int = 16, seed: int | None = None
) -> torch.Tensor:
    """Reorder the noise clouds of a batch so that noise cloud ``i`` goes to data cloud ``i`` (batch-level OT).

    ``noise, clouds (batch, num_points, 2)``. The cost of sending a noise cloud to a data cloud is their sliced
    Wasserstein distance (sorted projections on ``projections`` random directions); the assignment minimising
    the total cost is exact. Which shape a noise cloud becomes is then a simple, learnable function of the
    noise (its overall spread in each direction) instead of a coin flip, and every data cloud still gets
    exactly one noise cloud, so the mixture's proportions are kept. Returns ``(batch, num_points, 2)``.
    """
    gen = torch.Generator().manual_seed(seed if seed is not None else 0)
    angles = torch.rand(projections, generator=gen) * math.pi
    dirs = torch.stack([angles.cos(), angles.sin()]).to(noise.device, noise.dtype)  # (2, projections)
    pz = (noise @ dirs).sort(dim=1).values  # (batch, num_points, projections)
    px = (clouds @ dirs).sort(dim=1).values
    cost = torch.cdist(px.flatten(1)[None], pz.flatten(1)[None])[0] ** 2  # (data cloud, noise cloud)
    _, cols = linear_sum_assignment(cost.detach().cpu().numpy())
    return noise[torch.as_tensor(cols, device=noise.device)]


def couple(
    noise: torch.Tensor, clouds: torch.Tensor, chunk: int = 50, whole_clouds: bool = True, seed: int | None = None
) -> torch.Tensor:
    """Model A's coupling of fresh ``noise`` with ``clouds (batch, num_points, 2)``: noise clouds to data clouds
    (:func:`pair_clouds`, unless ``whole_clouds`` is false), then points to points (:func:`ot_pair`, unless
    ``chunk`` is 0). Returns the reordered noise ``(batch, num_points, 2)``."""
    if whole_clouds:
        noise = pair_clouds(noise, clouds, seed=seed)
    return ot_pair(noise, clouds, chunk, seed=seed) if chunk else noise
