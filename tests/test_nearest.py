"""toyflow.nearest: the grid's nearest points and the windows' nearest cloud points are a k-d tree's, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from toyflow.nearest import NearestGrid, NearestInClouds, map_chunks


def curve(m: int, seed: int = 0) -> np.ndarray:
    """``m`` points in random order on a spiral that comes near itself (as the Swiss roll does)."""
    t = np.sort(np.random.default_rng(seed).uniform(1.5 * np.pi, 4.5 * np.pi, m))
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (4.5 * np.pi)


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return curve(600)


@pytest.fixture(scope="module")
def grid(points) -> NearestGrid:
    return NearestGrid(points, cell=0.01)


def assert_like_the_tree(grid: NearestGrid, points: np.ndarray, query: np.ndarray) -> None:
    dist, idx = grid.query(query)
    ref_dist, ref_idx = cKDTree(points).query(query)
    np.testing.assert_array_equal(dist, ref_dist)  # bit for bit: the tree's own arithmetic
    np.testing.assert_array_equal(idx, ref_idx)


def test_random_points_get_the_trees_nearest_point(grid, points):
    rng = np.random.default_rng(1)
    near = points[rng.integers(0, len(points), 5000)] + rng.normal(0, 0.03, (5000, 2))
    assert_like_the_tree(grid, points, np.concatenate([rng.uniform(-1.3, 1.3, (20000, 2)), near]))


def test_the_points_themselves_and_the_cell_corners(grid, points):
    corners = grid.lo + grid.cell * np.stack(np.meshgrid(np.arange(0, 40), np.arange(0, 40)), -1).reshape(-1, 2)
    dist, idx = grid.query(points)
    assert (dist == 0).all() and (idx == np.arange(len(points))).all()
    assert_like_the_tree(grid, points, corners)


def test_far_away_points_are_left_to_the_tree(grid, points):
    rng = np.random.default_rng(2)
    far = np.concatenate([rng.uniform(-1e3, 1e3, (500, 2)), [[1e6, -1e6], [1.5, 0.0], [0.0, -1.5]]])
    assert not grid.cells_of(far)[1].any()
    assert_like_the_tree(grid, points, far)


def test_crowded_cells_are_left_to_the_tree(points):
    grid = NearestGrid(points, cell=0.05, max_candidates=3)  # cells too large: many have more than 3
    query = np.random.default_rng(3).uniform(-0.9, 0.9, (5000, 2))
    cell, inside = grid.cells_of(query)
    assert inside.all() and (grid.count[cell] == 0).mean() > 0.3
    assert_like_the_tree(grid, points, query)


def test_non_finite_points_are_infinitely_far(grid, points):
    query = np.array([[np.nan, 0.0], [0.1, np.inf], [-np.inf, -np.inf], [0.1, 0.2]])
    dist, idx = grid.query(query)
    assert np.isinf(dist[:3]).all() and (idx[:3] == len(points)).all()
    ref_dist, ref_idx = cKDTree(points).query(query[3])
    assert dist[3] == ref_dist and idx[3] == ref_idx
    lower, upper = grid.bounds(query)
    assert (lower[:3] >= 0).all() and np.isinf(upper[:3]).all()


def test_no_query_points(grid):
    dist, idx = grid.query(np.empty((0, 2)))
    assert dist.shape == idx.shape == (0,)


def test_bounds_hold_inside_and_outside(grid, points):
    query = np.random.default_rng(4).uniform(-2, 2, (20000, 2))
    lower, upper = grid.bounds(query)
    dist = cKDTree(points).query(query)[0]
    assert (lower <= dist).all() and (dist <= upper).all()
    inside = grid.cells_of(query)[1]
    # the cell's half diagonal either way, and the float32 rounding of the centre's distance
    assert (upper[inside] - lower[inside] <= 2 * grid.half_diagonal + 2**-21 * upper[inside] + 1e-9).all()
    assert (lower[~inside] > 0).mean() > 0.5  # outside: the distance to the points' box


def test_one_point_and_a_line_of_points():
    for pts in (np.array([[0.3, -0.2]]), np.stack([np.linspace(-1, 1, 300), np.zeros(300)], axis=1)):
        grid = NearestGrid(pts, cell=0.02)
        assert_like_the_tree(grid, pts, np.random.default_rng(5).uniform(-1.5, 1.5, (3000, 2)))


@pytest.mark.parametrize("bad", [np.zeros((0, 2)), np.zeros((5, 3)), np.array([[0.0, np.nan]]), np.zeros(4)], ids=str)
def test_refuses_bad_points(bad):
    with pytest.raises(ValueError, match=r"^expected finite points of shape \(m, 2\), m >= 1; got shape "):
        NearestGrid(bad, cell=0.1)


def test_refuses_a_cell_that_is_not_positive(points):
    with pytest.raises(ValueError, match="^cell must be positive, got 0.0$"):
        NearestGrid(points, cell=0.0)


# --------------------------------------------------------------------------------------------- the windows
def clouds_about(points: np.ndarray, count: int, n: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = points[rng.integers(0, len(points), (count, n))]
    return picked + rng.normal(0, noise, picked.shape)


def assert_windows_like_trees(points: np.ndarray, order: np.ndarray, clouds: np.ndarray) -> None:
    nearest = cKDTree(points).query(clouds.reshape(-1, 2))[1].reshape(clouds.shape[:2])
    ref = np.stack([cKDTree(c).query(points)[0] for c in clouds])
    windows = NearestInClouds(points, order)
    # as they are; every open point to the end of the windows, then measured alone; every open cloud to its tree
    for far_share, tree_pairs in ((windows.FAR_SHARE, windows.TREE_PAIRS), (2.0, 10**9), (0.0, 0)):
        windows.FAR_SHARE, windows.TREE_PAIRS = far_share, tree_pairs
        np.testing.assert_array_equal(windows.distances(clouds, nearest), ref)


def test_windows_give_each_clouds_nearest_point(points):
    along = np.arange(len(points))  # curve() is sorted along the spiral
    for noise in (0.005, 0.03, 0.2):
        assert_windows_like_trees(points, along, clouds_about(points, 12, 150, noise, seed=6))


def test_windows_are_exact_in_any_order(points):
    shuffled = np.random.default_rng(7).permutation(len(points))
    assert_windows_like_trees(points, shuffled, clouds_about(points, 6, 150, 0.03, seed=8))


def test_clouds_far_from_the_set_and_tiny_clouds(points):
    along = np.arange(len(points))
    far = np.random.default_rng(9).uniform(-3, 3, (4, 50, 2))  # few certified: every point measured
    assert_windows_like_trees(points, along, far)
    assert_windows_like_trees(points, along, clouds_about(points, 5, 1, 0.05, seed=10))
    same = np.repeat(clouds_about(points, 3, 1, 0.05, seed=11), 20, axis=1)  # one point, many times
    assert_windows_like_trees(points, along, same)


def test_windows_refuse_an_order_that_is_no_permutation(points):
    with pytest.raises(ValueError, match="permutation"):
        NearestInClouds(points, np.zeros(len(points), dtype=int))


# --------------------------------------------------------------------------------------------- threads
@pytest.mark.parametrize("workers", [1, 3])
def test_map_chunks_covers_the_range_in_order(workers):
    assert map_chunks(lambda a, b: (a, b), 10, 4, workers) == [(0, 4), (4, 8), (8, 10)]
    assert map_chunks(lambda a, b: (a, b), 0, 4, workers) == []
