"""toyflow.data: single clouds, the training mixture, the batch stream and the noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toyflow.data import CloudStream, draw_noise, make_cloud, make_clouds, normalize_cloud, sample_mixture


@pytest.mark.parametrize("kind", ["s_curve", "swiss_roll"])
def test_make_cloud_shape_range_and_dtype(kind):
    cloud = make_cloud(kind, seed=3)
    assert cloud.shape == (400, 2)
    assert cloud.dtype == np.float32
    assert cloud.min() == -1.0
    assert cloud.max() == 1.0


@pytest.mark.parametrize("kind", ["s_curve", "swiss_roll"])
def test_make_cloud_is_one_affine_map_of_sklearn_coordinates_0_and_2(kind):
    from sklearn import datasets  # here, not at the top: collecting the suite need not import sklearn (0.5 s)

    cloud = make_cloud(kind, seed=5).astype(np.float64)
    generator = {"s_curve": datasets.make_s_curve, "swiss_roll": datasets.make_swiss_roll}[kind]
    xyz, _ = generator(400, noise=0.1, random_state=5)
    raw = xyz[:, [0, 2]]
    # The aspect ratio (x-range over y-range) is unchanged...
    ratio_raw = np.ptp(raw[:, 0]) / np.ptp(raw[:, 1])
    ratio_cloud = np.ptp(cloud[:, 0]) / np.ptp(cloud[:, 1])
    assert ratio_cloud == pytest.approx(ratio_raw, rel=1e-5)
    # ...because the map is one scale for both axes plus a shift.
    scale = 2.0 / (raw.max() - raw.min())
    np.testing.assert_allclose(cloud, (raw - raw.min()) * scale - 1.0, atol=1e-6)


@pytest.mark.parametrize("kind", ["s_curve", "swiss_roll"])
@pytest.mark.parametrize(("num_points", "noise"), [(400, 0.1), (32, 0.1), (1000, 0.0), (57, 0.5)])
def test_the_clouds_are_scikit_learns_bit_for_bit(kind, num_points, noise):
    """Drawn without scikit-learn, every cloud is the one its generator gives with the same seed, to the bit, one at a
    time or many at once (seeds up to 2**32 - 1, as its RandomState takes)."""
    from sklearn import datasets

    generator = {"s_curve": datasets.make_s_curve, "swiss_roll": datasets.make_swiss_roll}[kind]
    seeds = [*range(40), 2**31 - 2, 2**32 - 1]
    expected = np.stack(
        [normalize_cloud(generator(num_points, noise=noise, random_state=s)[0][:, [0, 2]]) for s in seeds]
    ).astype(np.float32)
    assert make_clouds(kind, seeds, num_points, noise).view(np.uint32).tolist() == expected.view(np.uint32).tolist()
    assert (
        make_cloud(kind, num_points, seeds[-1], noise).view(np.uint32).tolist() == expected[-1].view(np.uint32).tolist()
    )


def test_the_mixture_and_the_stream_draw_each_cloud_as_make_cloud_does():
    clouds, is_s = sample_mixture(12, 0.5, 40, seed=3)
    assert 0 < int(is_s.sum()) < 12
    rng = np.random.default_rng(3)
    rng.random(12)
    seeds = rng.integers(0, 2**31 - 1, size=12)
    for cloud, s, seed in zip(clouds, is_s, seeds, strict=True):
        assert torch.equal(cloud, torch.from_numpy(make_cloud("s_curve" if s else "swiss_roll", 40, int(seed))))
    stream = CloudStream(4, 0.5, 40, seed=2, pool_size=3)
    seeds = np.random.default_rng(2).integers(0, 2**31 - 1, size=(2, 3))
    for pool, kind, kind_seeds in zip(stream.pools, ["s_curve", "swiss_roll"], seeds, strict=True):
        assert torch.equal(pool, torch.from_numpy(np.stack([make_cloud(kind, 40, int(s)) for s in kind_seeds])))


@pytest.mark.parametrize(
    ("noise", "message"),
    [(-0.1, "noise must be at least 0, got -0.1"), (float("nan"), "noise must be a finite number, got nan")],
)
def test_a_noise_that_is_not_a_finite_number_of_at_least_0_is_refused(noise, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        make_clouds("s_curve", [0], 40, noise)


def test_make_cloud_seeded_and_kinds_differ():
    np.testing.assert_array_equal(make_cloud("s_curve", seed=1), make_cloud("s_curve", seed=1))
    assert not np.array_equal(make_cloud("s_curve", seed=1), make_cloud("s_curve", seed=2))
    assert make_cloud("swiss_roll", num_points=37, seed=0).shape == (37, 2)


def test_make_cloud_unknown_kind():
    with pytest.raises(ValueError, match="unknown cloud kind"):
        make_cloud("moons")


def test_normalize_cloud_numpy_and_torch_agree():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(3, 50, 2)) * [3.0, 0.5] + [10.0, -4.0]
    out_np = normalize_cloud(pts)
    out_t = normalize_cloud(torch.from_numpy(pts))
    np.testing.assert_allclose(out_np, out_t.numpy())
    flat = out_np.reshape(3, -1)
    np.testing.assert_array_equal(flat.min(axis=1), -1.0)
    np.testing.assert_array_equal(flat.max(axis=1), 1.0)


def test_sample_mixture_shapes_and_fraction():
    clouds, is_s = sample_mixture(2000, 0.2, num_points=32, seed=0)
    assert clouds.shape == (2000, 32, 2)
    assert clouds.dtype == torch.float32
    assert is_s.dtype == torch.bool and is_s.shape == (2000,)
    assert abs(is_s.float().mean().item() - 0.2) < 0.03


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_sample_mixture_pure(fraction):
    _, is_s = sample_mixture(200, fraction, num_points=32, seed=1)
    assert is_s.float().mean().item() == fraction


def test_sample_mixture_labels_match_the_clouds():
    from toyflow.judge import distances  # nearest noise-free template: (S, roll)

    clouds, is_s = sample_mixture(12, 0.5, seed=11)
    assert 0 < is_s.sum() < 12
    d = distances(clouds)
    assert torch.equal(d[:, 0] < d[:, 1], is_s)


def test_sample_mixture_seeding():
    a, sa = sample_mixture(10, 0.5, num_points=32, seed=42)
    b, sb = sample_mixture(10, 0.5, num_points=32, seed=42)
    c, _ = sample_mixture(10, 0.5, num_points=32, seed=43)
    assert torch.equal(a, b) and torch.equal(sa, sb)
    assert not torch.equal(a, c)
    g, _ = sample_mixture(10, 0.5, num_points=32, seed=np.random.default_rng(42))
    assert torch.equal(a, g)


def test_sample_mixture_empty():
    clouds, is_s = sample_mixture(0, 0.5, num_points=32, seed=0)
    assert clouds.shape == (0, 32, 2) and is_s.shape == (0,)


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_sample_mixture_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="s_fraction"):
        sample_mixture(4, fraction)
    with pytest.raises(ValueError, match="s_fraction"):
        CloudStream(4, fraction, num_points=32, pool_size=2)


def test_cloud_stream_batches():
    stream = CloudStream(batch_size=256, s_fraction=0.3, num_points=32, seed=0, pool_size=4)
    shares = []
    for _ in range(20):
        clouds, is_s = stream.next()
        assert clouds.shape == (256, 32, 2) and clouds.dtype == torch.float32
        assert is_s.shape == (256,) and is_s.dtype == torch.bool
        shares.append(is_s.float().mean().item())
        # every cloud comes from the pool of its own class
        for cloud, s in zip(clouds[:8], is_s[:8], strict=True):
            pool = stream.pools[0 if s else 1]
            assert any(torch.equal(cloud, member) for member in pool)
    assert abs(np.mean(shares) - 0.3) < 0.03


def test_cloud_stream_is_seeded():
    a = CloudStream(8, 0.5, num_points=32, seed=3, pool_size=4)
    b = CloudStream(8, 0.5, num_points=32, seed=3, pool_size=4)
    for _ in range(3):
        (xa, sa), (xb, sb) = a.next(), b.next()
        assert torch.equal(xa, xb) and torch.equal(sa, sb)


def test_draw_noise_is_reproducible():
    a = draw_noise(3, 50, seed=7)
    assert a.shape == (3, 50, 2) and a.dtype == torch.float32
    assert torch.equal(a, draw_noise(3, 50, seed=7))
    assert not torch.equal(a, draw_noise(3, 50, seed=8))
    # an explicit generator works, and seeding it the same way gives the same noise
    g = torch.Generator().manual_seed(7)
    assert torch.equal(draw_noise(3, 50, seed=g), a)
    # a generator is consumed: the next draw differs
    assert not torch.equal(draw_noise(3, 50, seed=g), a)


def test_draw_noise_is_standard_normal_per_point():
    z = draw_noise(64, 400, seed=0)
    assert abs(z.mean().item()) < 0.02
    assert abs(z.std().item() - 1.0) < 0.02
