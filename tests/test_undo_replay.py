"""Undo, the session's log and its replay: B returns bit for bit to where it was, and a logged session comes out
the same on replay (every tensor compared)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest
import torch
from conftest import FAST, TINY, make_flow, same_weights, weights

from toyflow.handoff import HandOff
from toyflow.preference import (
    METHODS,
    LogError,
    PreferenceInputError,
    PreferenceSession,
    SessionLog,
    replay,
    tensors_checksum,
)
from toyflow.preference.undo import copied


def make_session(method: str = "reward-fm", seed: int = 0, model_seed: int = 3) -> PreferenceSession:
    return PreferenceSession(make_flow(TINY, seed=model_seed), method=method, seed=seed, sampler_steps=4, settings=FAST)


def optimiser_state(session: PreferenceSession) -> dict:
    return copy.deepcopy(session.opt.state_dict())


def same_optimiser_state(a: dict, b: dict) -> bool:
    if a["param_groups"] != b["param_groups"] or a["state"].keys() != b["state"].keys():
        return False
    return all(
        a["state"][k].keys() == b["state"][k].keys()
        and all(torch.equal(a["state"][k][n], b["state"][k][n]) for n in a["state"][k])
        for k in a["state"]
    )


@pytest.mark.parametrize("method", METHODS)
def test_undo_puts_b_back_bit_for_bit_and_the_history_says_so(method, tilted_pool):
    session = make_session(method)
    session.propose(4)
    session.give(ticks=[0])
    after_one, opt_one, buffer_one = weights(session.b), optimiser_state(session), list(session.buffer)
    second = session.propose(4)
    session.give(ticks=[1, 2])
    assert not same_weights(weights(session.b), after_one)

    snapshot = session.undo()
    assert same_weights(weights(session.b), after_one), "B is exactly as it was before the round"
    assert same_optimiser_state(optimiser_state(session), opt_one), "and so is its optimiser"
    assert session.buffer == buffer_one and session.last_proposal is second
    assert snapshot.proposal is second and snapshot.ticks == [1, 2] and snapshot.probabilities is None
    assert [(r.round, r.action, r.undone) for r in session.history] == [
        (1, "answer", False),
        (2, "answer", True),
        (2, "undo", False),
    ]
    assert "round 2 undone" in session.history[-1].reason
    assert session.rounds == 1 and session.labelled_rounds == 1
    assert [e["event"] for e in session.log.events] == ["propose", "answer", "propose", "answer", "undo"]
    assert session.log.events[-1]["b"] == tensors_checksum(session.b) == session.log.events[1]["b"]

    once = weights(session.b)
    session.give(ticks=[1, 2])  # the same answer again: round 2 again, from the same B, gives the same B
    redone = weights(session.b)
    session.undo()
    assert same_weights(weights(session.b), once)
    session.give(ticks=[1, 2])
    assert same_weights(weights(session.b), redone)


def test_undo_of_a_skipped_round_and_of_nothing():
    session = make_session()
    with pytest.raises(PreferenceInputError, match="nothing to undo"):
        session.undo()
    session.propose(4)
    before = weights(session.b)
    session.give()  # none of these
    session.undo()
    assert same_weights(weights(session.b), before) and "B had not changed" in session.history[-1].reason
    with pytest.raises(PreferenceInputError, match="nothing to undo"):
        session.undo()
    session.give(ticks=[3])
    session.reset()
    with pytest.raises(PreferenceInputError, match="nothing to undo"):
        session.undo()
    assert same_weights(weights(session.b), weights(session.a))


def test_bad_input_is_neither_a_round_nor_an_event():
    session = make_session()
    session.propose(4)
    with pytest.raises(PreferenceInputError, match="^proposal index 7 is out of range 0..3$"):
        session.give(ticks=[7])
    assert session.history == [] and [e["event"] for e in session.log.events] == ["propose"]


def play_a_session(session: PreferenceSession) -> None:
    """Ticks, probabilities, none of these, an undo, a reset and a fine-tune: every kind of event."""
    session.propose(4)
    session.give(ticks=[0, 2])
    session.propose(4)
    session.give(probabilities=[0.1, 0.0, 0.9, 0.0])
    session.propose(4)
    session.give()
    session.propose(4)
    session.give(ticks=[3])
    session.undo()
    session.give(ticks=[1])  # the same proposal, another answer
    session.finetune_fresh(1)
    session.propose(4, seed=123)
    session.give(ticks=[2])
    session.reset()
    session.propose(4)
    session.give(ticks=[1, 3])
    session.propose(4)
    session.give(ticks=[0])


@pytest.mark.parametrize("method", METHODS)
def test_a_logged_session_replays_bit_for_bit(method, tmp_path):
    session = make_session(method, seed=4)
    play_a_session(session)
    path = session.log.write(tmp_path / "log.json")
    assert not list(tmp_path.glob(".*.tmp")), "written atomically: no temporary file is left"
    data = json.loads(path.read_text())
    assert data["format"] == "toyflow-session-log" and data["method"] == method and data["seed"] == 4
    assert data["model_a"] == tensors_checksum(session.a)
    assert data["sampler"] == {"method": "exponential", "steps": 4, "precision": "auto"}
    events = [e["event"] for e in data["events"]]
    assert events.count("undo") == 1 and events.count("reset") == 1 and events.count("finetune") == 1
    answers = [e for e in data["events"] if e["event"] == "answer"]
    assert answers[1]["probabilities"] == [0.1, 0.0, 0.9, 0.0] and answers[2]["ticks"] is None

    replayed = replay(make_flow(TINY, seed=3), path)  # another object with the same tensors as model A
    assert replayed.exact and "bit for bit" in replayed.describe()
    assert same_weights(weights(replayed.session.b), weights(session.b))
    assert not same_weights(weights(replayed.session.b), weights(session.a))
    assert replayed.session.labelled_rounds == session.labelled_rounds == 2
    assert [e["b"] for e in replayed.session.log.events if "b" in e] == [e["b"] for e in data["events"] if "b" in e]


def test_a_label_free_session_handed_off_to_a_undoes_and_replays_bit_for_bit(tmp_path, tilted_pool):
    config = replace(TINY, class_heads=False)
    session = PreferenceSession(make_flow(config, seed=3), seed=4, sampler_steps=4, settings=FAST)
    assert isinstance(session.b, HandOff)
    session.propose(4)
    session.give(ticks=[0, 2])
    before = weights(session.b)
    session.propose(4)
    session.give(ticks=[1])
    assert not same_weights(weights(session.b), before)
    session.undo()
    assert same_weights(weights(session.b), before)
    play_a_session(session)
    replayed = replay(make_flow(config, seed=3), session.log.write(tmp_path / "log.json"))
    assert replayed.exact and same_weights(weights(replayed.session.b), weights(session.b))


def test_a_log_for_another_model_a_is_refused_before_anything_is_done(tmp_path):
    session = make_session()
    session.propose(4)
    session.give(ticks=[1])
    path = session.log.write(tmp_path / "log.json")
    other = make_flow(TINY, seed=9)
    with pytest.raises(LogError, match="another model A") as caught:
        replay(other, path, name="other.safetensors")
    assert "\n" not in str(caught.value) and "other.safetensors" in str(caught.value)


def test_replay_says_where_b_stops_matching(tmp_path):
    session = make_session()
    session.propose(4)
    session.give(ticks=[1])
    session.propose(4)
    session.give(ticks=[2])
    log = SessionLog.from_json(json.loads(json.dumps(session.log.to_json())))
    log.events[3]["b"] = "0" * 64  # as if the second update had come out otherwise elsewhere
    replayed = replay(make_flow(TINY, seed=3), log)
    assert not replayed.exact and replayed.diverged_at == 3 and "from event 3 on" in replayed.describe()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"format": "something else"}', "not a toyflow session log"),
        ('{"format": "toyflow-session-log", "version": 99}', "'version' is 99; this toyflow reads session logs of"),
        ('{"format": "toyflow-session-log", "version": 10, "model_a": "x"}', "'model_a' must be a SHA-256 checksum"),
        ('{"format": "toyflow-session-log", "version": 2}', "'version' is 2; this toyflow reads session logs of ve"),
    ],
)
def test_unusable_logs_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "log.json"
    path.write_text(content)
    with pytest.raises(LogError, match=message) as caught:
        SessionLog.read(path)
    assert "\n" not in str(caught.value)


def test_a_log_built_in_memory_is_checked_by_the_same_schema_before_anything_is_replayed():
    session = make_session()
    session.propose(4, seed=1)
    session.give(ticks=[0])
    log = copy.deepcopy(session.log)
    log.events[1]["ticks"] = [9]  # an answer naming a cloud the proposal does not have
    with pytest.raises(
        LogError, match=r"^the session log: event 1 \(answer\): 'ticks\[0\]' must be an index"
    ) as caught:
        replay(session.a, log)
    assert "\n" not in str(caught.value)


def test_a_missing_log_is_one_clear_error(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(LogError, match="cannot read") as caught:
        SessionLog.read(missing)
    assert str(missing) in str(caught.value) and "\n" not in str(caught.value)


def test_the_checksum_sees_one_changed_bit():
    model = make_flow(TINY, seed=1)
    first = tensors_checksum(model)
    assert first == tensors_checksum(copy.deepcopy(model)) and len(first) == 64
    with torch.no_grad():
        p = next(model.parameters())
        p.view(-1)[0] = torch.nextafter(p.view(-1)[0], torch.tensor(float("inf")))
    assert tensors_checksum(model) != first


def test_the_logs_schema_names_every_setting_and_takes_the_defaults():
    from dataclasses import asdict, fields

    from toyflow.preference import MethodSettings
    from toyflow.preference.log_schema import Settings

    assert set(Settings.model_fields) == {f.name for f in fields(MethodSettings)}
    assert Settings.model_validate(asdict(MethodSettings())).model_dump() == asdict(MethodSettings())


def test_a_snapshot_copies_every_tensor_and_keeps_the_state_dict_s_metadata():
    session = make_session()
    state = {"model": session.b.state_dict(), "groups": [{"lr": 0.1, "params": [0, 1]}], "pair": (torch.ones(2), 3)}
    copy_of = copied(state)
    assert type(copy_of["model"]) is type(state["model"]) and copy_of["model"]._metadata == state["model"]._metadata
    assert copy_of["groups"] == state["groups"] and copy_of["groups"][0]["params"] is not state["groups"][0]["params"]
    assert isinstance(copy_of["pair"], tuple) and copy_of["pair"][1] == 3
    with torch.no_grad():
        for tensor in [*state["model"].values(), state["pair"][0]]:
            tensor.add_(1)  # the session's tensors change after the snapshot: the copy does not
    assert torch.equal(copy_of["pair"][0], torch.ones(2))
    assert all(not torch.equal(copy_of["model"][k], v) for k, v in state["model"].items() if v.is_floating_point())
