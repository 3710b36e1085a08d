"""toyflow.path: the straight path from noise to data and its velocity."""

from __future__ import annotations

import torch

from toyflow.path import straight_path

B, N = 3, 7


def test_straight_path_endpoints_midpoints_and_velocity():
    noise, x1 = torch.randn(B, N, 2), torch.randn(B, N, 2)
    start = straight_path(noise, x1, torch.zeros(B))
    x_t, u_t = start.x_t, start.u_t
    torch.testing.assert_close(x_t, noise)
    torch.testing.assert_close(u_t, x1 - noise)
    torch.testing.assert_close(straight_path(noise, x1, torch.ones(B)).x_t, x1)
    t = torch.tensor([0.0, 0.25, 1.0])
    mid = straight_path(noise, x1, t).x_t
    torch.testing.assert_close(mid[1], 0.25 * x1[1] + 0.75 * noise[1])
    torch.testing.assert_close(mid[0], noise[0])
    torch.testing.assert_close(mid[2], x1[2])


def test_moving_along_the_velocity_stays_on_the_path():
    noise, x1 = torch.randn(B, N, 2), torch.randn(B, N, 2)
    t, dt = torch.tensor([0.1, 0.5, 0.8]), 0.15
    here = straight_path(noise, x1, t)
    x_t, u_t = here.x_t, here.u_t
    later = straight_path(noise, x1, t + dt).x_t
    torch.testing.assert_close(x_t + dt * u_t, later)
