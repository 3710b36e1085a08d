"""toyflow.time_law: the uniform and logit-normal laws of the training times, their seeds and their refusals."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.time_law import TimeLaw


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_uniform_times_are_torch_rand():
    assert torch.equal(TimeLaw("uniform").sample(7, gen()), torch.rand(7, generator=gen()))


def test_logit_normal_quantiles():
    t = TimeLaw("logit-normal", mean=0.3, std=1.0).sample(200_000, gen())
    assert t.shape == (200_000,) and t.dtype == torch.float32
    assert 0 < t.min() and t.max() < 1
    logit = torch.logit(t.double())
    assert logit.mean().item() == pytest.approx(0.3, abs=0.01)
    assert logit.std().item() == pytest.approx(1.0, abs=0.01)
    # fewer times near the ends than uniform ones: P(t < 0.1) = Phi((logit(0.1) - 0.3) / 1) = 0.0107
    expected = 0.5 * (1 + math.erf((math.log(1 / 9) - 0.3) / 2**0.5))
    assert (t < 0.1).double().mean().item() == pytest.approx(expected, abs=0.002)


def test_a_uniform_share_keeps_early_times():
    n = 200_000
    mixed = TimeLaw("logit-normal", mean=0.3, std=1.0, uniform_share=0.25).sample(n, gen())
    pure = TimeLaw("logit-normal", mean=0.3, std=1.0).sample(n, gen())
    early_pure = (pure < 0.1).double().mean().item()
    assert (mixed < 0.1).double().mean().item() == pytest.approx(0.25 * 0.1 + 0.75 * early_pure, abs=0.003)


def test_a_seed_gives_the_same_times():
    law = TimeLaw("logit-normal", mean=0.3, std=1.0, uniform_share=0.25)
    assert torch.equal(law.sample(50, gen(3)), law.sample(50, gen(3)))
    assert not torch.equal(law.sample(50, gen(3)), law.sample(50, gen(4)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "beta"}, "time law"),
        ({"kind": "logit-normal", "std": 0.0}, "std"),
        ({"kind": "logit-normal", "mean": float("nan")}, "mean"),
        ({"kind": "logit-normal", "uniform_share": 1.5}, "uniform_share"),
    ],
)
def test_refuses_bad_laws(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TimeLaw(**kwargs)


def test_refuses_a_count_below_one():
    with pytest.raises(ValueError, match="^n must be at least 1, got 0$"):
        TimeLaw().sample(0, gen())
