"""toyflow.flow: the flow-matching losses on the straight path (plain, weighted, per class, mixture)."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.flow import class_flow_matching_loss, flow_matching_loss, mixture_loss

N = 7


def constant_field(c: torch.Tensor):
    return lambda x, t: c.expand_as(x)


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


def test_mixture_loss_picks_the_class_loss_only_with_heads_and_labels():
    from dataclasses import replace

    from conftest import SMALL, make_flow

    x0, x1, t = torch.randn(2, N, 2), torch.randn(2, N, 2), torch.tensor([0.3, 0.6])
    is_s = torch.tensor([True, False])
    heads, plain = make_flow(SMALL), make_flow(replace(SMALL, class_heads=False))
    assert mixture_loss(heads, x1, x0, t, is_s) == class_flow_matching_loss(heads, x1, x0, t, is_s)
    assert mixture_loss(heads, x1, x0, t) == flow_matching_loss(heads, x1, x0, t)
    assert mixture_loss(plain, x1, x0, t, is_s) == flow_matching_loss(plain, x1, x0, t)
