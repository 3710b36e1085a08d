"""Pairing noise points with data points inside each cloud (minibatch optimal transport).

The network is permutation equivariant, so which noise point travels to which data point is ours
to choose. Pairing them by (approximate) optimal transport makes every point's path nearly straight,
which makes the flow easier to learn and lets a few sampler steps suffice.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .lazy_scipy import assignment
from .nearest import map_chunks


def ot_pair(noise: torch.Tensor, clouds: torch.Tensor, chunk: int = 50, seed: int = 0) -> torch.Tensor:
    """Reorder each cloud's noise points so that noise point ``i`` is paired with data point ``i``.

    ``noise, clouds (batch, num_points, 2)``. Points are split at random (the chunks are ``seed``'s) into chunks of
    ``chunk`` and matched by exact optimal assignment (squared distance) within each chunk; returns the reordered
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
        # (b, chunks, size, size), written per coordinate: numpy sums an axis of two slowly (15 ms a batch, not 1)
        cost = (xc[:, :, :, None, 0] - zc[:, :, None, :, 0]) ** 2 + (xc[:, :, :, None, 1] - zc[:, :, None, :, 1]) ** 2
        perm = assignments(cost.reshape(-1, size, size)).reshape(cost.shape[:3])
        matched = np.take_along_axis(zc, perm[..., None], axis=2).reshape(b, hi - lo, 2)
        out[rows, order_x[:, lo:hi]] = matched
    return torch.from_numpy(out).to(noise.device)


def assignments(costs: np.ndarray) -> np.ndarray:
    """The optimal assignment of each square cost matrix of ``costs (k, size, size)``: ``perms (k, size)``, row ``i``
    of matrix ``j`` assigned to column ``perms[j, i]``; on torch's intra-op threads (scipy's solver releases the
    GIL: on 2 cores, the 256 assignments of a batch of model A's training take half the time)."""
    threads = max(1, torch.get_num_threads())
    solved = map_chunks(
        lambda lo, hi: [assignment(c) for c in costs[lo:hi]],
        len(costs),
        -(-len(costs) // threads),
        workers=threads,
    )
    return np.array([perm for part in solved for perm in part], dtype=np.int64).reshape(costs.shape[:2])


def sorted_projections(clouds: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """The projections of ``clouds (batch, num_points, 2)`` on ``dirs (2, projections)``, each sorted over the
    points: ``(batch, num_points, projections)`` on the CPU (numpy sorts them ten times as fast as torch's CPU
    sort, to the same values)."""
    return torch.from_numpy(np.sort((clouds @ dirs).detach().cpu().numpy(), axis=1))


def pair_clouds(noise: torch.Tensor, clouds: torch.Tensor, projections: int = 16, seed: int = 0) -> torch.Tensor:
    """Reorder the noise clouds of a batch so that noise cloud ``i`` goes to data cloud ``i`` (batch-level OT).

    ``noise, clouds (batch, num_points, 2)``. The cost of sending a noise cloud to a data cloud is their sliced
    Wasserstein distance (sorted projections on ``projections`` random directions); the assignment minimising
    the total cost is exact. Which shape a noise cloud becomes is then a simple, learnable function of the
    noise (its overall spread in each direction) instead of a coin flip, and every data cloud still gets
    exactly one noise cloud, so the mixture's proportions are kept. Returns ``(batch, num_points, 2)``.
    """
    gen = torch.Generator().manual_seed(seed)
    angles = torch.rand(projections, generator=gen) * math.pi
    dirs = torch.stack([angles.cos(), angles.sin()]).to(noise.device, noise.dtype)  # (2, projections)
    pz, px = (sorted_projections(c, dirs) for c in (noise, clouds))  # (batch, num_points, projections)
    cost = torch.cdist(px.flatten(1)[None], pz.flatten(1)[None])[0] ** 2  # (data cloud, noise cloud)
    cols = assignment(cost.detach().cpu().numpy())
    return noise[torch.as_tensor(cols, device=noise.device)]


def couple(
    noise: torch.Tensor, clouds: torch.Tensor, chunk: int = 50, whole_clouds: bool = True, seed: int = 0
) -> torch.Tensor:
    """Model A's coupling of fresh ``noise`` with ``clouds (batch, num_points, 2)``: noise clouds to data clouds
    (:func:`pair_clouds`, unless ``whole_clouds`` is false), then points to points (:func:`ot_pair`, unless
    ``chunk`` is 0). Returns the reordered noise ``(batch, num_points, 2)``."""
    if whole_clouds:
        noise = pair_clouds(noise, clouds, seed=seed)
    return ot_pair(noise, clouds, chunk, seed=seed) if chunk else noise
