"""toyflow.judge: classifies real clouds, accepts ~95% of them as valid, rejects noise."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.data import draw_noise, normalize_cloud, sample_mixture
from toyflow.judge import Verdict, chamfer, judge, templates, thresholds


@pytest.fixture(scope="module")
def real_s() -> torch.Tensor:
    return sample_mixture(200, 1.0, seed=10)[0]


@pytest.fixture(scope="module")
def real_rolls() -> torch.Tensor:
    return sample_mixture(200, 0.0, seed=11)[0]


def test_classifies_real_clouds(real_s, real_rolls):
    assert judge(real_s).is_s.float().mean().item() >= 0.99
    assert (~judge(real_rolls).is_s).float().mean().item() >= 0.99


def test_about_95_percent_of_real_clouds_are_valid(real_s, real_rolls):
    for clouds in (real_s, real_rolls):
        assert 0.90 <= judge(clouds).valid_fraction <= 0.99


def test_noise_is_not_valid():
    noise = draw_noise(30, seed=0)
    assert not judge(noise).valid.any()
    # not even when rescaled to the clouds' range [-1, 1]
    assert not judge(normalize_cloud(noise)).valid.any()


def test_garbled_clouds_are_not_valid(real_s):
    shifted = real_s[:20].clone()
    shifted[:, : shifted.shape[1] // 2] += torch.tensor([0.6, 0.0])
    assert judge(shifted).valid_fraction < 0.2
    nan = real_s[:2].clone()
    nan[:, 0] = float("nan")
    assert not judge(nan).valid.any()


def test_accepts_numpy_and_other_sizes(real_s):
    small = real_s[:5, ::4]  # 100 points
    v = judge(small.numpy())
    assert v.is_s.all()


@pytest.mark.parametrize("shape", [(400, 2), (2, 400, 3), (400,)])
def test_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match="shape"):
        judge(torch.zeros(shape))


def test_summary(real_s, real_rolls):
    mixed = torch.cat([real_s[:15], real_rolls[:45]])
    verdict = judge(mixed)
    assert isinstance(verdict, Verdict)
    summary = verdict.summary()
    assert set(summary) == {"n", "s_fraction", "valid", "valid_s", "valid_roll"}
    assert summary["n"] == 60
    assert summary["s_fraction"] == pytest.approx(0.25, abs=1 / 60 + 1e-9)
    assert summary["valid"] == pytest.approx(verdict.valid.float().mean().item())
    assert 0.0 <= summary["valid_s"] <= 1.0 and 0.0 <= summary["valid_roll"] <= 1.0


def test_per_class_valid_fraction_is_nan_without_that_class(real_rolls):
    verdict = judge(real_rolls[:5])
    assert math.isnan(verdict.valid_fraction_of(True))
    assert not math.isnan(verdict.valid_fraction_of(False))


def test_chamfer():
    a = torch.randn(2, 30, 2)
    b = torch.randn(2, 40, 2)
    # (torch.cdist's matrix-product path leaves ~1e-4 of rounding at zero distance)
    torch.testing.assert_close(chamfer(a, a), torch.zeros(2), atol=1e-3, rtol=0)
    torch.testing.assert_close(chamfer(a, b), chamfer(b, a), atol=1e-4, rtol=0)
    assert (chamfer(a, b) > 0.01).all()
    # a shift by d moves every nearest neighbour by at most d
    assert chamfer(a, a + torch.tensor([0.1, 0.0])).max() <= 0.1 + 1e-3


def test_templates_and_thresholds():
    tpl = templates()
    assert tpl.shape == (2, 800, 2)
    assert tpl.min() == -1.0 and tpl.max() == 1.0
    thr_s, thr_roll = thresholds()
    assert 0 < thr_s < 0.5 and 0 < thr_roll < 0.5
