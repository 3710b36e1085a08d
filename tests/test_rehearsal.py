"""toyflow.preference.rehearsal: B as an answer would make it, computed apart before the answer, and read ahead on
the held-out noises (HeldOut.read_ahead) for the views to take when the answer is given as it stood."""

from __future__ import annotations

import copy
import threading
from dataclasses import replace

import pytest
import torch
from conftest import FAST, TINY, make_flow, same_weights, weights
from test_undo_replay import optimiser_state, same_optimiser_state

from toyflow.preference import METHODS, Answer, HeldOut, PreferenceSession
from toyflow.preference import session as session_module
from toyflow.preference.read_ahead import ReadAhead
from toyflow.preference.rehearsal import same_weights as same_networks
from toyflow.preference.round import play_round, rehearse_round
from toyflow.preference.workbench import UpdateStopped
from toyflow.solver import SamplingStopped
from toyflow.worker import TorchWorker

GATED, LABEL_FREE = TINY, replace(TINY, class_heads=False)
CONFIGS = pytest.mark.parametrize("config", [GATED, LABEL_FREE], ids=["gated", "label-free"])


def make_session(config=GATED, method: str = "reward-fm") -> PreferenceSession:
    return PreferenceSession(make_flow(config, seed=3), method=method, seed=0, sampler_steps=4, settings=FAST)


def state(session: PreferenceSession) -> tuple:
    """What an answer may change in a session, to compare before and after."""
    return (
        weights(session.b),
        optimiser_state(session),
        list(session.buffer),
        list(session.history),
        len(session.log.events),
        session.b_version,
    )


def unchanged(before: tuple, session: PreferenceSession) -> bool:
    after = state(session)
    return same_weights(before[0], after[0]) and same_optimiser_state(before[1], after[1]) and before[2:] == after[2:]


@CONFIGS
@pytest.mark.parametrize("answer", [Answer(ticks=[0]), Answer(ticks=[1, 3]), Answer(probabilities=[0.9, 0, 0.2, 0])])
def test_a_rehearsal_makes_b_to_the_bit_as_the_round_will_and_changes_nothing(config, answer, tilted_pool):
    session = make_session(config)
    session.propose(4)
    session.give(ticks=[2])  # a round in effect: the rehearsal starts from B, its optimiser and labels as they are
    proposal = session.propose(4)
    before = state(session)
    rehearsal = session.rehearsal(answer, proposal)
    b = rehearsal.run()
    assert unchanged(before, session), "the session is as it was"
    assert not b.training and not any(p.requires_grad for p in b.parameters()), "frozen, as the views' copy of B"
    assert session.give(ticks=answer.ticks, probabilities=answer.probabilities).updated
    assert same_weights(weights(b), weights(session.b)), "the round made the same B, bit for bit"
    assert not same_weights(weights(b), before[0]), "and B moved"
    assert same_networks(b, session.frozen_b())


@pytest.mark.parametrize("method", METHODS)
def test_every_method_s_rehearsal_makes_the_round_s_b(method, tilted_pool):
    session = make_session(GATED, method)
    session.propose(4)
    before = weights(session.b)
    b = session.rehearsal(Answer(ticks=[0, 1])).run()
    session.give(ticks=[0, 1])
    assert same_weights(weights(b), weights(session.b)) and not same_weights(before, weights(b))


@pytest.mark.parametrize(
    "answer",
    [Answer(), Answer(ticks=[0, 1, 2, 3]), Answer(probabilities=[0.5] * 4), Answer(ticks=[4]), Answer(ticks=[-1])],
    ids=["nothing ticked", "all ticked", "all alike", "out of range", "negative"],
)
def test_an_answer_that_leaves_b_or_is_refused_has_no_rehearsal(answer):
    session = make_session()
    session.propose(4)
    before = state(session)
    assert session.rehearsal(answer) is None
    assert unchanged(before, session)


def test_a_proposal_not_drawn_since_the_reset_or_none_at_all_has_no_rehearsal():
    session = make_session()
    assert session.rehearsal(Answer(ticks=[0])) is None, "no proposal yet"
    stale = session.propose(4)
    session.reset()
    assert session.rehearsal(Answer(ticks=[0]), stale) is None


def test_a_rehearsal_gives_way_between_two_optimiser_steps_and_changes_nothing(tilted_pool):
    session = make_session(LABEL_FREE)  # its update takes optimiser steps
    session.propose(4)
    before = state(session)
    asked = []
    rehearsal = session.rehearsal(Answer(ticks=[0]), stop=lambda: asked.append(1) or True)
    with pytest.raises(UpdateStopped, match="given up") as stopped:
        rehearsal.run()
    assert isinstance(stopped.value, SamplingStopped), "caught where a sampling read ahead is"
    assert asked == [1] and unchanged(before, session)
    assert session.bench.stop is None, "the session's own updates never give way"


def test_a_non_finite_rehearsal_gives_no_b(monkeypatch):
    session = make_session(LABEL_FREE)
    session.propose(4)
    rehearsal = session.rehearsal(Answer(ticks=[0]))

    def poisoned(bench, generator):
        with torch.no_grad():
            next(bench.b.parameters()).fill_(float("nan"))

    monkeypatch.setattr(rehearsal, "update", poisoned)
    assert rehearsal.run() is None
    assert all(torch.isfinite(p).all() for p in session.b.parameters())


@CONFIGS
def test_the_views_take_what_was_read_ahead_when_the_answer_is_given_as_it_stood(config, monkeypatch, tilted_pool):
    session = make_session(config)
    held_out = HeldOut(session, 8)
    read, sampled = held_out._read, []
    monkeypatch.setattr(held_out, "_read", lambda model, stop: sampled.append(model) or read(model, stop))
    session.propose(4)
    ahead = held_out.read_ahead(session.rehearsal(Answer(ticks=[1])).run())
    assert len(sampled) == 1
    session.give(ticks=[1])
    b = held_out.snapshot()
    assert held_out.reading(b) is ahead and len(sampled) == 1, "taken, not sampled again"
    assert torch.equal(ahead.clouds, read(b, None).clouds), "what sampling that copy of B gives"


def test_what_was_read_ahead_for_other_ticks_is_not_taken(monkeypatch, tilted_pool):
    session = make_session()
    held_out = HeldOut(session, 8)
    session.propose(4)
    ahead = held_out.read_ahead(session.rehearsal(Answer(ticks=[1])).run())
    session.give(ticks=[2])  # answered otherwise
    b = held_out.snapshot()
    reading = held_out.reading(b)
    assert reading is not ahead
    assert torch.equal(reading.clouds, held_out._read(b, None).clouds)


def test_a_reading_ahead_given_up_keeps_nothing(tilted_pool):
    session = make_session()
    held_out = HeldOut(session, 8)
    session.propose(4)
    rehearse_round(session, session.rehearsal(Answer(ticks=[1])), held_out=held_out)
    assert held_out._ahead is not None and session._ahead is not None
    given_up = session.rehearsal(Answer(ticks=[2]), stop=lambda: True)
    given_up.update = lambda bench, generator: None  # (B unchanged: a gated B's update takes no steps to stop at)
    with pytest.raises(SamplingStopped):
        rehearse_round(session, given_up, held_out=held_out)
    assert session._ahead is None, "what was read ahead before is for other ticks: dropped"
    with pytest.raises(SamplingStopped):
        held_out.read_ahead(session.frozen_b(), stop=lambda: True)
    assert held_out._ahead is None


def test_networks_are_the_same_only_with_every_tensor_the_same_bit_for_bit():
    a = make_flow(TINY, seed=1)
    b = copy.deepcopy(a)
    assert same_networks(a, b)
    with torch.no_grad():
        b.out.bias[0] = torch.nextafter(b.out.bias[0], torch.tensor(1.0))  # one bit
    assert not same_networks(a, b)
    assert not same_networks(a, make_flow(LABEL_FREE, seed=1)), "another layout"
    assert not same_networks(a, torch.nn.Linear(2, 2)), "another type"


@CONFIGS
def test_the_round_takes_the_tiles_read_ahead_when_answered_as_the_ticks_stood(config, monkeypatch, tilted_pool):
    session = make_session(config)
    session.propose(4)
    session.give(ticks=[0])
    proposal = session.propose(4)
    b = rehearse_round(session, session.rehearsal(Answer(ticks=[2, 3]), proposal), fresh_n=3)
    ahead = session._ahead[2]
    sampled = []
    sample = session_module.sample_deciding
    monkeypatch.setattr(session_module, "sample_deciding", lambda *args: sampled.append(1) or sample(*args))
    result = play_round(session, Answer(ticks=[2, 3]), proposal, fresh_n=3)
    assert sampled == [], "the round sampled nothing: it took the tiles read ahead"
    assert same_networks(b, session.b) and result.b_trace.trajectory.shape[1] == 4
    monkeypatch.undo()
    alone = session.resample_deciding(torch.cat([proposal.noise, session.noise(3, result.fresh_seed)]))
    assert alone is ahead
    session._ahead = None  # B sampled from that noise now, as the round would have
    again = session.resample_deciding(torch.cat([proposal.noise, session.noise(3, result.fresh_seed)]))
    assert torch.equal(again.trajectory, ahead.trajectory), "what sampling B gives, bit for bit"
    assert torch.equal(result.b_same, ahead.trajectory[-1, :4])
    assert torch.equal(result.b_fresh, ahead.trajectory[-1, 4:])


def test_tiles_read_ahead_for_other_noise_or_another_b_are_not_taken(tilted_pool):
    session = make_session(LABEL_FREE)
    proposal = session.propose(4)
    rehearse_round(session, session.rehearsal(Answer(ticks=[1]), proposal), fresh_n=3)
    ahead = session._ahead[2]
    other_noise = play_round(session, Answer(ticks=[1]), proposal, fresh_n=2)  # 2 fresh clouds, not 3
    assert other_noise.b_trace is not None and session._ahead[2] is ahead
    session.undo()
    proposal = session.propose(4)
    rehearse_round(session, session.rehearsal(Answer(ticks=[1]), proposal), fresh_n=3)
    b_ahead, _, ahead = session._ahead
    result = play_round(session, Answer(ticks=[0, 1, 2]), proposal, fresh_n=3)
    assert not same_networks(b_ahead, session.b), "another B"
    assert not torch.equal(result.b_same, ahead.trajectory[-1, :4])


def test_read_ahead_reads_the_ticks_as_they_stand_and_the_round_takes_it(monkeypatch, tilted_pool):
    session = make_session(LABEL_FREE)
    held_out = HeldOut(session, 8)
    jobs = []
    ahead = ReadAhead(session, held_out, lambda job, *args: jobs.append((job, args)), fresh_n=3)
    proposal = session.propose(4)
    ahead.ticked(Answer(ticks=[0]), proposal)
    ahead.ticked(Answer(ticks=[0, 2]), proposal)  # the first reading gives way before it begins
    ahead.ticked(Answer(ticks=[0, 2]), None)  # nothing open to answer: nothing to read
    assert ahead.latest is None and len(jobs) == 2
    ahead.ticked(Answer(ticks=[2]), proposal)
    for job, args in jobs:
        job(*args)
    assert [args[0].stage for _, args in jobs] == ["not begun", "not begun", "done"]
    with ahead.answering(Answer(ticks=[2])):
        result = play_round(session, Answer(ticks=[2]), proposal, fresh_n=3)
    assert ahead.kept is None, "done before the answer: nothing left to keep"
    assert result.b_trace.trajectory.shape[1] == 4 and session._ahead is not None
    assert same_networks(session._ahead[0], session.b) and ahead.error is None


def test_read_ahead_keeps_a_reading_past_its_tiles_for_the_answer_it_reads(tilted_pool):
    session = make_session()
    ahead = ReadAhead(session, HeldOut(session, 8), lambda job, *args: None)
    proposal = session.propose(4)
    ahead.ticked(Answer(ticks=[1]), proposal)
    ahead.latest.stage = "held-out clouds"  # as the worker leaves it while it samples the held-out noises
    with ahead.answering(Answer(ticks=[1, 2])):
        assert ahead.kept is None, "another answer"
    ahead.ticked(Answer(ticks=[1]), proposal)
    ahead.latest.stage = "held-out clouds"
    waited = threading.Event()
    with ahead.answering(Answer(ticks=[1])):
        assert ahead.kept is ahead.latest
        asking = threading.Thread(target=lambda: ahead.latest.stop() or waited.set())
        asking.start()  # as the worker asks between two steps: it waits for the round's end
        assert not waited.wait(0.2)
    asking.join(5)
    assert waited.is_set(), "kept: once the round is done it samples on"
    ahead.moved_on()
    assert not ahead.latest.stop(), "new proposals: a reading kept goes on"
    ahead.give_up()
    assert ahead.kept is None and ahead.latest.stop(), "an undo or a reset gives it up"


@CONFIGS
def test_b_read_ahead_on_the_worker_thread_is_what_the_round_draws_on_its_own(config, two_threads, tilted_pool):
    # the round takes the worker's tiles for its own: they must be what sampling B on the round's thread gives
    session = make_session(config)
    proposal = session.propose(4)
    worker = TorchWorker()
    try:
        rehearsal = session.rehearsal(Answer(ticks=[0, 3]), proposal)
        b = worker.submit(rehearse_round, session, rehearsal, 3).result()
    finally:
        worker.shutdown()
    ahead = session._ahead[2]
    session._ahead = None  # the round samples B itself
    result = play_round(session, Answer(ticks=[0, 3]), proposal, fresh_n=3)
    assert same_networks(b, session.b), "the update on the worker made the round's B, bit for bit"
    ahead_same = ahead.first(4)  # what the decision over time reads too: the gate, or the endpoints
    for name in ("trajectory", "gate", "endpoints"):
        mine, read = getattr(result.b_trace, name), getattr(ahead_same, name)
        assert (mine is None and read is None) or torch.equal(mine, read), name
    assert (result.b_trace.gate is None) == (config.class_heads is False)
    assert torch.equal(result.b_fresh, ahead.trajectory[-1, 4:])
