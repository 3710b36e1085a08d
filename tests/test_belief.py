"""The preference model: how likely a tick is for a cloud, and how sure the labels so far make it."""

from __future__ import annotations

import math

import pytest
import torch

from toyflow.data import sample_mixture
from toyflow.preference.belief import (
    BeliefSettings,
    fit_belief,
    how_sure,
    kernel,
    prequential_evidence,
    read_pool,
    soft_ticks,
)
from toyflow.preference.methods.reward_fm import pool_weights


def _rounds(clouds: torch.Tensor, ticks: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Clouds ``(4 r, p, 2)`` and ticks ``(4 r,)`` as labelled rounds of 4 (labels summing to 1, as rounds give;
    a round without a tick is skipped, as a session skips it)."""
    return [(c, t / t.sum()) for c, t in zip(clouds.split(4), ticks.split(4), strict=True) if t.sum() > 0]


@pytest.fixture(scope="module")
def mixture() -> tuple[torch.Tensor, torch.Tensor]:
    return sample_mixture(40, 0.3, num_points=64, seed=5)


def test_soft_ticks_read_a_round_s_labels_as_ticks():
    assert soft_ticks(torch.tensor([0.5, 0.0, 0.5, 0.0])).tolist() == [1.0, 0.0, 1.0, 0.0]
    assert soft_ticks(torch.tensor([0.2, 0.8, 0.0, 0.0])).tolist() == pytest.approx([0.25, 1.0, 0.0, 0.0])
    assert soft_ticks(torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_kernel_is_one_at_zero_distance_and_falls_with_the_width():
    d = torch.tensor([0.0, 0.1, 0.2])
    assert kernel(d, 0.1).tolist() == pytest.approx([1.0, math.exp(-1), math.exp(-4)])


def test_evidence_of_two_labels_on_the_same_cloud_is_exact():
    # the second tick, predicted from the first: Laplace's rule says 2/3; the kernel model (weight 1, half a prior
    # pseudo-label at 2/3) says (1/3 + 1) / 1.5 = 8/9, and with a lapse of 0.02, 0.02 + 0.96 * 8/9 = 131/150
    s = BeliefSettings()
    assert (s.prior_labels, s.lapse) == (0.5, 0.02)
    cloud = torch.rand(1, 64, 2, generator=torch.Generator().manual_seed(0))
    evidence = prequential_evidence(torch.cat([cloud, cloud]), torch.tensor([1.0, 1.0]), s)
    assert evidence == pytest.approx(math.log(131 / 150) - math.log(2 / 3), abs=1e-6)


def test_one_label_is_no_evidence_so_certainty_is_the_prior():
    belief = fit_belief([(torch.rand(1, 64, 2), torch.tensor([1.0]))])
    assert belief.evidence == 0.0
    assert belief.certainty == pytest.approx(1 / (1 + math.exp(1.5)))  # prior log odds -1.5
    assert belief.count == 1


def test_consistent_ticks_make_it_sure_and_rate_the_ticked_shape_higher(mixture):
    clouds, is_s = mixture
    belief = fit_belief(_rounds(clouds[:24], is_s[:24].float()))  # ticks where S: 6 rounds of 4
    assert belief.evidence > 3.0 and belief.certainty > 0.5
    rates = belief.rates(clouds[24:])
    assert rates.mean[is_s[24:]].min() > 0.7 > 0.3 > rates.mean[~is_s[24:]].max()
    assert (rates.spread > 0).all() and (rates.spread < 0.5).all()


def test_random_ticks_earn_no_evidence(mixture):
    clouds, _ = mixture
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        ticks = (torch.rand(24, generator=gen) < 0.5).float()
        ticks[::4] = 1.0  # every round has a tick, like a labelled round
        belief = fit_belief(_rounds(clouds[:24], ticks))
        assert belief.evidence < 1.0 and belief.certainty < 1 / (1 + math.exp(0.5)), belief.evidence


def test_no_labels_is_refused():
    with pytest.raises(ValueError, match="at least one labelled proposal"):
        fit_belief([])


def test_the_pool_read_puts_the_ticked_shape_on_top_with_its_weights(mixture):
    clouds, is_s = mixture
    belief = fit_belief(_rounds(clouds[:24], is_s[:24].float()))
    pool, pool_is_s = clouds[24:], is_s[24:]
    weights = pool_weights(belief, pool, 14.0)
    reading = read_pool(belief, pool, k=3, weights=weights)
    assert reading.top.shape == reading.bottom.shape == (3, 64, 2) and reading.pool_size == 16
    top = [int((pool == c).all(dim=(1, 2)).nonzero()) for c in reading.top]
    bottom = [int((pool == c).all(dim=(1, 2)).nonzero()) for c in reading.bottom]
    assert pool_is_s[top].all() and not pool_is_s[bottom].any()
    assert reading.top_rates.mean.tolist() == sorted(reading.top_rates.mean.tolist(), reverse=True)
    assert reading.bottom_rates.mean.tolist() == sorted(reading.bottom_rates.mean.tolist())
    assert torch.allclose(reading.top_weights, weights[top] * 16) and (reading.top_weights > 1).all()
    assert (reading.bottom_weights < 1).all()
    assert reading.effective_samples == pytest.approx(float(1 / weights.double().pow(2).sum()))
    assert reading.certainty == belief.certainty and reading.labelled == belief.count
    plain = read_pool(belief, pool, k=3)
    assert plain.top_weights is None and plain.effective_samples is None and torch.equal(plain.top, reading.top)


def test_a_bad_pool_read_is_one_clear_error(mixture):
    clouds, is_s = mixture
    belief = fit_belief(_rounds(clouds[:8], is_s[:8].float() + 0.1))
    with pytest.raises(ValueError, match="half the pool"):
        read_pool(belief, clouds[:6], k=4)
    with pytest.raises(ValueError, match="one value per pool cloud"):
        read_pool(belief, clouds[:6], k=2, weights=torch.full((5,), 0.2))


def test_the_certainty_in_words():
    assert [how_sure(c) for c in (0.0, 0.12, 0.49, 0.5, 0.89, 0.9, 1.0)] == [
        "not sure",
        "not sure",
        "not sure",
        "fairly sure",
        "fairly sure",
        "sure",
        "sure",
    ]


def test_b_sees_the_clouds_the_belief_rates_higher_more_often_as_it_grows_sure(mixture):
    clouds, is_s = mixture
    pool, pool_is_s = clouds[24:], is_s[24:]
    sure = fit_belief(_rounds(clouds[:24], is_s[:24].float()))
    weights = pool_weights(sure, pool, 14.0)
    assert weights.shape == (16,) and float(weights.sum()) == pytest.approx(1.0)
    assert weights[pool_is_s].min() > weights[~pool_is_s].max()  # every ticked shape's cloud above every other
    order = torch.argsort(sure.rates(pool).mean)
    assert (weights[order].diff() >= 0).all()  # in the order of the rates
    uniform = torch.full((16,), 1 / 16)
    torch.testing.assert_close(pool_weights(sure, pool, 0.0), uniform)  # no strength: A's own law
    unsure = fit_belief([(clouds[:1], torch.tensor([1.0]))])  # one label: the prior's certainty only
    assert unsure.certainty < sure.certainty
    spread = pool_weights(unsure, pool, 14.0)
    assert (spread - uniform).abs().max() < (weights - uniform).abs().max()  # less sure, nearer uniform


def test_labels_far_against_the_model_leave_it_unsure_without_overflowing(monkeypatch):
    import toyflow.preference.belief as belief_module

    monkeypatch.setattr(belief_module, "prequential_evidence", lambda *args: -1000.0)  # 300-odd slips
    belief = fit_belief([(torch.rand(2, 64, 2), torch.tensor([1.0, 0.0]))])
    assert belief.evidence == -1000.0 and 0.0 <= belief.certainty < 1e-300
