"""Model A's Adam and AdamW: torch.optim's fused form to the bit, without importing the compiler stack."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import REPO, TINY

from toyflow.adamw import FusedAdam, has_kernels
from toyflow.model import CloudFlow


def twins() -> tuple[CloudFlow, CloudFlow]:
    torch.manual_seed(0)
    ours, theirs = CloudFlow(TINY), CloudFlow(TINY)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@pytest.mark.parametrize(("decoupled", "reference"), [(True, torch.optim.AdamW), (False, torch.optim.Adam)])
def test_steps_as_torch_optims_fused_form_to_the_bit(decoupled, reference):
    ours, theirs = twins()
    mine = FusedAdam(ours.parameters(), lr=3e-3, weight_decay=0.01, decoupled=decoupled)
    torchs = reference(theirs.parameters(), lr=3e-3, weight_decay=0.01, fused=True)
    x, target = torch.randn(3, 16, 2), torch.randn(3, 16, 2)
    # rates as a schedule sets them, one of them 0; the output layer starts at zero, so only later steps move the
    # trunk: five steps
    for lr in (3e-3, 1e-3, 0.0, 2e-3, 5e-3):
        for model, opt in ((ours, mine), (theirs, torchs)):
            opt.param_groups[0]["lr"] = lr
            opt.zero_grad()
            (model(x, 0.3) - target).pow(2).sum().backward()
            opt.step()
    assert ours.embed.weight.grad.abs().max() > 0
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b), name
        assert torch.equal(mine.state[a]["exp_avg_sq"], torchs.state[b]["exp_avg_sq"]), name
        assert mine.state[a]["step"].item() == torchs.state[b]["step"].item() == 5


def test_a_parameter_without_a_gradient_is_left_as_it_is():
    model, _ = twins()
    opt = FusedAdam(model.parameters(), lr=1e-2, weight_decay=0.1)
    (model(torch.randn(2, 16, 2), 0.5) ** 2).sum().backward()
    model.embed.weight.grad = None
    before = model.embed.weight.clone()
    opt.step()
    assert torch.equal(model.embed.weight, before) and model.embed.weight not in opt.state
    assert model.out.bias in opt.state
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_parameters_the_kernels_cannot_step_are_refused():
    assert has_kernels([torch.zeros(2)]) and not has_kernels([torch.zeros(2, dtype=torch.int64)])
    with pytest.raises(ValueError, match="floating-point parameters on a CPU or a CUDA device only"):
        FusedAdam([torch.zeros(2, dtype=torch.int64)], lr=1e-3)


def test_training_model_a_never_imports_the_compiler_stack():
    """torch.optim's first optimiser imports torch._dynamo (1.2 s of a training's start): model A's recipe must not."""
    code = (
        "import sys\n"
        "from conftest import TINY\n"
        "from toyflow.training import Recipe, train\n"
        "for optimizer in ('muon', 'adamw', 'adam'):\n"
        "    recipe = Recipe(config=TINY, batch_size=4, train_points=64, pool_size=16, optimizer=optimizer)\n"
        "    train(recipe=recipe, steps=2, progress=False)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO / "tests", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
