"""toyflow.muon: the orthogonalised step, its size, and what it refuses."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.muon import NEWTON_SCHULZ, RMS_MATCH, Muon, orthogonalise


@pytest.mark.parametrize("shape", [(5, 32, 64), (3, 34, 64), (2, 8, 128)])
def test_orthogonalise_brings_every_singular_value_near_one_whatever_the_scale(shape):
    g = torch.Generator().manual_seed(0)
    # rows 10 times apart in size: singular values spread over more than a decade
    updates = torch.randn(shape, generator=g) * torch.logspace(-1, 0, shape[1])[None, :, None]
    out = orthogonalise(updates)
    assert out.shape == updates.shape
    singular = torch.linalg.svdvals(out)
    assert float(singular.min()) > 0.6 and float(singular.max()) < 1.25, singular
    torch.testing.assert_close(orthogonalise(1000 * updates), out, rtol=1e-4, atol=1e-5)


def test_a_rank_one_gradient_steps_along_its_unit_direction_by_the_quintics_value_at_one():
    u, v = torch.tensor([3.0, 0.0, 4.0]), torch.tensor([1.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    weight = torch.nn.Parameter(torch.zeros(3, 8))
    weight.grad = torch.outer(u, v)  # singular value 15, direction outer(u, v) / 15
    Muon([weight], lr=0.1, momentum=0.9).step()
    s = 1.0  # the normalised update's only singular value, through five quintic steps
    a, b, c = NEWTON_SCHULZ
    for _ in range(5):
        s = a * s + b * s**3 + c * s**5
    expected = -0.1 * RMS_MATCH * math.sqrt(8) * s * torch.outer(u, v) / 15
    torch.testing.assert_close(weight.detach(), expected)


def test_muon_steps_like_torchs_muon_matched_to_adamw(recwarn):
    torch.manual_seed(0)
    shapes = [(64, 64), (128, 64), (64, 128), (64, 34)]
    ours = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    mine = Muon(ours, lr=0.01, momentum=0.95)
    reference = torch.optim.Muon(theirs, lr=0.01, weight_decay=0.0, momentum=0.95, adjust_lr_fn="match_rms_adamw")
    before = [p.detach().clone() for p in ours]
    for step in range(3):
        for a, b in zip(ours, theirs, strict=True):
            a.grad = torch.sin(a.detach() * (step + 1))
            b.grad = torch.sin(b.detach() * (step + 1))
        mine.step()
        reference.step()
    for a, b, start in zip(ours, theirs, before, strict=True):
        moved = (b.detach() - start).norm()
        assert float((a.detach() - b.detach()).norm()) < 0.03 * float(moved)  # torch's orthogonalises in bfloat16


def test_a_tall_matrix_steps_as_the_transpose_of_its_transpose():
    torch.manual_seed(1)
    tall = torch.nn.Parameter(torch.randn(40, 16))
    wide = torch.nn.Parameter(tall.detach().mT.clone())
    grad = torch.randn(40, 16)
    tall.grad, wide.grad = grad, grad.mT.clone()
    Muon([tall], lr=0.05).step()
    Muon([wide], lr=0.05).step()
    torch.testing.assert_close(tall.detach(), wide.detach().mT, rtol=0, atol=0)


def test_weight_decay_alone_shrinks_and_a_matrix_without_gradient_stays():
    decayed = torch.nn.Parameter(torch.ones(4, 4))
    decayed.grad = torch.zeros(4, 4)
    idle = torch.nn.Parameter(torch.ones(4, 4))
    Muon([decayed, idle], lr=0.1, weight_decay=0.5).step()
    torch.testing.assert_close(decayed.detach(), torch.full((4, 4), 0.95))
    assert torch.equal(idle.detach(), torch.ones(4, 4))


def test_muon_refuses_what_is_not_a_matrix_and_a_momentum_outside_its_range():
    with pytest.raises(ValueError, match=r"Muon steps weight matrices only, got a parameter of shape \(4,\)"):
        Muon([torch.nn.Parameter(torch.ones(4))], lr=0.1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        Muon([torch.nn.Parameter(torch.ones(2, 2))], lr=0.1, momentum=1.0)
