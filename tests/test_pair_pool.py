"""toyflow.pair_pool: pairs are stored up to the capacity and drawn at random, reproducibly."""

from __future__ import annotations

import pytest
import torch

from toyflow.pair_pool import PairPool, Pairs, random_points


def pairs(n: int, start: int = 0) -> Pairs:
    ids = torch.arange(start, start + n, dtype=torch.float32)
    x1 = ids[:, None, None].expand(n, 5, 2).clone()
    return Pairs(x1, -x1, ids % 2 == 0)


def test_the_pool_fills_up_to_its_capacity_and_takes_no_more():
    pool = PairPool(7)
    assert len(pool) == 0 and not pool.full
    pool.add(pairs(4))
    assert len(pool) == 4 and not pool.full
    pool.add(pairs(4, start=4))
    assert len(pool) == 7 and pool.full
    pool.add(pairs(4, start=8))
    assert len(pool) == 7
    drawn = pool.draw(200, torch.Generator().manual_seed(0))
    x1, x0, is_s = drawn.clouds, drawn.noise, drawn.is_s
    ids = x1[:, 0, 0]
    assert set(ids.tolist()) == set(range(7))  # the 8th pair and the third batch were not kept
    assert torch.equal(x0, -x1) and torch.equal(is_s, ids % 2 == 0)  # a pair stays a pair
    assert x1.shape == (200, 5, 2) and is_s.shape == (200,)


def test_draws_repeat_with_the_seed():
    pool = PairPool(16)
    pool.add(pairs(16))
    a = pool.draw(8, torch.Generator().manual_seed(3)).clouds
    b = pool.draw(8, torch.Generator().manual_seed(3)).clouds
    c = pool.draw(8, torch.Generator().manual_seed(4)).clouds
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_use_is_refused():
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        PairPool(0)
    with pytest.raises(ValueError, match="the pair pool is empty"):
        PairPool(4).draw(2, torch.Generator())
    pool = PairPool(4)
    pool.add(pairs(2))
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        pool.draw(0, torch.Generator())
    with pytest.raises(ValueError, match="^the pair pool stores labelled pairs: is_s is None$"):
        pool.add(Pairs(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2), None))


def test_random_points_keep_each_point_with_its_noise():
    x1 = torch.arange(3 * 10 * 2, dtype=torch.float32).reshape(3, 10, 2)
    is_s = torch.tensor([True, False, True])
    a = random_points(Pairs(x1, -x1, is_s), 4, torch.Generator().manual_seed(0))
    a1, a0, a_s = a.clouds, a.noise, a.is_s
    assert a1.shape == a0.shape == (3, 4, 2) and torch.equal(a0, -a1) and torch.equal(a_s, is_s)
    for cloud, part in zip(x1, a1, strict=True):  # distinct points of the same cloud, whole (x, y) pairs
        rows = {tuple(p) for p in part.tolist()}
        assert len(rows) == 4 and rows <= {tuple(p) for p in cloud.tolist()}
    b1 = random_points(Pairs(x1, -x1, is_s), 4, torch.Generator().manual_seed(0)).clouds
    c1 = random_points(Pairs(x1, -x1, is_s), 4, torch.Generator().manual_seed(1)).clouds
    assert torch.equal(a1, b1) and not torch.equal(a1, c1)
    whole = random_points(Pairs(x1, -x1, is_s), 10, torch.Generator())
    assert whole.clouds is x1  # no more points than asked: the pairs themselves
    with pytest.raises(ValueError, match="num_points must be at least 1, got 0"):
        random_points(Pairs(x1, -x1, is_s), 0, torch.Generator())
