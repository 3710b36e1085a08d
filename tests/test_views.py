"""toyflow.preference.views: the teaching views measured headless, on exactly the proposals' noise and a fixed
bank of held-out noises."""

from __future__ import annotations

import pytest
import torch
from conftest import FAST, SMALL, make_flow

from toyflow.data import draw_noise
from toyflow.decision import decision_curve
from toyflow.evaluation import EVAL_SEED
from toyflow.flips import FLIP_N, STAYED_ROLL, STAYED_S, compare
from toyflow.judge import judge
from toyflow.preference import ChartMeter, HeldOut, PreferenceSession, ViewMeter
from toyflow.preference.heldout import HELD_OUT_SEED


def make_session() -> PreferenceSession:
    return PreferenceSession(make_flow(SMALL, seed=3), seed=0, sampler_steps=4, settings=FAST)


def test_same_noise_views_are_a_and_b_on_exactly_the_proposals_noise(tilted_pool):
    session = make_session()
    meter = ViewMeter(session)
    proposal = session.propose(4)
    session.give(ticks=[0, 1])
    views = meter.same_noise(proposal)
    assert views.proposal_number == 1 and views.times.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert views.trajectory_a.shape == views.trajectory_b.shape == (5, 4, 400, 2)
    assert torch.equal(views.trajectory_a[0], proposal.noise) and torch.equal(views.trajectory_b[0], proposal.noise)
    assert torch.equal(views.trajectory_a[-1], proposal.samples), "A's last step is the proposal itself"
    assert torch.equal(views.trajectory_b[-1], session.resample(proposal.noise)), "B's is B's tile"
    assert torch.equal(views.p_a, decision_curve(session.a, proposal.noise, session.sampler)[1])
    assert torch.equal(views.p_b, decision_curve(session.b, proposal.noise, session.sampler)[1])
    assert not torch.equal(views.p_a, views.p_b), "B learned: its decision moved"
    assert "gate" in views.reading and set(views.timing) == {"a", "b"}


def test_a_is_computed_once_per_proposal_and_b_copied_once_per_change():
    session = make_session()
    meter = ViewMeter(session)
    proposal = session.propose(4)
    first = meter.a_side(proposal)
    assert meter.a_side(proposal).trajectory is first.trajectory, "A is frozen: its trajectory is reused"
    b_copy = meter.snapshot()
    assert meter.snapshot() is b_copy and b_copy is not session.b and not b_copy.training
    session.give(ticks=[2])
    assert meter.snapshot() is not b_copy
    session.undo()
    assert meter.snapshot() is not b_copy, "B changed back: a new copy (never a stale one)"


def test_the_flip_map_is_measured_on_the_fixed_bank():
    session = make_session()
    meter = ViewMeter(session)
    bank = meter.bank()
    noise = draw_noise(FLIP_N, seed=EVAL_SEED)
    assert FLIP_N == 32 and HELD_OUT_SEED == EVAL_SEED and torch.equal(meter.bank_noise(), noise)
    assert torch.equal(bank.a_clouds, session.sampler.sample(session.a, noise))
    assert torch.equal(bank.b_clouds, bank.a_clouds), "before any round B is A"
    assert set(bank.flips.categories) <= {STAYED_ROLL, STAYED_S} and bank.flips.flipped == 0
    session.propose(4)
    session.give(ticks=[0])
    after = meter.bank()
    assert after.a_clouds is bank.a_clouds, "A's clouds of the bank are drawn once"
    assert torch.equal(after.b_clouds, session.sampler.sample(session.b, noise))
    expected = compare(judge(after.a_clouds), judge(after.b_clouds))
    assert after.flips.categories == expected.categories and torch.equal(after.flips.b_clean, expected.b_clean)
    assert sum(after.flips.counts.values()) == 32


def test_the_chart_and_the_flip_map_share_one_sampling_of_b(monkeypatch):
    """Given the chart's held-out noises, the flip map reads its first 32 of the chart's sampling of B: B is
    sampled once per change, and what each reads is what sampling its own noises would give."""
    session = make_session()
    held_out = HeldOut(session, 40)
    meter, chart = ViewMeter(session, held_out=held_out), ChartMeter(session, eval_n=40, held_out=held_out)
    read, sampled = held_out._read, []
    monkeypatch.setattr(held_out, "_read", lambda model, stop: sampled.append(model) or read(model, stop))
    session.propose(4)
    session.give(ticks=[0])
    b_copy = meter.snapshot()
    assert chart.snapshot() is b_copy, "one copy of B for both"
    bank = meter.bank(b_copy)
    point = chart.measure(1, b_copy)
    assert sampled == [session.a, b_copy], "A once, then B once"
    sample = session.sampler.sample
    alone = sample(b_copy, draw_noise(32, seed=EVAL_SEED))
    assert torch.equal(bank.b_clouds, alone), "the first 32 are what sampling 32 noises gives"
    verdict = judge(sample(b_copy, draw_noise(40, seed=EVAL_SEED)))
    assert (point.s_fraction_b, point.clean_b) == (verdict.s_fraction, verdict.clean_fraction)
    with pytest.raises(ValueError, match="flip map needs 41 or more"):
        ViewMeter(session, bank_n=41, held_out=held_out)
    with pytest.raises(ValueError, match="41 or more of seed"):
        ChartMeter(session, eval_n=41, held_out=held_out)


@pytest.mark.parametrize("bank_n", [0, -1])
def test_a_flip_map_of_no_noises_is_refused(bank_n):
    session = make_session()
    with pytest.raises(ValueError, match=f"^bank_n must be at least 1, got {bank_n}$"):
        ViewMeter(session, bank_n=bank_n, held_out=HeldOut(session, 40))
