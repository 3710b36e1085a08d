"""toyflow.preference: labels, the barrier, each method's update, bad input, the session's state."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import FAST, SMALL, TINY, make_flow, same_weights, weights

from toyflow import flow
from toyflow.data import sample_mixture
from toyflow.flow import time_grid
from toyflow.judge import oracle_ticks
from toyflow.preference import (
    METHODS,
    PreferenceInputError,
    PreferenceSession,
    barrier_direction,
    labels_from,
    parse_answer,
    straight_path_errors,
)


def make_session(method: str, config=TINY, seed: int = 0) -> PreferenceSession:
    return PreferenceSession(make_flow(config, seed=3), method=method, seed=seed, sampler_steps=4, settings=FAST)


# ------------------------------------------------------------------------------------------------ labels
def test_labels_from_ticks_and_probabilities():
    assert labels_from(4, ticks=[2, 0, 2]).tolist() == [0.5, 0.0, 0.5, 0.0]
    assert labels_from(4, ticks=[]) is None
    assert labels_from(4) is None
    assert labels_from(4, probabilities=[0.2, 0.6]).tolist() == pytest.approx([0.25, 0.75, 0.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ticks": [4]}, "out of range"),
        ({"ticks": [-1]}, "out of range"),
        ({"probabilities": [0.5, 1.5]}, r"\[0, 1\]"),
        ({"probabilities": [-0.1]}, r"\[0, 1\]"),
        ({"probabilities": [float("nan")]}, r"\[0, 1\]"),
        ({"probabilities": [0, 0, 0, 0]}, "positive sum"),
        ({"probabilities": [0.1] * 5}, "5 probabilities"),
        ({"ticks": [1], "probabilities": [1.0]}, "not both"),
    ],
)
def test_bad_labels_raise_one_clear_error(kwargs, message):
    with pytest.raises(PreferenceInputError, match=message):
        labels_from(4, **kwargs)


def test_parse_answer_reads_the_original_terminal_syntax():
    assert parse_answer("", 4) == ([], None)
    assert parse_answer(" 0 3 ", 4) == ([0, 3], None)
    assert parse_answer("1,2", 4) == ([1, 2], None)
    assert parse_answer("p 0.1 0.5", 4) == (None, [0.1, 0.5])
    for text, message in [("a b", "indices"), ("p x", "numbers"), ("7", "out of range"), ("p 2", r"\[0, 1\]")]:
        with pytest.raises(PreferenceInputError, match=message):
            parse_answer(text, 4)


# ------------------------------------------------------------------------------------------- the pieces
def test_straight_path_errors_exact_for_a_zero_field():
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    noise = torch.zeros(2, 3, 2)
    samples = torch.tensor([[[1.0, 0.0]] * 3, [[3.0, 4.0]] * 3])
    e = straight_path_errors(zero, noise, samples, time_grid(10)[:-1])
    assert e.tolist() == pytest.approx([1.0, 25.0])


def test_straight_path_errors_zero_for_the_exact_straight_field():
    noise, samples = torch.randn(3, 5, 2), torch.randn(3, 5, 2)
    exact = lambda x, t: (samples - noise).repeat(x.shape[0] // 3, 1, 1)  # noqa: E731
    assert straight_path_errors(exact, noise, samples, time_grid(4)[:-1]).abs().max() < 1e-6


def test_barrier_direction_guarantees_progress_on_the_second_objective():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        gf, gg = torch.randn(50, generator=gen), torch.randn(50, generator=gen)
        phi = float(torch.rand(1, generator=gen))
        d, lam = barrier_direction(gf, gg, phi)
        assert lam >= 0
        assert float(d.dot(gg)) >= phi - 1e-5
        if float(gf.dot(gg)) >= phi:  # already fine: no correction
            assert lam == 0 and torch.equal(d, gf)
    # an analytic case: gf = (1, 0), gg = (-1, 1), phi = 1  ->  lambda = (1 - (-1)) / 2 = 1, d = (0, 1)
    d, lam = barrier_direction(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0]), 1.0)
    assert lam == pytest.approx(1.0) and d.tolist() == pytest.approx([0.0, 1.0])


def test_oracle_ticks_the_clean_s_curves_and_flips_with_noise():
    s, _ = sample_mixture(3, 1.0, seed=1)
    rolls, _ = sample_mixture(3, 0.0, seed=2)
    clouds = torch.cat([rolls[:1], s[:2], rolls[1:], s[2:]])  # roll, S, S, roll, roll, S
    assert oracle_ticks(clouds) == [1, 2, 5]
    assert oracle_ticks(clouds, flip_prob=1.0) == [0, 3, 4]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        oracle_ticks(clouds, flip_prob=1.5)


# ------------------------------------------------------------------------------------------- the session
@pytest.mark.parametrize("method", METHODS)
def test_each_method_lowers_its_own_preference_loss(method):
    torch.manual_seed(0)
    session = make_session(method, SMALL)
    proposal = session.propose(4, seed=5)
    before = session.preference_objective(proposal, torch.tensor([0.5, 0.5, 0.0, 0.0]))
    for _ in range(3):
        record = session.give(ticks=[0, 1], proposal=proposal)
        assert record.updated, record.reason
    after = session.preference_objective(proposal, torch.tensor([0.5, 0.5, 0.0, 0.0]))
    assert after < before


@pytest.mark.parametrize("method", METHODS)
def test_no_tick_and_bad_input_change_nothing(method):
    session = make_session(method)
    session.propose(4, seed=1)
    before = weights(session.b)
    skipped = session.give(ticks=[])
    assert not skipped.updated and "skipped" in skipped.reason
    every = session.give(ticks=[0, 1, 2, 3])
    assert not every.updated and "no preference" in every.reason
    for bad in ({"ticks": [9]}, {"probabilities": [1.2, 0.0]}, {"probabilities": [0.0, 0.0]}):
        with pytest.raises(PreferenceInputError):
            session.give(**bad)
    assert same_weights(before, weights(session.b))
    assert [r.updated for r in session.history] == [False, False]  # bad input is not a round
    assert session.buffer == [] and session.labelled_rounds == 0


def test_give_before_propose_is_a_clear_error():
    with pytest.raises(PreferenceInputError, match="propose"):
        make_session("reference").give(ticks=[0])


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_loss_skips_the_step_and_keeps_b(method, monkeypatch):
    session = make_session(method)
    session.propose(4, seed=2)
    before = weights(session.b)
    for name in ("flow_matching_loss", "class_flow_matching_loss"):  # every loss B's methods use
        real = getattr(flow, name)
        monkeypatch.setattr(flow, name, lambda *a, _real=real, **k: _real(*a, **k) * float("nan"))
    with pytest.warns(UserWarning, match="non-finite"):
        record = session.give(ticks=[1])
    assert not record.updated and "non-finite" in record.reason
    assert same_weights(before, weights(session.b))
    assert session.buffer == []


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
    assert math.isfinite(rec.preference_loss) and math.isfinite(rec.flow_loss) and rec.barrier >= 0
    assert rec.seconds > 0
    session.reset()
    assert session.buffer == [] and session.history == [] and same_weights(weights(session.a), weights(session.b))


def test_same_seed_same_noise_and_same_update():
    a, b = make_session("reward-fm", seed=4), make_session("reward-fm", seed=4)
    pa, pb = a.propose(4, seed=9), b.propose(4, seed=9)
    assert torch.equal(pa.noise, pb.noise) and torch.equal(pa.samples, pb.samples)
    a.give(ticks=[0])
    b.give(ticks=[0])
    assert same_weights(weights(a.b), weights(b.b))
    assert torch.equal(a.resample(pa.noise), b.resample(pb.noise))


def test_model_a_stays_frozen():
    session = make_session("reference")
    before = weights(session.a)
    session.propose(4, seed=0)
    session.give(ticks=[3])
    assert same_weights(before, weights(session.a))
    assert not any(p.requires_grad for p in session.a.parameters())


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method"):
        PreferenceSession(make_flow(TINY), method="magic")


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


@pytest.mark.parametrize("class_heads", [True, False])
def test_fresh_mixture_clouds_are_learned_with_model_as_training_loss(class_heads, monkeypatch):
    # B keeps quality on fresh mixture clouds with A's own loss: per-class heads and gate when it has them
    from dataclasses import replace

    session = make_session("reward-fm", config=replace(TINY, class_heads=class_heads))
    calls = []
    for name in ("flow_matching_loss", "class_flow_matching_loss"):
        real = getattr(flow, name)
        monkeypatch.setattr(flow, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    session.finetune_fresh(2)
    assert calls == ["class_flow_matching_loss" if class_heads else "flow_matching_loss"] * 2
