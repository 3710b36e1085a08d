"""toyflow.fidelity: the stray-point figures of a set of clouds, and the copy check against a pool."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.data import sample_mixture
from toyflow.fidelity import nearest_pool_distance, stray_figures


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return sample_mixture(120, 0.5, seed=21)[0]


def test_real_clouds_have_no_strays_and_stay_in_the_box(real):
    f = stray_figures(real)
    assert f["n"] == 120
    assert f["rolls_far"] == 0.0 and f["outside_box"] == 0.0 and f["beyond_105"] == 0.0
    assert f["roll_p99"] < 0.03 < f["s_p99"] < 0.2  # rolls are thin, S curves fuzzy
    assert f["roll_max_median"] < 0.05
    assert f["clean"] >= 0.85


def test_one_far_point_is_counted_everywhere(real):
    moved = real.clone()
    moved[:, 0] = torch.tensor([1.3, -1.3])  # one point outside the box in every cloud
    f = stray_figures(moved)
    assert f["outside_box"] == 1.0
    assert f["beyond_105"] == pytest.approx(1 / real.shape[1])
    assert f["rolls_far"] == 1.0
    assert f["clean"] == 0.0


def test_a_class_that_is_absent_gives_nan():
    rolls = sample_mixture(10, 0.0, seed=3)[0]
    f = stray_figures(rolls)
    assert math.isnan(f["s_p99"]) and math.isnan(f["clean_s"])
    assert not math.isnan(f["roll_p99"])


def test_copies_are_nearer_to_the_pool_than_fresh_clouds(real):
    pool = real[:60]
    copies = pool[:10] + 0.001
    fresh = real[60:70]
    near, far = nearest_pool_distance(copies, pool), nearest_pool_distance(fresh, pool)
    assert near.shape == far.shape == (10,)
    assert near.max() < 0.01 < far.min()
