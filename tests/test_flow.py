"""toyflow.flow: straight paths, the flow-matching loss, and the Euler and Heun samplers on exact fields."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.flow import class_flow_matching_loss, flow_matching_loss, interpolate, sample, time_grid

B, N = 3, 7


@pytest.fixture
def noise() -> torch.Tensor:
    return torch.randn(B, N, 2, generator=torch.Generator().manual_seed(0))


def constant_field(c: torch.Tensor):
    return lambda x, t: c.expand_as(x)


def linear_in_time_field(a: torch.Tensor, b: torch.Tensor):
    """``v(x, t) = a * t + b`` (per coordinate), whatever ``x``."""
    return lambda x, t: (a * t[:, None, None] + b).expand_as(x)


class Grow(torch.nn.Module):
    """``v(x, t) = x``: the exact flow is ``z * e`` at t=1."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.shape == (x.shape[0],)
        return x


@pytest.mark.parametrize("method", ["euler", "heun", "midpoint"])
@pytest.mark.parametrize("steps", [1, 3, 20])
def test_constant_field_is_exact(noise, method, steps):
    c = torch.tensor([0.7, -1.3])
    out = sample(constant_field(c), noise, steps=steps, method=method)
    torch.testing.assert_close(out, noise + c, atol=1e-5, rtol=0)


@pytest.mark.parametrize("steps", [1, 2, 5, 16])
def test_linear_in_time_field(noise, steps):
    a, b = torch.tensor([2.0, -3.0]), torch.tensor([0.5, 0.25])
    field = linear_in_time_field(a, b)
    exact = noise + a / 2 + b
    # Euler evaluates at the left end of every step: a known first-order error
    euler = sample(field, noise, steps=steps, method="euler")
    torch.testing.assert_close(euler, noise + a * (steps - 1) / (2 * steps) + b, atol=1e-5, rtol=0)
    # Heun (trapezoidal rule) integrates a field linear in t exactly
    heun = sample(field, noise, steps=steps, method="heun")
    torch.testing.assert_close(heun, exact, atol=1e-5, rtol=0)
    # so does the midpoint rule, which never evaluates the field at t = 1
    midpoint = sample(field, noise, steps=steps, method="midpoint")
    torch.testing.assert_close(midpoint, exact, atol=1e-5, rtol=0)


@pytest.mark.parametrize("steps", [1, 4, 10])
def test_state_dependent_field(noise, steps):
    h = 1.0 / steps
    euler = sample(Grow(), noise, steps=steps, method="euler")
    torch.testing.assert_close(euler, noise * (1 + h) ** steps, atol=1e-5, rtol=1e-5)
    heun = sample(Grow(), noise, steps=steps, method="heun")
    torch.testing.assert_close(heun, noise * (1 + h + h * h / 2) ** steps, atol=1e-5, rtol=1e-5)
    midpoint = sample(Grow(), noise, steps=steps, method="midpoint")
    torch.testing.assert_close(midpoint, noise * (1 + h + h * h / 2) ** steps, atol=1e-5, rtol=1e-5)
    # second order beats first order against the exact solution
    exact = noise * math.e
    assert (heun - exact).abs().max() < (euler - exact).abs().max()


@pytest.mark.parametrize("method", ["euler", "heun", "midpoint"])
def test_trajectory(noise, method):
    field = linear_in_time_field(torch.tensor([1.0, 2.0]), torch.tensor([-0.5, 0.0]))
    traj = sample(field, noise, steps=4, method=method, return_trajectory=True)
    assert traj.shape == (5, B, N, 2)
    assert torch.equal(traj[0], noise)
    torch.testing.assert_close(traj[-1], sample(field, noise, steps=4, method=method), atol=0, rtol=0)


def test_sample_does_not_track_gradients(noise):
    w = torch.ones(2, requires_grad=True)
    out = sample(lambda x, t: x * w, noise, steps=2)
    assert not out.requires_grad


@pytest.mark.parametrize("steps", [0, -3])
def test_rejects_too_few_steps(noise, steps):
    with pytest.raises(ValueError, match="steps"):
        sample(constant_field(torch.zeros(2)), noise, steps=steps)


def test_rejects_unknown_method(noise):
    with pytest.raises(ValueError, match="rk4"):
        sample(constant_field(torch.zeros(2)), noise, steps=2, method="rk4")


def test_time_grid():
    torch.testing.assert_close(time_grid(4), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_interpolate_endpoints_and_midpoints(noise):
    x1 = torch.randn(B, N, 2)
    torch.testing.assert_close(interpolate(noise, x1, torch.zeros(B)), noise)
    torch.testing.assert_close(interpolate(noise, x1, torch.ones(B)), x1)
    t = torch.tensor([0.0, 0.25, 1.0])
    mid = interpolate(noise, x1, t)
    torch.testing.assert_close(mid[1], 0.25 * x1[1] + 0.75 * noise[1])
    torch.testing.assert_close(mid[0], noise[0])
    torch.testing.assert_close(mid[2], x1[2])


def test_flow_matching_loss_zero_for_the_exact_field():
    x0 = torch.randn(1, N, 2)
    x1 = torch.randn(1, N, 2)
    t = torch.rand(1)
    exact = constant_field(x1 - x0)
    assert flow_matching_loss(exact, x1, x0, t).item() == pytest.approx(0.0, abs=1e-12)
    # a wrong field has the mean squared error of its mistake
    wrong = constant_field(torch.zeros(2))
    assert flow_matching_loss(wrong, x1, x0, t).item() == pytest.approx((x1 - x0).pow(2).mean().item(), rel=1e-6)


def test_flow_matching_loss_weights():
    x0, x1 = torch.randn(2, N, 2), torch.randn(2, N, 2)
    t = torch.tensor([0.3, 0.6])
    zero = constant_field(torch.zeros(2))
    per_cloud = (x1 - x0).pow(2).mean(dim=(1, 2))
    assert flow_matching_loss(zero, x1, x0, t).item() == pytest.approx(per_cloud.mean().item(), rel=1e-6)
    only_first = flow_matching_loss(zero, x1, x0, t, weights=torch.tensor([1.0, 0.0]))
    assert only_first.item() == pytest.approx(per_cloud[0].item(), rel=1e-6)
    weighted = flow_matching_loss(zero, x1, x0, t, weights=torch.tensor([3.0, 1.0]))
    assert weighted.item() == pytest.approx((3 * per_cloud[0] + per_cloud[1]).item() / 4, rel=1e-6)


def test_flow_matching_loss_backpropagates():
    model = torch.nn.Linear(2, 2)
    x0, x1 = torch.randn(2, N, 2), torch.randn(2, N, 2)
    loss = flow_matching_loss(lambda x, t: model(x), x1, x0, torch.rand(2))
    loss.backward()
    assert model.weight.grad is not None and model.weight.grad.abs().sum() > 0


class ConstantHeads(torch.nn.Module):
    """A network with class heads whose outputs are constants: v_S, v_roll and the gate's logit."""

    def __init__(self, v_s: torch.Tensor, v_roll: torch.Tensor, logit: float) -> None:
        super().__init__()
        self.v_s, self.v_roll, self.logit = v_s, v_roll, logit

    def class_parts(self, x, t):
        b = x.shape[0]
        return self.v_s.expand_as(x), self.v_roll.expand_as(x), torch.full((b,), self.logit)


def test_class_loss_uses_each_clouds_own_head():
    x0, x1 = torch.randn(2, N, 2), torch.randn(2, N, 2)
    t = torch.tensor([0.2, 0.7])
    is_s = torch.tensor([True, False])
    # the S head is exact for cloud 0 only, the roll head for cloud 1 only; the gate is certain of nothing
    v_s = (x1 - x0)[0]
    v_roll = (x1 - x0)[1]
    model = ConstantHeads(v_s, v_roll, logit=0.0)
    assert class_flow_matching_loss(model, x1, x0, t, is_s, gate_weight=0.0).item() == pytest.approx(0, abs=1e-12)
    # a logit of 0 costs log 2 of cross entropy for either label
    loss = class_flow_matching_loss(model, x1, x0, t, is_s, gate_weight=0.5)
    assert loss.item() == pytest.approx(0.5 * math.log(2), rel=1e-6)
    # swapped labels: each cloud is measured against the other head
    swapped = class_flow_matching_loss(model, x1, x0, t, ~is_s, gate_weight=0.0)
    expected = 0.5 * ((v_roll - v_s).pow(2).mean() + (v_s - v_roll).pow(2).mean())
    assert swapped.item() == pytest.approx(expected.item(), rel=1e-5)


def test_class_loss_trains_the_gate():
    from conftest import make_flow

    model = make_flow()
    x0, x1 = torch.randn(4, N, 2), torch.randn(4, N, 2)
    class_flow_matching_loss(model, x1, x0, torch.rand(4), torch.tensor([True, False, False, True])).backward()
    assert model.gate[0].weight.grad.abs().sum() > 0
    assert model.out.weight.grad.abs().sum() > 0
