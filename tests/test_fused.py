"""The fused evaluation (sampling on a CPU): when it runs, that in bfloat16 it is the same network, closer to float32
than autocast's, and that in float32 it gives the plain path's values."""

from __future__ import annotations

import contextlib

import pytest
import torch

from toyflow import fused, load_checkpoint
from toyflow.data import draw_noise
from toyflow.model import SetBlock
from toyflow.shipped import shipped_checkpoint
from toyflow.solver import Sampler

needs_kernels = pytest.mark.skipif(not fused.available(), reason="no oneDNN bfloat16 kernels on this processor")
needs_linear_kernels = pytest.mark.skipif(not fused.linear_kernels(), reason="no oneDNN fused linear kernels")


@pytest.fixture
def fused_calls(monkeypatch) -> list[torch.dtype]:
    """The dtype of the features each block's fused evaluation receives, call by call."""
    calls: list[torch.dtype] = []
    original = SetBlock.fused_forward
    monkeypatch.setattr(
        SetBlock, "fused_forward", lambda self, h, temb: calls.append(h.dtype) or original(self, h, temb)
    )
    return calls


def test_it_runs_only_without_gradients_on_the_cpu_in_bfloat16_or_float32():
    x = torch.zeros(1, 4, 2)
    float32 = torch.float32 if fused.linear_kernels() else None
    assert fused.compute_dtype(x) is None and not fused.active(x)  # gradients on
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fused.compute_dtype(x) is None  # training: gradients
    with torch.no_grad():
        assert fused.compute_dtype(x) is float32  # float32, autocast off
        assert fused.active(x) == fused.linear_kernels()
        assert fused.compute_dtype(x.double()) is None  # float64 features: the plain path
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert fused.compute_dtype(x) is (torch.bfloat16 if fused.available() else None)
            assert fused.active(x) == fused.available()
            assert not fused.active(x.to("meta"))  # another device
        with torch.autocast("cpu", dtype=torch.float16):
            assert not fused.active(x)  # a type it has no kernels for
        assert not fused.active(x.to("meta"))


def _velocities(model: torch.nn.Module, x: torch.Tensor, t: float, monkeypatch) -> tuple[torch.Tensor, ...]:
    """The velocity at ``x``, ``t`` in float32, the fused way, and by autocast's bfloat16 (the fused way off)."""
    with torch.no_grad():
        exact = model(x, t)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = model(x, t)
            with monkeypatch.context() as m:
                m.setattr(fused, "active", lambda *args: False)
                autocast = model(x, t)
    return exact, fast, autocast


@needs_kernels
@pytest.mark.parametrize("name", ["model_a", "model_a_label_free"])
def test_the_fused_velocity_is_the_network_s_and_closer_to_float32_than_autocast(name, monkeypatch, fused_calls):
    model, _ = load_checkpoint(shipped_checkpoint(name), device="cpu")
    noise = draw_noise(6, 400, 1, "cpu", model.config.noise_radius)
    for t in (0.0, 0.5, 0.9):
        x = (1 - t) * noise + t * torch.tanh(noise.flip(1))
        exact, fast, autocast = _velocities(model, x, t, monkeypatch)
        scale = exact.abs().mean()
        fast_error, autocast_error = (fast - exact).abs().mean() / scale, (autocast - exact).abs().mean() / scale
        assert fast.dtype == exact.dtype == torch.float32 and fast.shape == x.shape
        assert fast_error < 0.01 and fast_error < autocast_error, (t, fast_error, autocast_error)
    assert fused_calls == [torch.bfloat16] * 3 * len(model.blocks), "the blocks ran fused under autocast only"


@needs_kernels
def test_sampling_uses_it_and_draws_the_float32_clouds_to_rounding(fused_calls):
    model, meta = load_checkpoint(shipped_checkpoint("model_a"), device="cpu")
    sampler = Sampler.from_meta(model, meta)
    assert sampler.precision == "auto"
    noise = draw_noise(4, 400, 2, "cpu", model.config.noise_radius)
    clouds = sampler.sample(model, noise)
    assert fused_calls == [torch.bfloat16] * sampler.steps * len(model.blocks)
    exact = sampler.with_(precision="float32").sample(model, noise)
    assert (clouds - exact).abs().mean() < 2e-3
    calls = len(fused_calls)
    model.train()
    model(noise, 0.5).sum().backward()  # training: the plain path, with gradients
    assert len(fused_calls) == calls


@needs_kernels
def test_training_only_the_gate_and_heads_reads_the_trunk_fused(fused_calls):
    # B's update on a gated network trains the gate and the heads only: the trunk needs no gradient
    model, _ = load_checkpoint(shipped_checkpoint("model_a"), device="cpu")
    gate, heads = model.shape_parameters()
    model.requires_grad_(False)
    for p in gate + heads:
        p.requires_grad_(True)
    x = draw_noise(3, 400, 3, "cpu", model.config.noise_radius)

    def gradients(precision: bool) -> list[torch.Tensor]:
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision):
            model(x, 0.7).pow(2).mean().backward()
        return [p.grad.clone() for p in gate + heads]

    exact, fast = gradients(False), gradients(True)
    blocks = len(model.blocks)
    assert fused_calls == [torch.float32] * blocks + [torch.bfloat16] * blocks, "both passes read the trunk fused"
    assert all(p.grad is None for p in model.embed.parameters())
    for a, b in zip(fast, exact, strict=True):
        assert (a - b).norm() < 0.02 * b.norm()
    model.embed.weight.requires_grad_(True)  # a trunk that learns: the plain path, with gradients through it
    gradients(True)
    gradients(False)
    assert len(fused_calls) == 2 * blocks and model.embed.weight.grad is not None


def test_weights_held_round_each_weight_once_until_it_changes():
    weight = torch.tensor([1.0, 2.0 + 2**-10])
    assert fused.low(weight) is not fused.low(weight)  # outside: a new copy at each use
    with fused.weights_held():
        first = fused.low(weight)
        assert first.dtype == torch.bfloat16 and first.tolist() == [1.0, 2.0]
        with fused.weights_held():  # nested: the outer one holds the copies
            assert fused.low(weight) is first
        assert fused.low(weight) is first
        with torch.no_grad():
            weight.mul_(3)  # changed in place: rounded again
        assert fused.low(weight).tolist() == [3.0, 6.0]
    assert fused.low(weight) is not first


@needs_kernels
def test_sampling_with_the_weights_held_draws_the_same_clouds_to_the_bit(monkeypatch):
    model, meta = load_checkpoint(shipped_checkpoint("model_a_label_free"), device="cpu")
    sampler = Sampler.from_meta(model, meta)
    noise = draw_noise(3, 400, 5, "cpu", model.config.noise_radius)
    held = sampler.sample(model, noise)
    copies: list[torch.Tensor] = []
    original = fused.low
    monkeypatch.setattr(fused, "low", lambda w: copies.append(original(w)) or copies[-1])
    assert torch.equal(sampler.sample(model, noise), held)
    weights = 6 * len(model.blocks) + 2  # each block's layer norm and two products (weight and bias), out_norm's
    assert len(copies) == sampler.steps * weights and len({id(c) for c in copies}) == weights
    monkeypatch.setattr(fused, "weights_held", contextlib.nullcontext)
    assert torch.equal(sampler.sample(model, noise), held)


@needs_linear_kernels
@pytest.mark.parametrize("name", ["model_a", "model_a_label_free"])
def test_in_float32_it_gives_the_plain_path_s_velocities_and_clouds(name, monkeypatch, fused_calls):
    model, meta = load_checkpoint(shipped_checkpoint(name), device="cpu")
    sampler = Sampler.from_meta(model, meta).with_(precision="float32")
    noise = draw_noise(30, 400, 4, "cpu", model.config.noise_radius)  # more clouds than a chunk: two and a part

    def velocities_and_clouds() -> tuple[torch.Tensor, ...]:
        with torch.no_grad():
            velocities = [model(noise, t) for t in (0.0, 0.5, 0.9)]
        return (*velocities, sampler.sample(model, noise))

    fast = velocities_and_clouds()
    calls = len(fused_calls)
    assert calls >= (3 + sampler.steps) * len(model.blocks) and set(fused_calls) == {torch.float32}
    monkeypatch.setattr(fused, "compute_dtype", lambda *args: None)
    plain = velocities_and_clouds()
    assert len(fused_calls) == calls, "the plain path ran unfused"
    for a, b in zip(fast, plain, strict=True):
        assert a.dtype == b.dtype == torch.float32 and a.shape == b.shape
        # the same to the bit where oneDNN's products sum as torch's own (measured on an AVX2 processor); in any
        # case to float32's rounding
        assert (a - b).abs().max() <= 1e-5 * b.abs().max(), (a - b).abs().max()
