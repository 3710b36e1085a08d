"""B's optimiser: the same bits as torch.optim.Adam, its state saved and restored, bad state refused."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from conftest import REPO, SMALL, make_flow, same_weights, weights

from toyflow.preference.optimizer import Adam


def groups_of(model: torch.nn.Module) -> list[dict]:
    """Two groups at different rates, as reward-fm gives a model with class heads (gate, heads); the trunk has no
    group and takes no step."""
    gate, heads = model.shape_parameters()
    return [{"params": gate, "lr": 8e-2}, {"params": heads, "lr": 3e-4}]


def loss_of(model: torch.nn.Module, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 20, 2, generator=gen)
    return model(x, torch.rand(3, generator=gen)).pow(2).mean()


def train(model: torch.nn.Module, opt, steps: int, scales: list[float]) -> None:
    for step in range(steps):
        for group, base in zip(opt.param_groups, (8e-2, 3e-4), strict=True):
            group["lr"] = base * scales[step % len(scales)]  # as the workbench scales them by the belief
        opt.zero_grad()
        loss_of(model, step).backward()
        opt.step()


def test_adam_takes_the_same_steps_as_torch_adam_to_the_bit():
    ours, theirs = make_flow(SMALL, seed=1), make_flow(SMALL, seed=1)
    train(ours, Adam(groups_of(ours)), 7, [1.0, 0.3, 0.0, 0.8])
    train(theirs, torch.optim.Adam(groups_of(theirs)), 7, [1.0, 0.3, 0.0, 0.8])
    before = make_flow(SMALL, seed=1)
    assert not torch.equal(ours.gate[0].weight, before.gate[0].weight)  # it moved
    assert same_weights(weights(ours), weights(theirs))
    assert torch.equal(ours.blocks[0].mlp[0].weight, before.blocks[0].mlp[0].weight)  # no group: no step


def test_adam_keeps_state_only_for_parameters_with_a_gradient():
    model = make_flow(SMALL, seed=1)
    opt = Adam(groups_of(model))
    gate, heads = model.shape_parameters()
    opt.zero_grad()
    model.gate(torch.randn(2, SMALL.width)).sum().backward()  # the heads get no gradient
    opt.step()
    assert set(opt.state) == set(gate)
    assert all(s["step"] == 1 and s["exp_avg"].shape == p.shape for p, s in opt.state.items())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_a_saved_state_restores_the_same_next_steps():
    model = make_flow(SMALL, seed=1)
    opt = Adam(groups_of(model))
    train(model, opt, 3, [1.0])
    saved_model, saved_opt = weights(model), copy.deepcopy(opt.state_dict())
    train(model, opt, 2, [1.0])
    after = weights(model)

    model.load_state_dict(saved_model)
    restored = Adam(groups_of(model))
    restored.load_state_dict(copy.deepcopy(saved_opt))
    assert [g["lr"] for g in restored.param_groups] == [8e-2, 3e-4]
    train(model, restored, 2, [1.0])
    assert same_weights(weights(model), after)
    assert saved_opt["param_groups"][1]["params"] == list(range(4, 6))  # the gate's 4 tensors, then the heads' 2


def test_a_state_of_other_groups_is_refused_and_changes_nothing():
    model = make_flow(SMALL, seed=1)
    opt = Adam(groups_of(model))
    train(model, opt, 1, [1.0])
    whole = Adam([{"params": list(model.parameters()), "lr": 1e-3}])
    with pytest.raises(ValueError, match="groups of \\[4, 2\\] parameters, not \\[30\\]"):
        whole.load_state_dict(opt.state_dict())
    swapped = Adam([{"params": list(model.out.parameters()), "lr": 1.0}, {"params": [model.gate[0].weight], "lr": 1.0}])
    state = opt.state_dict()
    state["param_groups"] = [{**state["param_groups"][1]}, {**state["param_groups"][0], "params": [2]}]
    state["state"] = {0: state["state"][4], 1: state["state"][5], 2: state["state"][2]}  # out, then gate[2].weight
    with pytest.raises(ValueError, match="parameter 2 does not fit"):
        swapped.load_state_dict(state)
    assert swapped.state == {} and [g["lr"] for g in swapped.param_groups] == [1.0, 1.0]
    with pytest.raises(ValueError, match="needs its learning rate"):
        Adam([{"params": list(model.parameters())}])


def test_a_session_never_imports_the_compiler_stack():
    """torch.optim's first use imports torch._dynamo (77 MiB of a session's peak memory): a round must not."""
    code = (
        "import sys, torch\n"
        "from toyflow.model import CloudFlow, FlowConfig\n"
        "from toyflow.preference import MethodSettings, PreferenceSession\n"
        "fast = MethodSettings(steps=2, batch_size=4, pool_size=8, kernel_points=16, fm_batch=4, time_samples=2)\n"
        "s = PreferenceSession(CloudFlow(FlowConfig(width=16, depth=1, time_freqs=4)), seed=0, sampler_steps=2,"
        " settings=fast)\n"
        "s.propose(4); s.give(ticks=[0]); s.propose(4); s.give(ticks=[1, 2])\n"
        "assert s.b_version > 0\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
