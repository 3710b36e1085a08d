"""toyflow.preference.round: one headless round, its seeds, the simulated annotator's answer and the chart."""

from __future__ import annotations

import pytest
import torch
from conftest import FAST, TINY, make_flow, same_weights, weights

from toyflow.data import draw_noise
from toyflow.preference import (
    Answer,
    ChartMeter,
    ChartPoint,
    PreferenceInputError,
    PreferenceSession,
    Proposal,
    oracle_answer,
    play_round,
    random_answer,
    round_seed,
)
from toyflow.preference.round import FRESH_N
from toyflow.seeds import stream


def make_session(seed: int = 0, method: str = "reward-fm") -> PreferenceSession:
    return PreferenceSession(make_flow(TINY, seed=3), method=method, seed=seed, sampler_steps=4, settings=FAST)


def test_a_round_shows_the_record_b_on_the_same_noise_and_fresh_samples():
    session = make_session(seed=3)
    proposal = session.propose(4)
    stages = []
    result = play_round(session, Answer(ticks=[0, 2]), proposal, progress=lambda k, text: stages.append(k))
    assert result.record is session.history[-1] and result.record.updated and result.record.round == 1
    assert result.proposal is proposal
    assert result.b_same.shape == (4, 400, 2) and result.b_fresh.shape == (FRESH_N, 400, 2) == (6, 400, 2)
    assert result.b_same.device.type == "cpu"
    torch.testing.assert_close(result.b_same, session.resample(proposal.noise).cpu(), atol=0, rtol=0)
    # the fresh samples follow the one rule: the noise of round_seed(seed, "fresh", round)
    assert result.fresh_seed == round_seed(3, "fresh", 1)
    torch.testing.assert_close(result.b_fresh, session.sample_b(6, result.fresh_seed).cpu(), atol=0, rtol=0)
    assert result.chart is None and stages == [1, 2]
    assert set(result.timing) == {"update", "sample", "total"}
    second = play_round(session, Answer(), session.propose(4))
    assert second.fresh_seed == round_seed(3, "fresh", 2) != result.fresh_seed and not second.record.updated


def test_the_same_seed_gives_the_same_rounds():
    one, two = make_session(seed=5), make_session(seed=5)
    for _ in range(2):
        a = play_round(one, Answer(ticks=[1]), one.propose(4))
        b = play_round(two, Answer(ticks=[1]), two.propose(4))
        assert torch.equal(a.b_same, b.b_same) and torch.equal(a.b_fresh, b.b_fresh)
    assert same_weights(weights(one.b), weights(two.b))


def test_bad_answers_change_nothing():
    session = make_session()
    with pytest.raises(PreferenceInputError, match="propose"):
        play_round(session, Answer(ticks=[0]))
    proposal = session.propose(4)
    before = weights(session.b)
    with pytest.raises(PreferenceInputError, match="out of range"):
        play_round(session, Answer(ticks=[7]), proposal)
    with pytest.raises(ValueError, match="^fresh_n must be at least 1, got 0$"):
        play_round(session, Answer(ticks=[0]), proposal, fresh_n=0)  # refused before the answer is taken
    assert session.history == [] and same_weights(before, weights(session.b))
    assert session.buffer == [] and [e["event"] for e in session.log.events] == ["propose"]


@pytest.mark.parametrize(
    ("noise", "samples"), [((4, 400, 2), (4, 300, 2)), ((4, 400), (4, 400)), ((0, 400, 2), (0, 400, 2))]
)
def test_a_proposal_s_noise_and_samples_are_clouds_of_one_shape(noise, samples):
    with pytest.raises(ValueError, match=r"must both have the shape \(n, num_points, 2\), n >= 1; got"):
        Proposal(torch.zeros(noise), torch.zeros(samples))


def test_a_skipped_round_keeps_b_and_still_shows_it():
    session = make_session()
    proposal = session.propose(4)
    before = weights(session.b)
    result = play_round(session, Answer(), proposal)
    assert not result.record.updated and same_weights(before, weights(session.b))
    torch.testing.assert_close(result.b_same, proposal.samples.cpu(), atol=0, rtol=0)  # B is still A


def test_oracle_answer_ticks_the_clean_s_curves_with_the_sessions_flip_stream(monkeypatch):
    import toyflow.preference.round as round_module

    session = make_session(seed=8)
    proposal = session.propose(4)
    seen = {}

    def fake_oracle(clouds, flip_prob, generator, shape):
        seen.update(clouds=clouds, flip_prob=flip_prob, draw=torch.rand(3, generator=generator), shape=shape)
        return [2]

    monkeypatch.setattr(round_module, "oracle_ticks", fake_oracle)
    assert oracle_answer(session, proposal, 0.25) == Answer(ticks=[2])
    assert seen["clouds"] is proposal.samples and seen["flip_prob"] == 0.25 and seen["shape"] == "s_curve"
    assert torch.equal(seen["draw"], torch.rand(3, generator=stream(8, "flips", proposal.number)))
    oracle_answer(session, proposal, 0.0, shape="swiss_roll")  # the person may prefer Swiss rolls
    assert seen["shape"] == "swiss_roll"


def test_chart_meter_measures_a_once_and_b_after_it_changed(monkeypatch):
    session = make_session()
    meter = ChartMeter(session, eval_n=4, eval_seed=11)
    measured = []
    monkeypatch.setattr(meter, "figures", lambda model: measured.append(model) or (0.25, 0.5))
    play_round(session, Answer(ticks=[0]), session.propose(4))
    first = meter.measure(1, meter.snapshot())
    assert first == ChartPoint(1, 0.25, 0.25, 0.5, 0.5)
    assert [p.round for p in meter.points] == [0, 1]  # B was A before the first round
    assert measured[0] is session.a and measured[1] is not session.b  # a frozen copy of B
    assert same_weights(weights(measured[1]), weights(session.b))
    play_round(session, Answer(), session.propose(4))  # B unchanged: no new snapshot, nothing measured again
    assert meter.snapshot() is None
    meter.measure(2, None)
    assert len(measured) == 2 and [p.round for p in meter.points] == [0, 1, 2]


def test_chart_figures_are_the_judges_on_fixed_noises():
    from toyflow.judge import judge

    session = make_session()
    result = play_round(session, Answer(ticks=[1]), session.propose(4), chart=ChartMeter(session, eval_n=6))
    point = result.chart
    assert point.round == 1 and "chart" in result.timing
    from toyflow.evaluation import EVAL_SEED

    clouds_b = session.sampler.sample(session.b, draw_noise(6, seed=EVAL_SEED))
    v = judge(clouds_b)
    assert (point.s_fraction_b, point.clean_b) == (v.s_fraction, v.clean_fraction)


def test_reward_fm_pairs_its_pool_once_and_its_rounds_call_no_solver(monkeypatch):
    from toyflow import coupling
    from toyflow.seeds import derive_seed

    session = make_session(seed=4)
    pairs = session.bench.pool_pairs()
    pool = session.pool().samples
    assert session.bench.pool_pairs() is pairs and pairs.shape == (session.settings.pool_noises, *pool.shape)
    # noise j of each cloud is the stream (seed, "pool-pairs", j)'s, its points reordered (paired with the cloud's)
    for j in range(pairs.shape[0]):
        drawn = session.noise(pool.shape[0], derive_seed(4, "pool-pairs", j))
        assert torch.equal(torch.sort(pairs[j].flatten(1), dim=1).values, torch.sort(drawn.flatten(1), dim=1).values)

    def no_solver(*args, **kwargs):
        raise AssertionError("a round paired noise by optimal transport again")

    monkeypatch.setattr(coupling, "ot_pair", no_solver)
    monkeypatch.setattr(coupling, "couple", no_solver)
    result = play_round(session, Answer(ticks=[0, 1]), session.propose(4))
    assert result.record.updated


def test_the_placebo_ticks_at_random_blind_to_shape_and_reproducibly():
    session = make_session(seed=4)
    proposal = session.propose(4)
    ticks = random_answer(session, proposal).ticks
    assert ticks == random_answer(session, proposal).ticks  # the stream (seed, "random-ticks", proposal number)
    coins = torch.rand(4, generator=stream(4, "random-ticks", proposal.number))
    assert ticks == [i for i in range(4) if coins[i] < 0.5]
    assert random_answer(session, proposal, tick_prob=0.0).ticks == []
    assert random_answer(session, proposal, tick_prob=1.0).ticks == [0, 1, 2, 3]
    # blind to shape: the same coins whatever the clouds are
    swapped = type(proposal)(proposal.noise, proposal.samples.flip(0), proposal.seed, proposal.number)
    assert random_answer(session, swapped).ticks == ticks
    with pytest.raises(ValueError, match="tick_prob must lie in"):
        random_answer(session, proposal, tick_prob=1.5)
