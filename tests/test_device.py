"""toyflow.device and CUDA: train on the GPU, save, load on the CPU, same samples (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from toyflow.checkpoint import load_checkpoint, save_checkpoint
from toyflow.data import draw_noise
from toyflow.device import autocast_dtype, make_generator, precision_context, resolve_device
from toyflow.solver import sample
from toyflow.training import Recipe, train

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is false)"
)


def test_resolve_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device().type == expected
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_make_generator():
    g = torch.Generator().manual_seed(1)
    assert make_generator(g) is g
    a = torch.rand(3, generator=make_generator(5))
    assert torch.equal(a, torch.rand(3, generator=make_generator(5)))
    assert make_generator(None).initial_seed() != make_generator(None).initial_seed()


def test_autocast_dtype():
    assert autocast_dtype("cpu", "float32") is None
    assert autocast_dtype("cpu", "bfloat16") is torch.bfloat16
    native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert autocast_dtype("cpu") is (torch.bfloat16 if native else None)
    with pytest.raises(ValueError, match="unknown precision 'float16'; expected one of"):
        autocast_dtype("cpu", "float16")


@pytest.mark.cuda
@needs_cuda
def test_train_on_cuda_then_load_and_sample_on_cpu(tmp_path):
    recipe = Recipe(config=TINY, batch_size=4, train_points=64, pool_size=16)
    result = train(recipe=recipe, steps=2, device="cuda", progress=False)
    assert next(result.model.parameters()).device.type == "cuda"
    path = save_checkpoint(result.model, tmp_path / "gpu.safetensors", steps=result.steps)
    cpu_model, meta = load_checkpoint(path, device="cpu")
    gpu_model, _ = load_checkpoint(path, device="cuda")
    assert next(cpu_model.parameters()).device.type == "cpu" and meta["steps"] == 2
    # the same seed gives the same noise on both devices, and the same clouds within rounding
    noise_cpu = draw_noise(3, 64, seed=0)
    noise_gpu = draw_noise(3, 64, seed=0, device="cuda")
    assert torch.equal(noise_gpu.cpu(), noise_cpu)
    on_cpu = sample(cpu_model, noise_cpu, steps=4)
    on_gpu = sample(gpu_model, noise_gpu, steps=4)
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-4, rtol=0)


@pytest.mark.cuda
@needs_cuda
def test_a_preference_round_on_cuda():
    from conftest import make_flow

    from toyflow.judge import judge
    from toyflow.preference import MethodSettings, PreferenceSession

    settings = MethodSettings(steps=2, batch_size=4, pool_size=8, kernel_points=16, fm_batch=4)
    session = PreferenceSession(make_flow(TINY, seed=1), seed=0, sampler_steps=4, settings=settings, device="cuda")
    proposal = session.propose(4, seed=3)
    assert proposal.noise.device.type == "cuda" and torch.equal(proposal.noise.cpu(), draw_noise(4, seed=3))
    before = {k: v.clone() for k, v in session.b.state_dict().items()}
    assert session.give(ticks=[1]).updated
    assert any(not torch.equal(before[k], v) for k, v in session.b.state_dict().items())
    same = session.resample(proposal.noise)
    assert same.device.type == "cuda" and same.shape == (4, 400, 2)
    assert judge(same).is_s.shape == (4,)  # the judge reads GPU clouds too


@pytest.mark.cuda
@needs_cuda
def test_undo_views_and_replay_on_cuda(tmp_path):
    from conftest import make_flow

    from toyflow.preference import MethodSettings, PreferenceSession, ViewMeter, play_round, replay
    from toyflow.preference.labels import Answer

    settings = MethodSettings(steps=2, batch_size=4, pool_size=8, kernel_points=16, fm_batch=4)
    session = PreferenceSession(make_flow(TINY, seed=1), seed=0, sampler_steps=4, settings=settings, device="cuda")
    before = {k: v.clone() for k, v in session.b.state_dict().items()}
    result = play_round(session, Answer(ticks=[0, 2]), session.propose(4))
    views = ViewMeter(session).same_noise(result.proposal, trace_b=result.b_trace)
    assert views.p_b.device.type == "cpu" and torch.equal(views.trajectory_b[-1], result.b_same)
    assert sum(ViewMeter(session).bank().flips.counts.values()) == 32
    path = session.log.write(tmp_path / "log.json")
    replayed = replay(make_flow(TINY, seed=1).to("cuda"), path, device="cuda")
    assert replayed.exact, replayed.describe()
    session.undo()
    assert all(torch.equal(before[k], v) for k, v in session.b.state_dict().items())


@pytest.mark.cuda
@needs_cuda
def test_a_label_free_b_handed_off_on_cuda_saves_and_loads_on_cpu(tmp_path):
    from dataclasses import replace

    from conftest import make_flow

    from toyflow.handoff import HandOff
    from toyflow.preference import MethodSettings, PreferenceSession

    settings = MethodSettings(steps=2, batch_size=4, pool_size=8, kernel_points=16, fm_batch=4, tilt_nats=1e-6)
    model_a = make_flow(replace(TINY, class_heads=False), seed=1)
    session = PreferenceSession(model_a, seed=0, sampler_steps=4, settings=settings, device="cuda")
    assert isinstance(session.b, HandOff) and next(session.b.late.parameters()).device.type == "cuda"
    for r in range(2):
        session.propose(4, seed=r)
        session.give(ticks=[0, 1])
    noise = draw_noise(3, seed=5)
    on_gpu = session.resample(noise.to("cuda"))
    b, meta = load_checkpoint(session.save(tmp_path / "b.safetensors"), device="cpu")
    assert isinstance(b, HandOff) and meta["handoff_time"] == settings.handoff_time
    assert next(b.early.parameters()).device.type == "cpu" and next(b.late.parameters()).device.type == "cpu"
    on_cpu = session.sampler.sample(b, noise)
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=2e-2, rtol=0)  # bfloat16 on either side


def test_precision_context_runs_the_network_in_that_precision():
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    with precision_context("cpu", "bfloat16"):
        assert layer(x).dtype == torch.bfloat16
    with precision_context("cpu", "float32"):
        assert layer(x).dtype == torch.float32
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        precision_context("cpu", "float16")
