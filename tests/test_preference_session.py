"""toyflow.preference.session: the session's state, bad input, saving, and its separate random streams."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch
from conftest import FAST, TINY, make_flow, same_weights, weights
from test_undo_replay import optimiser_state, same_optimiser_state

from toyflow.data import draw_noise
from toyflow.preference import METHODS, PreferenceInputError, PreferenceSession
from toyflow.seeds import derive_seed


def make_session(method: str, config=TINY, seed: int = 0) -> PreferenceSession:
    return PreferenceSession(make_flow(config, seed=3), method=method, seed=seed, sampler_steps=4, settings=FAST)


@pytest.mark.parametrize("method", METHODS)
def test_no_tick_and_bad_input_change_nothing(method):
    session = make_session(method)
    session.propose(4, seed=1)
    before = weights(session.b)
    skipped = session.give(ticks=[])
    assert not skipped.updated and "skipped" in skipped.reason
    every = session.give(ticks=[0, 1, 2, 3])
    assert not every.updated and "no preference" in every.reason
    for bad, message in (
        ({"ticks": [9]}, "^proposal index 9 is out of range 0..3$"),
        ({"probabilities": [1.2, 0.0]}, r"^probabilities must lie in \[0, 1\], got 1.2$"),
        ({"probabilities": [0.0, 0.0]}, "^probabilities must have a positive sum$"),
    ):
        with pytest.raises(PreferenceInputError, match=message):
            session.give(**bad)
    assert same_weights(before, weights(session.b))
    assert [r.updated for r in session.history] == [False, False]  # bad input is not a round
    assert session.buffer == [] and session.labelled_rounds == 0


def test_give_before_propose_is_a_clear_error():
    with pytest.raises(PreferenceInputError, match="propose"):
        make_session("reference").give(ticks=[0])


def test_replay_buffer_history_and_reset():
    session = make_session("dpo")
    first = session.propose(4, seed=11)
    session.give(ticks=[2])
    session.propose(4, seed=12)
    session.give(ticks=[])
    third = session.propose(4, seed=13)
    session.give(probabilities=[0.0, 1.0, 0.5, 0.0])
    assert len(session.buffer) == 2
    assert torch.equal(session.buffer[0].noise, first.noise) and torch.equal(session.buffer[1].samples, third.samples)
    assert session.buffer[0].labels.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert session.buffer[1].labels.tolist() == pytest.approx([0.0, 2 / 3, 1 / 3, 0.0])
    assert [r.round for r in session.history] == [1, 2, 3]
    assert [r.updated for r in session.history] == [True, False, True]
    assert session.labelled_rounds == 2
    rec = session.history[2]
    assert math.isfinite(rec.stats.preference_loss) and math.isfinite(rec.stats.flow_loss) and rec.stats.barrier >= 0
    assert rec.seconds > 0
    session.reset()
    assert session.buffer == [] and session.history == [] and same_weights(weights(session.a), weights(session.b))
    assert session.proposals_drawn == 0


def test_same_seed_same_noise_and_same_update():
    a, b = make_session("reward-fm", seed=4), make_session("reward-fm", seed=4)
    pa, pb = a.propose(4, seed=9), b.propose(4, seed=9)
    assert torch.equal(pa.noise, pb.noise) and torch.equal(pa.samples, pb.samples)
    assert torch.equal(pa.noise, draw_noise(4, seed=9)) and pa.seed == 9
    a.give(ticks=[0])
    b.give(ticks=[0])
    assert same_weights(weights(a.b), weights(b.b))
    assert torch.equal(a.resample(pa.noise), b.resample(pb.noise))


def test_proposals_come_from_the_sessions_own_stream():
    session = make_session("reward-fm", seed=6)
    first, second = session.propose(4), session.propose(4)
    assert (first.number, second.number) == (1, 2)
    assert first.seed == derive_seed(6, "proposal", 1) and second.seed == derive_seed(6, "proposal", 2)
    assert torch.equal(first.noise, draw_noise(4, seed=first.seed))
    assert not torch.equal(first.noise, second.noise)
    assert not torch.equal(make_session("reward-fm", seed=7).propose(4).noise, first.noise)


def test_different_methods_propose_the_same_clouds_with_the_same_seed():
    # proposals depend only on the seed and their number, never on the method or on what the updates drew
    sessions = [make_session(method, seed=2) for method in METHODS]
    for _ in range(3):
        proposals = [s.propose(4) for s in sessions]
        for p in proposals[1:]:
            assert torch.equal(p.noise, proposals[0].noise) and torch.equal(p.samples, proposals[0].samples)
        for s, ticks in zip(sessions, ([0], [1, 2], [3]), strict=False):
            assert s.give(ticks=ticks).updated  # each method draws differently in its update
    assert not same_weights(weights(sessions[0].b), weights(sessions[1].b))


@pytest.mark.parametrize("method", METHODS)
def test_a_round_replayed_from_the_same_b_gives_the_same_b(method, tilted_pool):
    # round r's update draws from the stream (seed, "update", r), not from where earlier draws left a generator
    session = make_session(method)
    session.propose(4)
    session.give(ticks=[0])
    saved = (copy.deepcopy(session.b.state_dict()), copy.deepcopy(session.opt.state_dict()))

    def restore() -> None:  # B and its optimiser as after round 1 (a copy: Adam steps on the state it loads)
        session.b.load_state_dict(saved[0])
        session.opt.load_state_dict(copy.deepcopy(saved[1]))

    session.finetune_fresh(1)  # draws random numbers (and moves B) between the rounds...
    restore()  # ...then B is put back as it was after round 1
    session.propose(4)
    session.give(ticks=[1, 2])
    once = weights(session.b)
    session.history.pop()  # undo round 2
    session.buffer.pop()
    restore()
    session.give(ticks=[1, 2])
    assert same_weights(once, weights(session.b))
    assert not same_weights(once, saved[0])


def test_model_a_stays_frozen():
    session = make_session("reference")
    before = weights(session.a)
    session.propose(4, seed=0)
    session.give(ticks=[3])
    assert same_weights(before, weights(session.a))
    assert not any(p.requires_grad for p in session.a.parameters())


def test_save_writes_model_b_with_its_history(tmp_path):
    from toyflow.checkpoint import load_checkpoint

    session = make_session("reward-fm")
    session.propose(4, seed=1)
    session.give(ticks=[1])
    path = session.save(tmp_path / "b.safetensors")
    model, meta = load_checkpoint(path, device="cpu")
    assert same_weights(weights(model), weights(session.b))
    assert meta["preference"]["method"] == "reward-fm" and meta["preference"]["labelled_rounds"] == 1
    assert meta["preference"]["rounds"][0]["labels"] == [0.0, 1.0, 0.0, 0.0]
    assert meta["sampler"] == {"method": "exponential", "steps": 16, "precision": "auto"}


def test_a_bad_session_is_refused_before_anything_is_made():
    model = make_flow(TINY, seed=3)
    with pytest.raises(ValueError, match=r"^seed must be an integer from 0 to 2\*\*63 - 1, got -1$"):
        PreferenceSession(model, seed=-1, settings=FAST)
    with pytest.raises(ValueError, match=r"^s_fraction must lie in \[0, 1\], got 1.5$"):
        PreferenceSession(model, s_fraction=1.5, settings=FAST)
    with pytest.raises(ValueError, match="^'settings.steps' must be at least 1, got -2$"):
        PreferenceSession(model, settings=replace(FAST, steps=-2))
    with pytest.raises(ValueError, match="^'settings.tilt_nats' must be"):
        PreferenceSession(model, settings=replace(FAST, tilt_nats=0.0))  # reward-fm divides by it


def test_a_bad_proposal_count_or_seed_is_not_counted():
    session = make_session("reward-fm")
    cases = (
        (0, None, "^n must be at least 1, got 0$"),
        (1025, None, "^n must be at most 1024, got 1025$"),
        (4, -5, "^seed must be an integer from 0"),
    )
    for n, seed, message in cases:
        with pytest.raises(ValueError, match=message):
            session.propose(n, seed=seed)
    assert session.proposals_drawn == 0 and session.log.events == []
    assert session.propose(4).number == 1


def test_an_answer_to_a_proposal_of_before_the_reset_is_refused():
    session = make_session("reward-fm")
    stale = session.propose(4, seed=1)
    session.reset()
    before = weights(session.b)
    with pytest.raises(PreferenceInputError, match="^proposal 1 is not one this session drew .* \\(none\\)"):
        session.give(ticks=[0], proposal=stale)
    assert session.history == [] and session.buffer == [] and same_weights(before, weights(session.b))


def test_a_proposal_of_before_the_reset_is_refused_when_its_number_was_drawn_again():
    session = make_session("reward-fm")
    stale = session.propose(4, seed=1)
    session.reset()
    fresh = session.propose(4, seed=2)  # numbered 1 again: the stale one's number
    assert fresh.number == stale.number == 1
    before, events = weights(session.b), len(session.log.events)
    with pytest.raises(PreferenceInputError, match="^proposal 1 is not one this session drew .* \\(1 to 1\\)"):
        session.give(ticks=[0], proposal=stale)
    assert session.history == [] and session.buffer == [] and same_weights(before, weights(session.b))
    assert len(session.log.events) == events  # nothing logged: a replay would have read the new proposal's clouds
    session.give(ticks=[0], proposal=fresh)  # the proposal drawn since the reset is answered
    assert session.rounds == 1


@pytest.mark.parametrize("failure", [RuntimeError("broken"), KeyboardInterrupt()], ids=["error", "interrupt"])
@pytest.mark.parametrize("config", [TINY, replace(TINY, class_heads=False)], ids=["gated", "label-free"])
def test_an_update_that_fails_half_way_leaves_b_and_its_buffer_as_they_were(monkeypatch, failure, config):
    session = make_session("reward-fm", config)
    session.propose(4, seed=1)
    session.give(ticks=[0])  # one round in effect
    before, buffer, events = weights(session.b), list(session.buffer), len(session.log.events)
    optimiser = optimiser_state(session)
    session.propose(4, seed=2)
    update = session.learner.update

    def half_way(bench, generator):
        update(bench, generator)  # B moved...
        raise failure  # ...and then the update fails

    monkeypatch.setattr(session.learner, "update", half_way)
    with pytest.raises(type(failure)):
        session.give(ticks=[1])
    assert same_weights(before, weights(session.b)) and session.buffer == buffer
    assert same_optimiser_state(optimiser, optimiser_state(session))  # B's optimiser too: moments, step counts
    assert len(session.history) == 1 and len(session.log.events) == events + 1  # the propose, no answer
    monkeypatch.undo()
    assert session.give(ticks=[1]).updated and len(session.buffer) == 2  # the session goes on


def test_a_fine_tune_refuses_a_bad_count_and_keeps_b_on_a_non_finite_loss(monkeypatch):
    session = make_session("reward-fm")
    with pytest.raises(ValueError, match="^steps must be at least 1, got -3$"):
        session.finetune_fresh(-3)
    assert session.log.events == []
    session.finetune_fresh(1)  # the fine-tune's own Adam now has a state
    before, fresh_batch = weights(session.b), session.bench.fresh_batch

    def broken(size, generator):
        batch = fresh_batch(size, generator)
        return replace(batch, clouds=torch.full_like(batch.clouds, float("nan")))

    monkeypatch.setattr(session.bench, "fresh_batch", broken)
    with pytest.warns(UserWarning, match="non-finite loss in fine-tuning: steps skipped, B unchanged"):
        assert math.isnan(session.finetune_fresh(2))
    assert same_weights(before, weights(session.b))
    monkeypatch.undo()
    session.finetune_fresh(1)
    assert all(torch.isfinite(p).all() for p in session.b.parameters())  # its Adam state was kept finite


@pytest.mark.parametrize("where", ["loss", "weight"])
def test_a_non_finite_update_is_a_round_that_leaves_b_as_it_was(monkeypatch, where):
    from toyflow.preference.records import UpdateStats

    session = make_session("reward-fm")
    session.propose(4, seed=1)
    before, buffer = weights(session.b), list(session.buffer)

    def update(bench, generator):  # a step that moved B, then a NaN loss or a NaN weight
        with torch.no_grad():
            for p in bench.b.parameters():
                p.add_(1.0)
            if where == "weight":
                next(bench.b.parameters()).fill_(float("nan"))
        return UpdateStats(flow_loss=float("nan") if where == "loss" else 0.1)

    monkeypatch.setattr(session.learner, "update", update)
    with pytest.warns(UserWarning, match="non-finite loss in the preference update: step skipped, B unchanged"):
        record = session.give(ticks=[0])
    assert not record.updated and record.reason == "non-finite loss: step skipped, B unchanged"
    assert same_weights(before, weights(session.b)) and session.buffer == buffer
    assert session.rounds == 1 and session.labelled_rounds == 0
    assert session.log.events[-1]["event"] == "answer" and session.log.events[-1]["updated"] is False
