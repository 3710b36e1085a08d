"""toyflow.reference and toyflow.reference_training: the original network, noise, loss and recipe, kept faithfully."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toyflow.model import CloudFlow, count_parameters
from toyflow.reference import (
    SAMPLER_STEPS,
    ReferenceConfig,
    ReferenceFlow,
    is_reference,
    reference_loss,
    reference_noise,
)
from toyflow.reference_training import REFERENCE_HOOKS, reference_recipe
from toyflow.solver import Sampler


@pytest.fixture(scope="module")
def reference() -> ReferenceFlow:
    torch.manual_seed(0)
    return ReferenceFlow().eval()


def test_parameter_count(reference):
    total = count_parameters(reference)
    norms = sum(p.numel() for m in reference.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters())
    assert 740_000 <= total <= 760_000
    assert 600_000 <= norms <= 620_000  # LayerNorms over the whole [400, 256] cloud


def test_accepts_only_its_number_of_points(reference):
    with torch.no_grad():
        assert reference(torch.randn(2, 400, 2), torch.rand(2)).shape == (2, 400, 2)
    with pytest.raises(ValueError, match="400"):
        reference(torch.randn(2, 100, 2), torch.rand(2))


def test_time_is_a_lookup_table_of_100_bins(reference):
    x = torch.randn(1, 400, 2)
    with torch.no_grad():
        same_bin = reference(x, 0.121), reference(x, 0.129)
        next_bin = reference(x, 0.131)
    torch.testing.assert_close(same_bin[0], same_bin[1])
    assert not torch.allclose(same_bin[0], next_bin)


def test_reference_noise():
    z = reference_noise((3, 400, 2), torch.Generator().manual_seed(0))
    assert z.shape == (3, 400, 2)
    assert z.min().item() == -1.0 and z.max().item() == 1.0
    assert torch.equal(z, reference_noise((3, 400, 2), torch.Generator().manual_seed(0)))


def test_reference_loss_sums_over_points():
    model = ReferenceFlow(ReferenceConfig(hidden=8, layers=1, num_points=10))
    x0, x1 = torch.randn(2, 10, 2), torch.randn(2, 10, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # zero velocity: the loss is the summed squared target
    loss = reference_loss(model, x1, x0, torch.rand(2))
    assert loss.item() == pytest.approx((x1 - x0).pow(2).sum(dim=(1, 2)).mean().item(), rel=1e-6)


def test_recipe_and_sampler(reference):
    recipe = reference_recipe(steps=10)
    assert recipe.steps == 10 and recipe.s_fraction == 0.5 and recipe.ot_chunk == 0 and recipe.ema == 0
    assert recipe.to_dict()["config"]["arch"] == "reference"
    # every batch is whole clouds of 400 points, paired independently: the reference network needs exactly that
    assert recipe.pair_pool == 0 and recipe.subset_points == 0 and not recipe.pair_clouds
    assert recipe.precision == "float32" and recipe.time_law.kind == "uniform"
    assert is_reference(reference) and not is_reference(CloudFlow())
    assert Sampler.from_meta(reference) == Sampler("euler", SAMPLER_STEPS, "float32")


@pytest.mark.slow
def test_the_reference_recipe_trains_a_few_steps():
    from toyflow.training import train

    recipe = reference_recipe(steps=3)
    recipe.batch_size, recipe.pool_size = 4, 8
    result = train(recipe=recipe, progress=False, hooks=REFERENCE_HOOKS)
    assert result.steps == 3 and all(loss > 0 for loss in result.losses)


def test_the_hooks_are_the_reference_noise_and_loss():
    assert REFERENCE_HOOKS.loss_fn is reference_loss
    z = REFERENCE_HOOKS.noise_fn(torch.zeros(2, 400, 2), torch.Generator().manual_seed(0))
    assert torch.equal(z, reference_noise((2, 400, 2), torch.Generator().manual_seed(0)))
