"""toyflow.preference methods: the registry, the pieces they are built from, and each method's update."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from conftest import FAST, SMALL, TILT_PER_CERTAINTY, TINY, make_flow, same_weights, weights

from toyflow import flow
from toyflow.checkpoint import load_checkpoint
from toyflow.data import sample_mixture
from toyflow.handoff import HandOff
from toyflow.judge import oracle_ticks
from toyflow.model import CloudFlow
from toyflow.preference import (
    METHODS,
    Method,
    PreferenceSession,
    barrier_direction,
    get_method,
    register,
    straight_path_errors,
)
from toyflow.preference.base import DEFAULT_METHOD
from toyflow.preference.methods import dpo, reward_fm
from toyflow.preference.objectives import preference_cross_entropy
from toyflow.preference.records import UpdateStats
from toyflow.solver import time_grid


def make_session(method: str, config=TINY, seed: int = 0) -> PreferenceSession:
    return PreferenceSession(make_flow(config, seed=3), method=method, seed=seed, sampler_steps=4, settings=FAST)


def two_rounds(session: PreferenceSession) -> UpdateStats:
    """Two rounds of ticks [0, 1] on fresh proposals; the statistics of the second update."""
    for r in range(2):
        session.propose(4, seed=r)
        session.give(ticks=[0, 1])
    return session.history[-1].stats


# ---------------------------------------------------------------------------------------------- registry
def test_every_method_module_is_registered_by_name():
    assert set(METHODS) == {"reference", "dpo", "reward-fm"}
    assert DEFAULT_METHOD == "reward-fm"
    for name, cls in METHODS.items():
        assert cls.name == name and isinstance(get_method(name), cls)
    assert get_method(None).name == DEFAULT_METHOD
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        get_method("magic")


def test_a_new_method_is_one_registered_class(monkeypatch):
    monkeypatch.setattr("toyflow.preference.base.METHODS", dict(METHODS))
    from toyflow.preference import base

    calls = []

    @register
    class Nudge(Method):
        name = "nudge"

        def update(self, bench, generator):
            calls.append(torch.rand(1, generator=generator).item())
            return UpdateStats(flow_loss=bench.fit(lambda: bench.fresh_batch(2, generator), 1, generator))

        def objective(self, bench, proposal, labels):
            return 0.0

    assert base.METHODS["nudge"] is Nudge
    session = make_session("nudge")
    session.propose(4)
    assert session.method == "nudge" and session.give(ticks=[1]).updated and len(calls) == 1
    with pytest.raises(ValueError, match="already registered"):
        register(type("Other", (Nudge,), {}))


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
    assert oracle_ticks(clouds, flip_prob=1.0, generator=torch.Generator()) == [0, 3, 4]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        oracle_ticks(clouds, flip_prob=1.5)
    with pytest.raises(ValueError, match="^flip_prob > 0 draws the flips at random: pass a torch.Generator"):
        oracle_ticks(clouds, flip_prob=0.1)
    flipped = [oracle_ticks(clouds, 0.5, torch.Generator().manual_seed(seed)) for seed in (0, 0, 1)]
    assert flipped[0] == flipped[1] != flipped[2]  # the generator's flips, and only its


# ------------------------------------------------------------------------------------------- the updates
@pytest.mark.parametrize("method", METHODS)
def test_each_method_lowers_its_own_preference_loss(method, tilted_pool):
    session = make_session(method, SMALL)
    labels = [0.5, 0.5, 0.0, 0.0]
    answers = [{"ticks": [0, 1]}] * 3
    if method == "reward-fm":
        # Bayes' shift of the gate (gain 1) on a pool whose shapes A tells apart, from one answer: the labels its
        # objective reads (B is set from every answer so far, and three answers are surer than the objective's one).
        # A reads its pool as mostly rolls, and any certainty weighs its S curves past one half: the shift descends.
        session.bench.settings = replace(FAST, gate_shift_gain=1.0)
        assert float(torch.sigmoid(session.a.class_parts(session.bench.pool().samples, 0.0)[2]).mean()) < 0.5
        answers = [{"probabilities": labels}]
    proposal = session.propose(4, seed=5)
    before = session.preference_objective(proposal, torch.tensor(labels))
    for answer in answers:
        record = session.give(proposal=proposal, **answer)
        assert record.updated, record.reason
    after = session.preference_objective(proposal, torch.tensor(labels))
    assert after < before


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_loss_skips_the_step_and_keeps_b(method, monkeypatch):
    session = make_session(method)
    session.propose(4, seed=2)
    before = weights(session.b)
    for module, name in ((flow, "flow_matching_loss"), (flow, "class_flow_matching_loss"), (reward_fm, "pool_weights")):
        real = getattr(module, name)  # every loss B's methods learn from, and the weights reward-fm's gate is set by
        monkeypatch.setattr(module, name, lambda *a, _real=real, **k: _real(*a, **k) * float("nan"))
    with pytest.warns(UserWarning, match="non-finite"):
        record = session.give(ticks=[1])
    assert not record.updated and "non-finite" in record.reason
    assert same_weights(before, weights(session.b))
    assert session.buffer == []


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


def test_the_fine_tune_control_trains_the_whole_of_b_with_an_optimiser_of_its_own():
    # whatever the method trains (reward-fm trains nothing of a gated B by steps), the control fine-tunes every
    # weight at whole_lr, one Adam run over the calls; the method's optimiser and frozen weights stay as they were
    session = make_session("reward-fm")
    before, opt_before = weights(session.b), session.opt.state_dict()
    session.finetune_fresh(2)
    session.finetune_fresh(1)
    a = dict(session.a.named_parameters())
    assert all(not torch.equal(p, a[name]) for name, p in session.b.named_parameters())
    assert not same_weights(before, weights(session.b))
    control = session.bench._finetune_opt
    assert control.param_groups[0]["lr"] == FAST.whole_lr
    assert {float(state["step"]) for state in control.state.values()} == {3.0}  # one run, 2 + 1 steps
    assert session.opt.state_dict() == opt_before and not any(p.requires_grad for p in session.b.parameters())


def test_the_reference_method_uses_its_own_learning_rate_and_one_step():
    session = make_session("reference")
    assert session.opt.param_groups[0]["lr"] == 1e-3 != FAST.lr
    session.propose(4)
    session.give(ticks=[0])
    assert all(s["step"] == 1 for s in session.opt.state.values())


def test_reward_fm_sets_a_gated_b_to_a_with_its_gate_shifted(tilted_pool):
    # B moves probability between the shapes A draws (the gate's log odds) and draws them as A does: nothing else
    session = make_session("reward-fm")
    assert session.opt.param_groups == [] and not any(p.requires_grad for p in session.b.parameters())
    session.propose(4, seed=1)
    record = session.give(ticks=[0, 1])
    shift = record.stats.gate_shift
    assert record.updated and shift is not None and shift != 0 and record.stats.flow_loss is None
    a = dict(session.a.named_parameters())
    changed = {name for name, p in session.b.named_parameters() if not torch.equal(p, a[name])}
    assert changed == {"gate.2.bias"}
    x, t = sample_mixture(3, 0.5, seed=4)[0], torch.tensor([0.0, 0.3, 0.9])
    logit_a, logit_b = session.a.class_parts(x, t)[2], session.b.class_parts(x, t)[2]
    assert torch.allclose(logit_b - logit_a, torch.full((3,), shift), atol=1e-5)
    # the shift FAST asks for: the gain times the log odds the weighting adds, TILT_PER_CERTAINTY x certainty; a
    # second round sets B again from A, it does not shift the shifted gate
    assert shift == pytest.approx(FAST.gate_shift_gain * TILT_PER_CERTAINTY * record.stats.certainty)
    session.propose(4, seed=2)
    second = session.give(ticks=[1])
    assert second.stats.gate_shift == pytest.approx(FAST.gate_shift_gain * TILT_PER_CERTAINTY * second.stats.certainty)
    logit_b = session.b.class_parts(x, t)[2]
    assert torch.allclose(logit_b - logit_a, torch.full((3,), second.stats.gate_shift), atol=1e-5)


def test_gate_shift_is_the_log_ratio_of_the_mean_weights_of_the_two_shapes():
    from toyflow.preference.methods.reward_fm import gate_shift

    assert gate_shift(torch.full((6,), 1 / 6), torch.tensor([1.0, 0.9, 0.5, 0.2, 0.0, 0.0])) == pytest.approx(0.0)
    assert gate_shift(torch.tensor([0.8, 0.2]), torch.tensor([1.0, 0.0])) == pytest.approx(math.log(4.0))
    # soft readings count a cloud for both shapes: W_S = (0.5 + 0.15) / 1.5, W_roll = (0.15 + 0.2) / 1.5
    weights, classes = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([1.0, 0.5, 0.0])
    assert gate_shift(weights, classes) == pytest.approx(math.log(0.65 / 0.35))
    assert gate_shift(weights.flip(0), classes) == pytest.approx(-math.log(0.65 / 0.35))  # rolls favoured
    # A reads its whole pool as one shape: there are no odds between shapes to move
    assert gate_shift(weights, torch.zeros(3)) == 0.0 and gate_shift(weights, torch.ones(3)) == 0.0


def test_reward_fm_trains_a_network_without_class_heads_whole_until_it_hands_off_to_a():
    session = make_session("reward-fm", config=replace(TINY, class_heads=False))
    b, a = session.b, session.a
    assert isinstance(b, HandOff) and b.time == FAST.handoff_time
    assert [g["lr"] for g in session.opt.param_groups] == [FAST.whole_lr]
    assert all(p.requires_grad for p in b.early.parameters()) and not any(p.requires_grad for p in b.late.parameters())
    two_rounds(session)
    assert same_weights(weights(b.late), weights(a))  # A's late field, as A has it
    assert not same_weights(weights(b.early), weights(a))  # B's own field learned
    restarted = make_session("reward-fm", config=replace(TINY, class_heads=False))
    restarted.propose(4, seed=0)
    restarted.give(ticks=[0, 1])
    restarted.reset()
    assert same_weights(weights(restarted.b.early), weights(a)) and isinstance(restarted.b, HandOff)


def test_reward_fm_learns_a_hand_off_at_times_before_it(monkeypatch):
    from toyflow.preference import workbench

    times = []
    mixture_loss = workbench.mixture_loss

    def spy(model, x1, x0, t, *args, **kwargs):
        times.append(t)
        return mixture_loss(model, x1, x0, t, *args, **kwargs)

    monkeypatch.setattr(workbench, "mixture_loss", spy)
    two_rounds(make_session("reward-fm", config=replace(TINY, class_heads=False)))
    every = torch.cat(times)
    assert len(times) == 2 * FAST.steps and every.max() < FAST.handoff_time and every.min() >= 0


def test_a_b_saved_before_is_model_a_of_a_session_and_b_hands_off_at_its_time(tmp_path):
    first = make_session("reward-fm", config=replace(TINY, class_heads=False))
    two_rounds(first)
    saved, _ = load_checkpoint(first.save(tmp_path / "b.safetensors"), device="cpu")
    again = PreferenceSession(saved, seed=1, sampler_steps=4, settings=replace(FAST, handoff_time=0.3))
    b = again.b
    assert isinstance(b, HandOff) and isinstance(b.early, CloudFlow) and b.time == FAST.handoff_time  # saved's own
    assert same_weights(weights(b.early), weights(saved.early)) and same_weights(weights(b.late), weights(saved.late))
    two_rounds(again)
    assert same_weights(weights(b.late), weights(saved.late))
    loaded, _ = load_checkpoint(again.save(tmp_path / "b2.safetensors"), device="cpu")  # one hand-off, not nested
    assert isinstance(loaded.early, CloudFlow) and same_weights(weights(loaded), weights(b))


def test_reward_fm_measures_a_hand_off_at_times_before_it(monkeypatch):
    session = make_session("reward-fm", config=replace(TINY, class_heads=False))
    times = []
    mixture_loss = reward_fm.mixture_loss

    def spy(model, x1, x0, t, *args, **kwargs):
        times.append(float(t[0]))
        return mixture_loss(model, x1, x0, t, *args, **kwargs)

    monkeypatch.setattr(reward_fm, "mixture_loss", spy)
    proposal = session.propose(4, seed=0)
    session.preference_objective(proposal, torch.tensor([0.5, 0.5, 0.0, 0.0]))
    assert times == pytest.approx([t * FAST.handoff_time for t in reward_fm.OBJECTIVE_TIMES])


def test_no_hand_off_at_time_1_nor_for_a_network_with_class_heads():
    at_1 = PreferenceSession(make_flow(replace(TINY, class_heads=False)), settings=replace(FAST, handoff_time=1.0))
    assert isinstance(at_1.b, CloudFlow)
    assert isinstance(make_session("reward-fm").b, CloudFlow)


def test_reward_fm_draws_a_network_without_class_heads_subsets_of_pool_clouds(monkeypatch):
    from toyflow.preference.workbench import Workbench

    batches = []
    fit = Workbench.fit

    def spy(self, next_batch, steps, generator, until=1.0):
        def counted():
            batches.append(next_batch())
            return batches[-1]

        return fit(self, counted, steps, generator, until)

    monkeypatch.setattr(Workbench, "fit", spy)
    settings = replace(FAST, whole_pool_batch=5, whole_points=100)
    model = make_flow(replace(TINY, class_heads=False), seed=3)
    session = PreferenceSession(model, method="reward-fm", seed=0, sampler_steps=4, settings=settings)
    session.propose(4, seed=1)
    assert session.give(ticks=[0, 1]).updated
    assert [tuple(b.clouds.shape[:2]) for b in batches] == [(5, 100)] * settings.steps
    # every point comes with the noise point paired with it in the pool, whatever subset a step reads
    bench = session.bench
    paired = {}
    for cloud, noises in zip(bench.pool().samples, bench.pool_pairs().transpose(0, 1), strict=True):
        for k, point in enumerate(cloud.tolist()):
            paired[tuple(point)] = {tuple(noise[k].tolist()) for noise in noises}
    for batch in batches:
        for cloud, noise in zip(batch.clouds, batch.noise, strict=True):
            assert len({tuple(p) for p in cloud.tolist()}) == cloud.shape[0]  # no point read twice
            assert all(tuple(n) in paired[tuple(p)] for p, n in zip(cloud.tolist(), noise.tolist(), strict=True))


def test_pool_tilt_is_the_divergence_of_the_weighting_from_a_uniform_pool():
    from toyflow.preference.methods.reward_fm import pool_tilt

    assert pool_tilt(torch.full((128,), 1 / 128)) == pytest.approx(0.0, abs=1e-12)
    even = torch.cat([torch.full((23,), 1 / 23, dtype=torch.float64), torch.zeros(105, dtype=torch.float64)])
    assert pool_tilt(even) == pytest.approx(math.log(128 / 23), rel=1e-12)  # clouds weighted 0 add nothing
    assert pool_tilt(torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)) == pytest.approx(
        0.5 * math.log(1.5) + 0.5 * math.log(0.75), rel=1e-12
    )


def test_step_scale_is_the_tilt_up_to_a_full_step():
    from toyflow.preference.methods.reward_fm import step_scale

    assert step_scale(0.1, tilt_nats=0.5) == pytest.approx(0.2)
    assert step_scale(1.7, tilt_nats=0.5) == 1.0  # a pool far from A's law: the full step
    assert step_scale(0.0, tilt_nats=0.5) == 0.0  # A's own law (no evidence, or random ticks): B is A


def test_reward_fm_scales_a_whole_network_by_the_tilt_and_reports_it():
    session = make_session("reward-fm", config=replace(TINY, class_heads=False))
    session.bench.settings = settings = replace(FAST, tilt_nats=10.0)  # past any tilt of a pool of 8: a fraction
    stats = two_rounds(session)
    assert stats.tilt is not None and stats.tilt >= 0
    (group,) = session.opt.param_groups
    scale = stats.tilt / settings.tilt_nats
    assert 0 < stats.tilt < settings.tilt_nats and group["lr"] == pytest.approx(FAST.whole_lr * scale)


def test_reward_fm_shifts_a_gate_by_the_gain_the_tilt_and_the_pools_log_odds(tilted_pool):
    from toyflow.preference.methods.reward_fm import pool_tilt

    session = make_session("reward-fm")
    session.bench.settings = settings = replace(FAST, tilt_nats=10.0, gate_shift_gain=1.5)  # past the tilt: a fraction
    stats = two_rounds(session)
    assert stats.tilt == pytest.approx(pool_tilt(tilted_pool(stats.certainty))) and 0 < stats.tilt < settings.tilt_nats
    odds = TILT_PER_CERTAINTY * stats.certainty  # the log odds the weighting adds to A's S curves
    assert stats.gate_shift == pytest.approx(1.5 * stats.tilt / settings.tilt_nats * odds)


def test_dpo_scales_its_learning_rate_by_the_certainty_and_reports_it():
    session = make_session("dpo")
    stats = two_rounds(session)
    assert stats.certainty is not None and 0 < stats.certainty < 1 and stats.evidence is not None
    assert stats.certainty == pytest.approx(session.belief().certainty)
    for group in session.opt.param_groups:
        assert group["lr"] == pytest.approx(group["base_lr"] * stats.certainty)


def test_dpo_learns_in_the_gate_of_a_model_with_class_heads_and_in_the_whole_of_one_without():
    session = make_session("dpo")
    gate, _ = session.b.shape_parameters()
    assert [g["lr"] for g in session.opt.param_groups] == [FAST.dpo_gate_lr]
    assert {id(p) for p in session.b.parameters() if p.requires_grad} == {id(p) for p in gate}
    session.propose(4, seed=1)
    assert session.give(ticks=[0, 1]).updated
    a = dict(session.a.named_parameters())
    changed = {name for name, p in session.b.named_parameters() if not torch.equal(p, a[name])}
    assert changed and all(name.startswith("gate.") for name in changed)

    whole = make_session("dpo", config=replace(TINY, class_heads=False))
    assert [g["lr"] for g in whole.opt.param_groups] == [FAST.lr]
    assert all(p.requires_grad for p in whole.b.parameters())


@pytest.mark.parametrize(("t_max", "expected"), [(0.13, [0.0]), (0.5, [0.0, 0.25, 0.5]), (1.0, [0.0, 0.25, 0.5, 0.75])])
def test_dpo_reads_the_errors_at_the_early_grid_times_only(t_max, expected, monkeypatch):
    """B's errors at the drawn grid times, each read once a step however often drawn; frozen A's at every grid time
    it learns from, once a round."""
    seen: dict[str, list[list[float]]] = {"a": [], "b": []}
    errors = dpo.straight_path_errors_by_time

    def spy(model, noise, samples, times):
        seen["a" if model is session.bench.a else "b"].append(times.tolist())
        return errors(model, noise, samples, times)

    monkeypatch.setattr(dpo, "straight_path_errors_by_time", spy)
    session = make_session("dpo")  # a sampler of 4 steps: the grid 0, 0.25, 0.5, 0.75 (and 1)
    session.bench.settings = replace(FAST, dpo_t_max=t_max)
    assert dpo.FlowDPO.times(session.bench).tolist() == expected
    session.propose(4, seed=1)
    session.give(ticks=[0, 1])
    assert seen["a"] == [expected]
    assert len(seen["b"]) == FAST.steps
    assert all(times and set(times) <= set(expected) and len(set(times)) == len(times) for times in seen["b"])


def test_dpo_s_preference_loss_is_the_mean_over_the_drawn_times_of_every_round(monkeypatch):
    """A step's preference loss is the mean over the labelled rounds of the cross entropy of the logits
    ``-(e_B - e_A) / temperature``, the errors averaged over the drawn grid times (a time drawn twice counted twice):
    the update's, against the same loss computed directly."""
    session = make_session("dpo")
    session.bench.settings = replace(FAST, dpo_t_max=1.0, steps=1, time_samples=7, restart=False)
    for seed, ticks in [(1, [0, 1]), (2, [2])]:
        session.propose(4, seed=seed)
        session.give(ticks=ticks)
    bench = session.bench
    with torch.no_grad():  # B away from A, so that the logits are not all 0
        for p in bench.b.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    grid = dpo.FlowDPO.times(bench)
    idx = torch.randint(0, grid.shape[0], (7,), generator=torch.Generator().manual_seed(5))
    assert len(set(idx.tolist())) < 7  # a time drawn more than once
    direct = sum(
        preference_cross_entropy(
            -(
                straight_path_errors(bench.b, i.noise, i.samples, grid[idx])
                - straight_path_errors(bench.a, i.noise, i.samples, grid[idx])
            )
            / FAST.temperature,
            i.labels,
        )
        for i in bench.buffer
    ) / len(bench.buffer)
    seen: list[float] = []
    monkeypatch.setattr(bench, "barrier_step", lambda descend, protect, phi: seen.append(descend.item()) or 0.0)
    dpo.FlowDPO().update(bench, torch.Generator().manual_seed(5))
    assert len(bench.buffer) == 2 and abs(direct.item() - math.log(4)) > 0.01  # not the loss of equal logits
    assert seen == pytest.approx([direct.item()], rel=1e-5)


def test_dpo_reads_the_early_grid_times_on_a_network_without_class_heads_too():
    session = make_session("dpo", config=replace(TINY, class_heads=False))
    session.bench.settings = replace(FAST, dpo_t_max=0.5)
    assert dpo.FlowDPO.times(session.bench).tolist() == [0.0, 0.25, 0.5]


def test_dpo_protects_the_flow_matching_loss_of_its_own_batch_of_fresh_clouds(monkeypatch):
    session = make_session("dpo", config=replace(TINY, class_heads=False))
    session.bench.settings = replace(FAST, dpo_barrier_batch=5)
    sizes: list[int] = []
    fresh = session.bench.fresh_batch

    def spy(size, generator):
        batch = fresh(size, generator)
        sizes.append(batch.clouds.shape[0])
        return batch

    monkeypatch.setattr(session.bench, "fresh_batch", spy)
    session.propose(4, seed=1)
    assert session.give(ticks=[0, 1]).updated
    assert sizes == [5] * FAST.steps  # one batch a step, of dpo_barrier_batch clouds (not batch_size: 4)
