"""toyflow.judge: classifies real clouds, accepts ~95% of them as valid, sees stray points, rejects noise."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.curves import curve_distances, nearest_on_curve, noise_free_curve
from toyflow.data import draw_noise, normalize_cloud, sample_mixture
from toyflow.judge import (
    CALIBRATED,
    Verdict,
    calibrate,
    calibrate_from_real_clouds,
    chamfer,
    classify,
    judge,
    templates,
    thresholds,
)


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


@pytest.mark.parametrize("read", [judge, classify])
@pytest.mark.parametrize("shape", [(400, 2), (2, 400, 3), (400,)])
def test_rejects_wrong_shapes(shape, read):
    with pytest.raises(ValueError, match="shape"):
        read(torch.zeros(shape))


def test_the_class_alone_is_the_judges_class_non_finite_clouds_included(real_s, real_rolls):
    clouds = torch.cat([real_s[:3], real_rolls[:3]])
    clouds[1, 7, 0] = float("nan")
    clouds[4, 0, 1] = float("inf")
    assert torch.equal(classify(clouds), judge(clouds).is_s)
    # a non-finite cloud is infinitely far from both templates: the first class, as the judge reads it (never valid)
    assert classify(clouds).tolist() == [True, True, True, False, True, False]
    assert not judge(clouds).valid[[1, 4]].any()


def test_summary(real_s, real_rolls):
    mixed = torch.cat([real_s[:15], real_rolls[:45], draw_noise(5, seed=0)])  # the noise: clouds that fail
    verdict = judge(mixed)
    assert isinstance(verdict, Verdict)
    summary = verdict.summary()
    assert set(summary) == {"n", "s_fraction", "valid", "valid_s", "valid_roll", "clean", "clean_s", "clean_roll"}
    assert summary["n"] == 65
    assert summary["valid"] < 1.0
    assert summary["valid"] == pytest.approx(verdict.valid.float().mean().item())
    assert summary["clean"] == pytest.approx(verdict.clean.float().mean().item())
    for name, is_s in (("s", verdict.is_s), ("roll", ~verdict.is_s)):  # each class's fractions of its own clouds
        assert summary[f"valid_{name}"] == pytest.approx(verdict.valid[is_s].float().mean().item())
        assert summary[f"clean_{name}"] == pytest.approx(verdict.clean[is_s].float().mean().item())


def test_per_class_valid_fraction_is_nan_without_that_class(real_rolls):
    verdict = judge(real_rolls[:5])
    assert math.isnan(verdict.valid_fraction_of(True)) and math.isnan(verdict.clean_fraction_of(True))
    assert not math.isnan(verdict.valid_fraction_of(False)) and not math.isnan(verdict.clean_fraction_of(False))


def test_chamfer():
    a = torch.randn(2, 30, 2)
    b = torch.randn(2, 40, 2)
    # (torch.cdist's matrix-product path leaves ~1e-4 of rounding at zero distance)
    torch.testing.assert_close(chamfer(a, a), torch.zeros(2), atol=1e-3, rtol=0)
    torch.testing.assert_close(chamfer(a, b), chamfer(b, a), atol=1e-4, rtol=0)
    assert (chamfer(a, b) > 0.01).all()
    # a shift by d moves every nearest neighbour by at most d
    assert chamfer(a, a + torch.tensor([0.1, 0.0])).max() <= 0.1 + 1e-3


def test_the_stored_thresholds_are_those_the_real_clouds_give():
    for num_points, stored in CALIBRATED.items():
        assert calibrate_from_real_clouds(num_points) == stored
        assert calibrate(num_points) is stored


def test_templates_and_thresholds():
    tpl = templates()
    assert tpl.shape == (2, 800, 2)
    assert tpl.min() == -1.0 and tpl.max() == 1.0
    thr_s, thr_roll = thresholds()
    assert 0 < thr_s < 0.5 and 0 < thr_roll < 0.5
    limits = calibrate()
    assert limits.valid == (thr_s, thr_roll)
    # S curves are fuzzy, Swiss rolls thin: a stray is about 0.24 from an S curve, 0.04 from a roll
    assert 0.15 < limits.stray[0] < 0.3 and 0.03 < limits.stray[1] < 0.06


# --------------------------------------------------------------------------------------------- clean
def test_real_clouds_have_no_strays(real_s, real_rolls):
    """At least 99% of real clouds of each class pass the stray test, and every valid real cloud is clean but for
    that 1% (valid alone accepts ~95% of real clouds by definition, so ~95% of them are clean)."""
    for clouds, k in ((real_s, 0), (real_rolls, 1)):
        v = judge(clouds)
        assert (v.max_distance <= calibrate().stray[k]).float().mean().item() >= 0.99
        assert v.clean_fraction >= v.valid_fraction - 0.01
        assert (v.clean <= v.valid).all()  # clean implies valid


@pytest.mark.parametrize("num_points", [100, 400, 1000])
def test_real_clouds_are_clean_whatever_their_number_of_points(num_points):
    for k, s_fraction in enumerate((1.0, 0.0)):
        real = sample_mixture(100, s_fraction, num_points, seed=40 + k)[0]
        v = judge(real)
        assert (v.max_distance <= calibrate(num_points).stray[k]).float().mean().item() >= 0.98
        assert v.clean_fraction >= 0.85


def test_one_point_moved_off_the_curve_is_not_clean(real_s, real_rolls):
    gen = torch.Generator().manual_seed(0)
    for clouds, is_s in ((real_s[:50], True), (real_rolls[:50], False)):
        good = clouds[judge(clouds).clean]
        assert len(good) >= 40
        rows = torch.arange(len(good))
        moved = good.clone()
        # a random point (not by an end of the curve), put 0.3 from its nearest point of the curve, along the normal
        curve = torch.from_numpy(noise_free_curve("s_curve" if is_s else "swiss_roll")).float()
        j = torch.cdist(good, curve).argmin(dim=2).clamp(1, len(curve) - 2)  # (clouds, points)
        index = torch.multinomial(((j > 50) & (j < len(curve) - 50)).float(), 1, generator=gen)[:, 0]
        jj = j[rows, index]
        tangent = curve[jj + 1] - curve[jj - 1]
        normal = torch.stack([-tangent[:, 1], tangent[:, 0]], dim=1)
        normal = normal / normal.norm(dim=1, keepdim=True)
        nearest = nearest_on_curve(good, torch.full((len(good),), is_s))[rows, index].float()
        side = torch.sign(((good[rows, index] - nearest) * normal).sum(dim=1, keepdim=True)) + 0.5
        moved[rows, index] = nearest + 0.3 * side.sign() * normal
        v = judge(moved)
        assert not v.clean.any()
        assert (v.is_s == is_s).all()
        assert v.valid.float().mean().item() >= 0.8  # one point barely moves the Chamfer distance: valid forgives


def test_a_point_far_outside_the_box_is_a_stray(real_rolls):
    cloud = real_rolls[:10].clone()
    cloud[:, 0] = torch.tensor([1.4, 1.4])
    assert not judge(cloud).clean.any()


def test_curve_distances_of_the_noise_free_curve_are_zero():
    for k, kind in enumerate(("s_curve", "swiss_roll")):
        curve = torch.from_numpy(noise_free_curve(kind)).float()[None, ::10]
        d = curve_distances(curve, torch.tensor([k == 0]))
        assert d.shape == (1, curve.shape[1])
        assert d.max().item() < 1e-3
        # the same curve scaled and shifted like a cloud's normalisation still lies on its fitted curve
        d = curve_distances(0.93 * curve + 0.02, torch.tensor([k == 0]))
        assert d.max().item() < 2e-3


def test_non_finite_points_are_not_clean(real_s):
    cloud = real_s[:3].clone()
    cloud[0, 5] = float("nan")
    cloud[1, 7, 0] = float("inf")
    v = judge(cloud)
    assert v.clean.tolist() == [False, False, bool(judge(real_s[2:3]).clean[0])]


def test_the_verdict_on_the_first_clouds_is_the_verdict_on_them(real_s, real_rolls):
    clouds = torch.cat([real_s[:2], real_rolls[:2], draw_noise(1, seed=3) * 0.5])
    whole = judge(clouds)
    first, alone = whole.first(3), judge(clouds[:3])
    for name in ("is_s", "distance", "valid", "max_distance", "clean"):
        assert torch.equal(getattr(first, name), getattr(alone, name)), name
    assert first.is_s.tolist() == [True, True, False]
    for bad, message in ((0, "k must be at least 1"), (6, "k must be at most the 5 clouds judged, got 6")):
        with pytest.raises(ValueError, match=message):
            whole.first(bad)


def test_clouds_within_the_judges_grids_are_judged_without_a_k_d_tree(monkeypatch, real_s, real_rolls):
    """scipy's k-d tree (and scipy's import) is for points far outside the data's box: the judge builds its
    templates' grids and windows and the curves' grids, and judges real clouds, without one, to the same verdict."""
    import importlib

    import toyflow.nearest

    judge_module, curves = importlib.import_module("toyflow.judge"), importlib.import_module("toyflow.curves")
    clouds = torch.cat([real_s[:50], real_rolls[:50]])
    before = judge(clouds)

    def no_tree(points):
        raise AssertionError(f"a k-d tree of {len(points)} points was built")

    monkeypatch.setattr(toyflow.nearest, "kd_tree", no_tree)
    for built in (judge_module._template_grids, judge_module._template_windows, curves._grid):
        built.cache_clear()  # built again below, without the tree
    after = judge(clouds)
    for name in ("is_s", "distance", "valid", "max_distance", "clean"):
        assert torch.equal(getattr(after, name), getattr(before, name)), name
