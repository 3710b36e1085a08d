"""toyflow.coupling: minibatch optimal transport inside each cloud."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from toyflow.coupling import assignments, ot_pair, pair_clouds, sorted_projections
from toyflow.data import draw_noise, sample_mixture


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    clouds, _ = sample_mixture(3, 0.5, num_points=120, seed=0)
    return draw_noise(3, 120, seed=1), clouds


def sorted_rows(points: torch.Tensor) -> torch.Tensor:
    """The rows of ``points (n, 2)`` in a canonical order (by x, then y)."""
    order = torch.argsort(points[:, 1], stable=True)
    points = points[order]
    return points[torch.argsort(points[:, 0], stable=True)]


@pytest.mark.parametrize("chunk", [50, 120])
def test_ot_pair_permutes_each_clouds_noise(pair, chunk):
    noise, clouds = pair
    paired = ot_pair(noise, clouds, chunk=chunk, seed=0)
    assert paired.shape == noise.shape and paired.dtype == noise.dtype
    assert not torch.equal(paired, noise)
    for k in range(noise.shape[0]):
        assert torch.equal(sorted_rows(paired[k]), sorted_rows(noise[k]))


@pytest.mark.parametrize("chunk", [50, 120])
def test_ot_pair_shortens_the_paths(pair, chunk):
    noise, clouds = pair
    paired = ot_pair(noise, clouds, chunk=chunk, seed=0)
    before = (noise - clouds).pow(2).sum(dim=(1, 2))
    after = (paired - clouds).pow(2).sum(dim=(1, 2))
    assert (after < 0.4 * before).all()  # 0.25-0.32 of the independent pairing's squared length


def test_whole_cloud_chunk_is_optimal(pair):
    # With one chunk the assignment is exact: no swap of two partners shortens the paths.
    noise, clouds = pair
    paired = ot_pair(noise[:1], clouds[:1], chunk=120, seed=0)[0]
    x = clouds[0]
    cost = (paired - x).pow(2).sum(-1)  # (n,)
    swapped = (paired[None, :, :] - x[:, None, :]).pow(2).sum(-1)  # [i, j]: point i with partner of j
    gain = cost[:, None] + cost[None, :] - swapped - swapped.T
    assert gain.max() <= 1e-4


def test_ot_pair_is_seeded(pair):
    noise, clouds = pair
    assert torch.equal(ot_pair(noise, clouds, seed=3), ot_pair(noise, clouds, seed=3))
    assert not torch.equal(ot_pair(noise, clouds, seed=3), ot_pair(noise, clouds, seed=4))  # the chunks are the seed's


def test_pair_clouds_permutes_whole_noise_clouds():
    gen = torch.Generator().manual_seed(0)
    noise, clouds = torch.randn(6, 50, 2, generator=gen), torch.randn(6, 50, 2, generator=gen)
    out = pair_clouds(noise, clouds, seed=1)
    # every output cloud is one of the input noise clouds, each used once
    used = sorted(next(j for j in range(6) if torch.equal(out[i], noise[j])) for i in range(6))
    assert used == list(range(6))


def test_pair_clouds_finds_the_obvious_matching():
    gen = torch.Generator().manual_seed(2)
    clouds = torch.randn(5, 40, 2, generator=gen) * 0.1 + torch.arange(5.0)[:, None, None] * 3
    shuffle = torch.tensor([3, 0, 4, 1, 2])
    noise = (clouds + 0.01 * torch.randn(clouds.shape, generator=gen))[shuffle]
    out = pair_clouds(noise, clouds, seed=0)
    inverse = torch.argsort(shuffle)
    assert torch.equal(out, noise[inverse])  # noise cloud i lands on data cloud i


@pytest.mark.parametrize("threads", [1, 2])
def test_assignments_solve_each_matrix_in_order(threads, monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    costs = np.random.default_rng(0).random((7, 5, 5))
    costs[3] = 1.0 - np.eye(5)[[2, 0, 4, 1, 3]]  # row i costs nothing only in column (2, 0, 4, 1, 3)[i]
    perms = assignments(costs)
    assert perms.shape == (7, 5) and perms.dtype == np.int64
    assert perms[3].tolist() == [2, 0, 4, 1, 3]
    for cost, perm in zip(costs, perms, strict=True):
        assert perm.tolist() == linear_sum_assignment(cost)[1].tolist()


def test_sorted_projections():
    clouds = torch.tensor([[[3.0, 0.0], [1.0, 2.0], [2.0, -1.0]]])
    dirs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # x, then y
    assert sorted_projections(clouds, dirs).tolist() == [[[1.0, -1.0], [2.0, 0.0], [3.0, 2.0]]]
