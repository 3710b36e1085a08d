"""The source law: standard normal, or normal truncated at a radius (toyflow.data.truncate_noise)."""

import dataclasses
import math

import pytest
import torch
from conftest import TINY, make_flow

from toyflow.data import draw_noise, noise_like, truncate_noise
from toyflow.model import noise_radius
from toyflow.preference import PreferenceSession


def test_radius_zero_is_the_standard_normal_unchanged():
    z = torch.randn(3, 50, 2, generator=torch.Generator().manual_seed(0))
    assert truncate_noise(z, 0.0) is z
    assert torch.equal(draw_noise(3, 50, seed=0), z)


def test_truncated_points_keep_direction_and_rank_and_stay_inside():
    z = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1))
    y = truncate_noise(z, 2.5)
    r, r_new = z.norm(dim=-1), y.norm(dim=-1)
    assert y.shape == z.shape and r_new.max() < 2.5
    assert torch.allclose(z / r[:, None], y / r_new[:, None], atol=1e-5)  # same direction
    order = torch.argsort(r)
    assert bool((r_new[order].diff() >= -1e-6).all())  # the map is monotone in the radius
    near = r < 1.0
    assert ((r_new[near] - r[near]).abs() / r[near]).max() < 0.03  # the centre barely moves
    assert torch.equal(truncate_noise(torch.zeros(1, 2), 2.5), torch.zeros(1, 2))


def test_truncated_law_has_the_right_radial_distribution():
    # P(r < 1) under the normal truncated at R is F(1) / F(R), F(r) = 1 - exp(-r^2 / 2)
    y = truncate_noise(torch.randn(200_000, 2, generator=torch.Generator().manual_seed(2)), 2.0)
    expected = (1 - math.exp(-0.5)) / (1 - math.exp(-2.0))
    assert abs(float((y.norm(dim=-1) < 1).float().mean()) - expected) < 0.005


def test_draw_noise_with_a_radius_is_the_same_noise_truncated():
    z = draw_noise(2, 40, seed=5)
    assert torch.equal(draw_noise(2, 40, seed=5, radius=2.5), truncate_noise(z, 2.5))
    gen = torch.Generator().manual_seed(5)
    assert torch.equal(noise_like(z, gen, 2.5), truncate_noise(z, 2.5))


@pytest.mark.parametrize("radius", [-1.0, float("nan"), float("inf")])
def test_a_bad_radius_is_refused(radius):
    with pytest.raises(ValueError, match="radius"):
        truncate_noise(torch.zeros(1, 2), radius)


def test_a_models_radius_is_its_configs_and_the_session_draws_from_it():
    config = dataclasses.replace(TINY, noise_radius=2.0)
    model = make_flow(config, seed=0)
    assert noise_radius(model) == 2.0 and noise_radius(torch.nn.Linear(2, 2)) == 0.0
    session = PreferenceSession(model, seed=0, sampler_steps=2)
    noise = session.noise(3, 11)
    assert noise.shape == (3, 400, 2) and float(noise.norm(dim=-1).max()) < 2.0
    assert torch.equal(noise, draw_noise(3, 400, 11, radius=2.0))
