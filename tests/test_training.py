"""toyflow.training: the loop runs, calls back, honours step and time budgets, and is reproducible."""

from __future__ import annotations

import math
import time

import pytest
import torch
from conftest import TINY

from toyflow.data import CloudStream
from toyflow.model import CloudFlow
from toyflow.reference import ReferenceConfig, ReferenceFlow, reference_loss, reference_noise
from toyflow.training import Recipe, TrainingHooks, TrainResult, lr_factor, train


def tiny_recipe(**overrides) -> Recipe:
    return Recipe(**{"config": TINY, "batch_size": 4, "train_points": 64, "pool_size": 16, **overrides})


def test_train_steps_and_callback():
    calls = []
    result = train(
        recipe=tiny_recipe(), steps=5, progress=False, callback=lambda step, loss: calls.append((step, loss))
    )
    assert isinstance(result, TrainResult)
    assert result.steps == 5 and len(result.losses) == 5
    assert all(math.isfinite(loss) and loss > 0 for loss in result.losses)
    assert [step for step, _ in calls] == [1, 2, 3, 4, 5]
    assert [loss for _, loss in calls] == result.losses
    assert isinstance(result.model, CloudFlow) and not result.model.training
    assert result.seconds > 0


@pytest.mark.parametrize("ema", [0.0, 0.999])
def test_training_moves_the_weights(ema):
    torch.manual_seed(0)
    model = CloudFlow(TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = train(model=model, recipe=tiny_recipe(ema=ema), steps=3, progress=False)
    after = result.model.state_dict()
    assert not torch.equal(after["out.weight"], before["out.weight"])  # zero at init, trained away from it
    if ema == 0.0:
        assert result.model is model
    else:
        assert result.model is not model  # the moving average is returned, not the raw weights


def test_plain_and_class_head_networks_both_train():
    from dataclasses import replace

    plain = replace(TINY, class_heads=False)
    for config in (TINY, plain):
        result = train(recipe=tiny_recipe(config=config, ema=0.0), steps=3, progress=False)
        assert result.model.config.class_heads == config.class_heads
        assert all(math.isfinite(loss) for loss in result.losses)
    # the gate learns from the mixture's labels
    torch.manual_seed(0)
    model = CloudFlow(TINY)
    gate_before = model.gate[2].weight.clone()
    train(model=model, recipe=tiny_recipe(ema=0.0), steps=3, progress=False)
    assert not torch.equal(model.gate[2].weight, gate_before)


def test_training_is_reproducible():
    a = train(recipe=tiny_recipe(seed=3), steps=3, progress=False)
    b = train(recipe=tiny_recipe(seed=3), steps=3, progress=False)
    c = train(recipe=tiny_recipe(seed=4), steps=3, progress=False)
    assert a.losses == b.losses
    assert a.losses != c.losses
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_seconds_budget_stops():
    start = time.perf_counter()
    result = train(recipe=tiny_recipe(), seconds=0.3, progress=False)
    wall = time.perf_counter() - start
    assert result.steps >= 1 and len(result.losses) == result.steps
    assert result.seconds < 0.3 + 1.0  # stops after the step that crosses the budget
    assert wall < 10


def test_steps_win_over_a_longer_time_budget():
    result = train(recipe=tiny_recipe(), steps=2, seconds=60, progress=False)
    assert result.steps == 2


def test_explicit_stream_and_reference_plug_ins():
    config = ReferenceConfig(hidden=8, layers=1, num_points=32)
    stream = CloudStream(batch_size=3, s_fraction=0.5, num_points=32, seed=0, pool_size=4)
    seen = []

    def noise_fn(x1, gen):
        z = reference_noise(x1.shape, gen)
        seen.append(z)
        return z

    recipe = tiny_recipe(config=config, ot_chunk=0, ema=0.0, schedule="constant", optimizer="adam")
    result = train(recipe=recipe, steps=2, progress=False, stream=stream, hooks=TrainingHooks(noise_fn, reference_loss))
    assert isinstance(result.model, ReferenceFlow) and result.steps == 2
    assert len(seen) == 2 and all(z.shape == (3, 32, 2) and z.min() == -1 and z.max() == 1 for z in seen)


def test_a_pair_pool_trains_on_its_first_pairs_again():
    stream = CloudStream(batch_size=4, s_fraction=0.5, num_points=64, seed=0, pool_size=8)
    drawn = []

    def noise_fn(x1, gen):
        drawn.append(x1)
        return torch.randn(x1.shape, generator=gen)

    result = train(
        recipe=tiny_recipe(pair_pool=8), steps=6, progress=False, stream=stream, hooks=TrainingHooks(noise_fn)
    )
    assert result.steps == 6 and all(math.isfinite(loss) for loss in result.losses)
    assert len(drawn) == 2  # two fresh batches fill the pool of 8; the four later steps draw from it
    fresh = train(
        recipe=tiny_recipe(pair_pool=0), steps=6, progress=False, stream=stream, hooks=TrainingHooks(noise_fn)
    )
    assert fresh.steps == 6 and len(drawn) == 2 + 6


def test_steps_before_subset_until_see_subset_points():
    seen = []

    def loss_fn(model, x1, x0, t):
        seen.append(x1.shape[1])
        return model(x0, t).pow(2).mean()

    recipe = tiny_recipe(subset_points=16, subset_until=0.5, ema=0.0)
    train(recipe=recipe, steps=6, progress=False, hooks=TrainingHooks(loss_fn=loss_fn))
    assert seen == [16, 16, 16, 64, 64, 64]  # the last half of training on whole 64-point clouds
    seen.clear()
    train(
        recipe=tiny_recipe(subset_points=0, subset_until=0.5),
        steps=2,
        progress=False,
        hooks=TrainingHooks(loss_fn=loss_fn),
    )
    assert seen == [64, 64]


def test_training_times_follow_the_recipes_time_law():
    from toyflow.time_law import TimeLaw

    seen = []

    def loss_fn(model, x1, x0, t):
        seen.append(t)
        return model(x0, t).pow(2).mean()

    narrow = TimeLaw("logit-normal", mean=2.0, std=0.01)  # every time within 0.01 of sigmoid(2) = 0.881
    train(recipe=tiny_recipe(time_law=narrow), steps=3, progress=False, hooks=TrainingHooks(loss_fn=loss_fn))
    times = torch.cat(seen)
    assert times.shape == (12,) and (times - torch.sigmoid(torch.tensor(2.0))).abs().max() < 0.01
    assert Recipe().time_law == TimeLaw("logit-normal", mean=0.3, std=1.0, uniform_share=0.1)
    assert Recipe().to_dict()["time_law"] == {"kind": "logit-normal", "mean": 0.3, "std": 1.0, "uniform_share": 0.1}


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_training_in_either_precision_keeps_float32_weights(precision):
    result = train(recipe=tiny_recipe(precision=precision), steps=3, progress=False)
    assert all(math.isfinite(loss) for loss in result.losses)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    if precision == "bfloat16":
        in_float32 = train(recipe=tiny_recipe(precision="float32"), steps=3, progress=False).losses
        assert result.losses != in_float32  # the passes ran in bfloat16: the losses round differently
        assert result.losses == pytest.approx(in_float32, rel=1e-2)


def test_lr_schedule():
    assert lr_factor(0.0, 0.1) == pytest.approx(1e-3)
    assert lr_factor(0.05, 0.1) == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1) == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1) == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1) == pytest.approx(0.0, abs=1e-12)
    values = [lr_factor(p / 100, 0.1) for p in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_recipe_to_dict_is_json_ready():
    import json

    d = tiny_recipe().to_dict()
    assert json.loads(json.dumps(d))["config"] == TINY.to_dict()
    assert d["s_fraction"] == 0.2


def test_ema_update_moves_every_weight_the_given_fraction():
    from toyflow.training import ema_update

    torch.manual_seed(0)
    average, model = CloudFlow(TINY), CloudFlow(TINY)
    before = [p.clone() for p in average.parameters()]
    ema_update(average, model, decay=0.75)
    for old, new, target in zip(before, average.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(new, old + 0.25 * (target - old))
    with pytest.raises(ValueError, match="the average has .* parameters and the model"):
        ema_update(average, ReferenceFlow(ReferenceConfig()), decay=0.5)


def test_the_recipe_steps_matrices_by_muon_and_the_rest_by_fused_adamw():
    from toyflow.muon import Muon
    from toyflow.training import is_matrix, make_optimizers

    model = CloudFlow(Recipe().config)
    muon, adamw = make_optimizers(model, Recipe())
    assert isinstance(muon, Muon) and isinstance(adamw, torch.optim.AdamW) and adamw.defaults["fused"] is True
    matrices = {name for name, p in model.named_parameters() if any(p is q for q in muon.params)}
    # every hidden and input matrix; the output layers (4 velocities, the gate's 1 logit), biases and norms are AdamW's
    assert "blocks.0.mlp.0.weight" in matrices and "embed.weight" in matrices and "gate.0.weight" in matrices
    assert not {"out.weight", "gate.2.weight", "blocks.0.mlp.0.bias", "blocks.0.norm.weight"} & matrices
    assert matrices == {name for name, p in model.named_parameters() if is_matrix(p)}
    adamw_params = [p for g in adamw.param_groups for p in g["params"]]
    assert len(muon.params) + len(adamw_params) == len(list(model.parameters()))
    assert muon.param_groups[0]["lr"] == Recipe().lr * Recipe().matrix_lr_scale


def test_an_adamw_recipe_is_one_fused_optimiser_stepping_like_the_for_loop_one():
    from toyflow.training import make_optimizers

    torch.manual_seed(0)
    fused_model = CloudFlow(TINY)
    loop_model = CloudFlow(TINY)
    loop_model.load_state_dict(fused_model.state_dict())
    [fused] = make_optimizers(fused_model, Recipe(optimizer="adamw"))
    loop = torch.optim.AdamW(loop_model.parameters(), lr=Recipe().lr, weight_decay=Recipe().weight_decay)
    assert fused.defaults["fused"] is True
    x, target = torch.randn(2, 16, 2), torch.randn(2, 16, 2)
    # the output layer starts at zero, so the first step moves only it: three steps, so that every weight moves and
    # Adam's moments (its betas and epsilon) shape the steps
    for _ in range(3):
        for model, opt in ((fused_model, fused), (loop_model, loop)):
            opt.zero_grad()
            (model(x, 0.5) - target).pow(2).sum().backward()
            opt.step()
    assert fused_model.embed.weight.grad.abs().max() > 0  # the trunk learned too, not only by weight decay
    for a, b in zip(fused_model.parameters(), loop_model.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_an_unknown_optimiser_is_refused():
    from toyflow.training import make_optimizers

    with pytest.raises(ValueError, match="unknown optimizer 'sgd'; expected 'muon', 'adamw' or 'adam'"):
        make_optimizers(CloudFlow(TINY), Recipe(optimizer="sgd"))


def test_the_schedule_sets_each_optimisers_rate_from_its_own_base(monkeypatch):
    import toyflow.training as training

    seen, captured = [], []
    recipe = tiny_recipe(config=Recipe().config, warmup=1, matrix_lr_scale=2.0)
    original = training.make_optimizers
    monkeypatch.setattr(training, "make_optimizers", lambda model, r: captured.extend(original(model, r)) or captured)

    def spy(step, loss):
        if step == 3:
            seen.extend(g["lr"] for opt in captured for g in opt.param_groups)

    train(recipe=recipe, steps=4, progress=False, callback=spy)
    factor = lr_factor(2 / 4, 1 / 4)  # the rate of the third step (progress 2/4), warm-up a quarter
    assert seen == pytest.approx([recipe.lr * 2.0 * factor, recipe.lr * factor])


def test_the_label_free_recipe_is_the_default_one_without_class_heads():
    from dataclasses import replace

    from toyflow.training import label_free_recipe

    recipe = label_free_recipe(seed=3)
    assert recipe.config.class_heads is False
    without_heads = replace(Recipe(seed=3), config=replace(Recipe().config, class_heads=False), matrix_lr_scale=2.0)
    assert recipe.to_dict() == without_heads.to_dict()


def test_training_draws_its_weights_from_its_seed_and_leaves_the_callers_generator_alone():
    torch.manual_seed(123)
    first = train(recipe=tiny_recipe(), steps=2, progress=False)
    after = torch.rand(1)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(1))  # as if train() had drawn nothing from torch's global generator
    torch.manual_seed(7)
    second = train(recipe=tiny_recipe(), steps=2, progress=False)
    assert first.losses == second.losses  # the recipe's seed decides, not the global generator's state
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)
