"""Pairing noise points with data points inside each cloud (minibatch optimal transport).

The network is permutation equivariant, so which noise point travels to which data point is ours
to choose. Pairing them by (approximate) optimal transport makes every point's path nearly straight,
which makes the flow easier to learn and lets a few sampler steps suffice.
"""

from __future__ import annotations

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
    out = np.empty_like(z)
    b, n, _ = z.shape
    for k in range(b):
        order_x = rng.permutation(n)
        order_z = rng.permutation(n)
        for s in range(0, n, chunk):
            ix, iz = order_x[s : s + chunk], order_z[s : s + chunk]
            xs, zs = x[k][ix], z[k][iz]
            cost = ((xs[:, None, :] - zs[None, :, :]) ** 2).sum(-1)
            rows, cols = linear_sum_assignment(cost)
            out[k, ix[rows]] = z[k, iz[cols]]
    return torch.from_numpy(out).to(noise.device)
