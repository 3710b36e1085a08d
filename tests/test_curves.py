"""toyflow.curves: the fitted curves' nearest points are a k-d tree's, and the farthest point is curve_distances'."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from toyflow.curves import FAR, _fit, cloud_array, curve_distances, farthest_from_curve, nearest_on_curve
from toyflow.curves import noise_free_curve as curve
from toyflow.data import sample_mixture


@pytest.fixture(scope="module")
def clouds() -> tuple[torch.Tensor, torch.Tensor]:
    """Real clouds of both kinds, one with a stray point, one with a point far outside, one with a NaN."""
    s, roll = sample_mixture(6, 1.0, seed=90)[0], sample_mixture(6, 0.0, seed=91)[0]
    out = torch.cat([s, roll])
    out[1, 3] = torch.tensor([0.9, -0.9])
    out[7, 0] = torch.tensor([40.0, -3.0])
    out[8, 5, 1] = float("nan")
    return out, torch.arange(len(out)) < len(s)


def test_nearest_points_are_the_trees(clouds):
    pts, is_s = clouds
    got = nearest_on_curve(pts, is_s).numpy()
    p = np.where(np.isfinite(pts.double().numpy()), pts.double().numpy(), FAR)
    for i, kind in enumerate(np.where(is_s.numpy(), "s_curve", "swiss_roll")):
        scale, offset = _fit(p[i : i + 1], kind)
        idx = cKDTree(curve(kind)).query((p[i] - offset[0]) / scale[0])[1]
        np.testing.assert_array_equal(got[i], curve(kind)[idx] * scale[0] + offset[0])


def test_farthest_is_the_largest_curve_distance(clouds):
    pts, is_s = clouds
    for kinds in (is_s, ~is_s):  # each cloud against its own curve and against the other
        far = farthest_from_curve(pts, kinds)
        assert far.dtype == torch.float32 and far.shape == (len(pts),)
        torch.testing.assert_close(far, curve_distances(pts, kinds).amax(dim=1), rtol=0, atol=0)
    assert farthest_from_curve(pts, is_s)[7] > 30 and farthest_from_curve(pts, is_s)[8] > 100


def test_cloud_array_takes_tensors_of_any_float_type_and_arrays():
    x = torch.tensor([[[0.5, -0.25]]])
    for values in (x, x.double(), x.half(), x.bfloat16(), x.numpy(), x.requires_grad_()):
        out = cloud_array(values)
        assert out.dtype == np.float64 and out.tolist() == [[[0.5, -0.25]]]


def test_farthest_refuses_clouds_without_points():
    with pytest.raises(ValueError, match="shape"):
        farthest_from_curve(torch.zeros(2, 0, 2), torch.tensor([True, False]))
