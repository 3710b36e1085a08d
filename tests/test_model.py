"""toyflow.model: the velocity network sees the whole cloud, ignores point order, takes any size and time."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import SMALL, make_flow

import toyflow.model as model_module
from toyflow.model import CloudFlow, FlowConfig, count_parameters, time_features


@pytest.fixture
def clouds() -> torch.Tensor:
    return torch.randn(3, 60, 2, generator=torch.Generator().manual_seed(0))


def test_fresh_model_starts_at_zero_velocity(clouds):
    # The output layer starts at zero; the other tests randomise it so that they can fail.
    out = CloudFlow(SMALL)(clouds, 0.5)
    assert out.shape == clouds.shape
    assert torch.count_nonzero(out) == 0


def test_randomised_model_is_not_trivial(flow_model, clouds):
    with torch.no_grad():
        out = flow_model(clouds, 0.3)
    assert out.abs().max() > 1e-2


def test_permutation_equivariant(flow_model, clouds):
    perm = torch.randperm(clouds.shape[1], generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.1, 0.5, 0.9])
    with torch.no_grad():
        out = flow_model(clouds, t)
        out_perm = flow_model(clouds[:, perm], t)
    torch.testing.assert_close(out_perm, out[:, perm], atol=1e-5, rtol=0)
    # and the output is not merely invariant (each point keeps its own velocity)
    assert not torch.allclose(out[:, perm], out, atol=1e-3)


@pytest.mark.parametrize("num_points", [100, 400])
def test_accepts_any_number_of_points(flow_model, num_points):
    x = torch.randn(2, num_points, 2)
    with torch.no_grad():
        out = flow_model(x, torch.rand(2))
    assert out.shape == (2, num_points, 2)
    assert torch.isfinite(out).all()


def test_continuous_time(flow_model, clouds):
    with torch.no_grad():
        a = flow_model(clouds, 0.123)
        b = flow_model(clouds, 0.124)
    assert not torch.allclose(a, b, atol=1e-6)
    assert (a - b).abs().max() < 0.5  # and it is smooth in t


def test_scalar_time_equals_per_cloud_time(flow_model, clouds):
    with torch.no_grad():
        a = flow_model(clouds, 0.25)
        b = flow_model(clouds, torch.full((3,), 0.25))
        c = flow_model(clouds, torch.tensor([0.25, 0.7, 0.25]))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(c[0], a[0])
    assert not torch.allclose(c[1], a[1])


def test_velocity_depends_on_the_other_points(flow_model, clouds):
    moved = clouds.clone()
    moved[:, 0] += torch.tensor([2.0, -1.5])
    with torch.no_grad():
        a = flow_model(clouds, 0.5)
        b = flow_model(moved, 0.5)
    # point 1 did not move, yet its velocity changed
    assert (a[:, 1] - b[:, 1]).abs().max() > 1e-4


def test_clouds_of_a_batch_do_not_interact(flow_model, clouds):
    moved = clouds.clone()
    moved[1] = torch.randn(60, 2)
    with torch.no_grad():
        a = flow_model(clouds, 0.5)
        b = flow_model(moved, 0.5)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[2], b[2])


@pytest.mark.parametrize("class_heads", [True, False])
def test_without_gradients_a_few_clouds_at_a_time_read_the_same(monkeypatch, class_heads):
    # 7 clouds of 60 points, read 2 at a time (120 points): every output as when the clouds are read at once (to
    # rounding: a matrix product's kernel may group its sums differently for fewer rows)
    model = make_flow(FlowConfig(width=32, depth=2, time_freqs=8, class_heads=class_heads), seed=3)
    x = torch.randn(7, 60, 2, generator=torch.Generator().manual_seed(4))
    t = torch.linspace(0.1, 0.9, 7)
    with torch.no_grad():
        whole = model(x, t)
        parts = model.class_parts(x, t) if class_heads else None
    sizes = []
    original = model._embedding  # the first step of both the plain and the fused evaluation
    monkeypatch.setattr(model, "_embedding", lambda xc, tc: sizes.append(xc.shape[0]) or original(xc, tc))
    monkeypatch.setattr(model_module, "INFERENCE_CHUNK_POINTS", 120)
    with torch.no_grad():
        torch.testing.assert_close(model(x, t), whole)
        assert sizes == [2, 2, 2, 1]
        if class_heads:
            for chunked, at_once in zip(model.class_parts(x, t), parts, strict=True):
                torch.testing.assert_close(chunked, at_once)
            v, p = model.gated_velocity(x, 0.5)  # a float time, for every cloud
            assert v.shape == x.shape and p.shape == (7,)
    sizes.clear()
    model(x, t).sum().backward()  # with gradients, one pass over the whole batch
    assert sizes == [7]


def test_config_and_size():
    config = FlowConfig(width=24, depth=3)
    model = CloudFlow(config)
    assert model.config == config
    assert config.to_dict()["arch"] == "cloudflow"
    # embed 34*24+24, time 32*24+24 + 24*24+24, 3 blocks of (norm 48, pool 600, mlp 1200 + 1176), out norm 48,
    # out 24*4+4, gate 24*24+24 + 24+1
    assert count_parameters(model) == 840 + 1392 + 3 * 3024 + 48 + 100 + 625
    assert (
        count_parameters(CloudFlow(FlowConfig(width=24, depth=3, class_heads=False))) == 840 + 1392 + 3 * 3024 + 48 + 50
    )
    assert count_parameters(CloudFlow(FlowConfig(width=48, depth=3))) > count_parameters(model)


def test_time_features():
    t = torch.tensor([0.0, 0.5, 1.0])
    f = time_features(t, 6)
    assert f.shape == (3, 12)
    torch.testing.assert_close(f[0], torch.cat([torch.zeros(6), torch.ones(6)]))
    # frequencies from 1 to 200, geometrically spaced: sines first, then cosines
    assert f[2, 0] == pytest.approx(math.sin(1.0)) and f[2, 5] == pytest.approx(math.sin(200.0), abs=1e-4)
    assert f[1, 6] == pytest.approx(math.cos(0.5)) and f[1, 7] == pytest.approx(math.cos(0.5 * 200 ** (1 / 5)))


def test_class_heads_gate_the_two_velocities(flow_model, clouds):
    # v = P(S) v_S + (1 - P(S)) v_roll, with P(S) the gate's sigmoid: one number per cloud
    v_s, v_roll, logit = flow_model.class_parts(clouds, 0.4)
    assert v_s.shape == v_roll.shape == clouds.shape and logit.shape == (clouds.shape[0],)
    assert not torch.allclose(v_s, v_roll)
    p = torch.sigmoid(logit)[:, None, None]
    torch.testing.assert_close(flow_model(clouds, 0.4), p * v_s + (1 - p) * v_roll)


def test_shift_gate_adds_its_nats_to_the_log_odds_and_nothing_else(flow_model, clouds):
    before = [flow_model.class_parts(clouds, t) for t in (0.0, 0.5, 1.0)]
    flow_model.shift_gate(1.25)
    for t, (v_s, v_roll, logit) in zip((0.0, 0.5, 1.0), before, strict=True):
        after_s, after_roll, after_logit = flow_model.class_parts(clouds, t)
        torch.testing.assert_close(after_logit, logit + 1.25)
        assert torch.equal(after_s, v_s) and torch.equal(after_roll, v_roll)  # the heads draw as they did
    plain = make_flow(FlowConfig(width=16, depth=1, time_freqs=4, class_heads=False))
    with pytest.raises(ValueError, match="no class heads"):
        plain.shift_gate(1.0)


def test_gate_ignores_point_order(flow_model, clouds):
    perm = torch.randperm(clouds.shape[1], generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(flow_model.class_parts(clouds[:, perm], 0.2)[2], flow_model.class_parts(clouds, 0.2)[2])


def test_plain_network_has_one_head(clouds):
    plain = make_flow(FlowConfig(width=32, depth=2, time_freqs=8, class_heads=False))
    assert plain.out.out_features == 2 and not hasattr(plain, "gate")
    assert plain(clouds, 0.5).shape == clouds.shape
    with pytest.raises(ValueError, match="no class heads"):
        plain.class_parts(clouds, 0.5)
    assert count_parameters(plain) < count_parameters(make_flow(FlowConfig(width=32, depth=2, time_freqs=8)))


def test_off_the_cpu_the_network_reads_the_whole_batch_at_once(monkeypatch):
    # a GPU wants large batches: off the CPU (here the shape-only "meta" device) no chunks, even without gradients
    model = make_flow(FlowConfig(width=32, depth=2, time_freqs=8), seed=3).to("meta")
    sizes = []
    original = model._embedding  # the first step of both the plain and the fused evaluation
    monkeypatch.setattr(model, "_embedding", lambda xc, tc: sizes.append(xc.shape[0]) or original(xc, tc))
    monkeypatch.setattr(model_module, "INFERENCE_CHUNK_POINTS", 120)
    with torch.no_grad():
        v = model(torch.empty(7, 60, 2, device="meta"), 0.5)
    assert v.shape == (7, 60, 2) and sizes == [7]
