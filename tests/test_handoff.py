"""toyflow.handoff: one network's field until a time, another's from it on, and its checkpoint."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY, make_flow
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from toyflow.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from toyflow.handoff import HandOff
from toyflow.model import CloudFlow
from toyflow.reference import ReferenceConfig


class Constant(nn.Module):
    """A velocity field that is ``value`` everywhere (with one parameter, so that it can be frozen)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))
        self.config = f"config of the field that returns {value}"

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        return torch.zeros_like(x) + self.value


def test_the_early_field_before_the_time_and_the_late_one_from_it_on():
    field = HandOff(Constant(1.0), Constant(2.0), 0.4)
    x = torch.zeros(3, 5, 2)
    assert field(x, 0.0).unique().tolist() == [1.0]
    assert field(x, 0.39).unique().tolist() == [1.0]
    assert field(x, 0.4).unique().tolist() == [2.0]
    assert field(x, torch.tensor(0.9)).unique().tolist() == [2.0]
    mixed = field(x, torch.tensor([0.1, 0.4, 0.7]))  # a batch of training times: each cloud by its own time
    assert mixed[:, 0, 0].tolist() == [1.0, 2.0, 2.0]
    assert field.config == "config of the field that returns 1.0"


def test_the_late_field_is_frozen_and_both_are_in_the_state():
    field = HandOff(Constant(1.0), Constant(2.0), 0.5)
    assert [p.requires_grad for p in field.parameters()] == [True, False]
    assert sorted(field.state_dict()) == ["early.value", "late.value"]


@pytest.mark.parametrize("time", [0.0, -0.1, 1.5, float("nan"), "0.4"])
def test_a_time_outside_the_path_is_refused(time):
    with pytest.raises(ValueError, match=r"a hand-off time must be in \(0, 1\]"):
        HandOff(Constant(1.0), Constant(2.0), time)


def test_checkpoint_round_trip_of_a_hand_off(tmp_path, tiny_model):
    late = make_flow(TINY, seed=5)
    torch.nn.init.normal_(late.out.weight)  # another field than the early one
    field = HandOff(tiny_model, late, 0.3)
    path = save_checkpoint(field, tmp_path / "b.safetensors")
    loaded, meta = load_checkpoint(path, device="cpu")
    assert isinstance(loaded, HandOff) and meta["handoff_time"] == 0.3 and loaded.time == 0.3
    assert isinstance(loaded.early, CloudFlow) and isinstance(loaded.late, CloudFlow)
    x = torch.randn(2, 50, 2)
    with torch.no_grad():
        for t in (0.1, 0.3, 0.8):
            assert torch.equal(loaded(x, t), field(x, t))
        assert not torch.equal(loaded(x, 0.1), loaded.late(x, 0.1))


def test_a_hand_off_checkpoint_with_a_bad_time_or_without_its_late_field(tmp_path, tiny_model):
    path = save_checkpoint(HandOff(tiny_model, make_flow(TINY, seed=5), 0.3), tmp_path / "b.safetensors")
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["toyflow"])
    reference = tmp_path / "reference.safetensors"
    as_reference = {**meta, "config": ReferenceConfig().to_dict()}
    save_file(tensors, str(reference), metadata={"toyflow": json.dumps(as_reference)})
    with pytest.raises(
        CheckpointError, match=r"its configuration does not make a network \(handoff_time is for CloudFlows only\)"
    ):
        load_checkpoint(reference, device="cpu")
    bad = tmp_path / "bad_time.safetensors"
    save_file(tensors, str(bad), metadata={"toyflow": json.dumps({**meta, "handoff_time": 0})})
    with pytest.raises(CheckpointError, match=r"metadata 'handoff_time' must lie in \(0, 1\], got 0"):
        load_checkpoint(bad, device="cpu")
    early_only = tmp_path / "early_only.safetensors"
    early = {k: v for k, v in tensors.items() if k.startswith("early.")}
    save_file(early, str(early_only), metadata={"toyflow": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="weights do not match its configuration"):
        load_checkpoint(early_only, device="cpu")


def test_each_network_learns_only_from_its_own_side_of_the_time():
    early, late = make_flow(TINY, seed=5), make_flow(TINY, seed=6)
    field = HandOff(early, late, 0.5)
    late.requires_grad_(True)  # frozen when built; unfrozen here to see where its gradients come from
    x = torch.randn(4, 30, 2)
    field(x, torch.tensor([0.1, 0.2, 0.3, 0.4])).square().sum().backward()  # all before the hand-off
    assert all(p.grad is None for p in late.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in early.parameters())
    early.zero_grad(set_to_none=True)
    field(x, torch.tensor([0.6, 0.7, 0.8, 0.9])).square().sum().backward()  # all from it on
    assert all(p.grad is None for p in early.parameters())
    mixed = torch.tensor([0.1, 0.9, 0.1, 0.9])
    early.zero_grad(set_to_none=True)
    late.zero_grad(set_to_none=True)
    v = field(x, mixed)
    v[1].sum().backward()  # a cloud after the hand-off: its velocity is the late network's alone
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in early.parameters())
    with torch.no_grad():
        assert torch.equal(v[0], early(x, mixed)[0]) and torch.equal(v[1], late(x, mixed)[1])


def test_only_a_hand_off_of_two_cloudflows_of_one_configuration_is_saved(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="a hand-off is saved as two CloudFlows of one config"):
        save_checkpoint(HandOff(tiny_model, make_flow(seed=5), 0.3), tmp_path / "mixed.safetensors")
    nested = HandOff(HandOff(tiny_model, make_flow(TINY, seed=5), 0.3), make_flow(TINY, seed=6), 0.4)
    with pytest.raises(ValueError, match="a hand-off is saved as two CloudFlows of one config"):
        save_checkpoint(nested, tmp_path / "nested.safetensors")
    assert not list(tmp_path.iterdir())
