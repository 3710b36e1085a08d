"""toyflow.decision: the decision over time, read from the gate where there is one, else by the judge on the
straight-line endpoint; checked on fields whose answer is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SMALL, make_flow
from torch import nn

from toyflow.data import draw_noise, make_cloud
from toyflow.decision import (
    DecisionRecorder,
    decision_along,
    decision_curve,
    decision_from,
    has_gate,
    p_s,
    reading,
    sample_deciding,
)
from toyflow.judge import classify
from toyflow.model import CloudFlow, FlowConfig
from toyflow.solver import Sampler


class TimedGate(nn.Module):
    """Class heads whose gate says logit = 8 (t - 0.5) + bias_i for cloud i: P(S) is known at every time."""

    def __init__(self, bias: torch.Tensor) -> None:
        super().__init__()
        self.bias = nn.Parameter(bias.clone())

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)  # nothing moves: the trajectory is the noise at every step

    def class_parts(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.bias.shape[0]
        bias = self.bias.repeat(x.shape[0] // n)
        return torch.zeros_like(x), torch.zeros_like(x), 8 * (t - 0.5) + bias


class Straight:
    """A velocity field with no gate that carries noise z_i straight to target x_i: v = x_i - z_i (so the
    straight-line endpoint x_t + (1 - t) v is x_i at every step of an Euler sampler)."""

    def __init__(self, noise: torch.Tensor, targets: torch.Tensor) -> None:
        self.velocity = targets - noise

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.velocity.repeat(x.shape[0] // self.velocity.shape[0], 1, 1)


def test_the_gate_is_read_where_there_is_one():
    bias = torch.tensor([-2.0, 0.0, 3.0])
    model = TimedGate(bias)
    assert has_gate(model) and has_gate(CloudFlow(SMALL)) and "gate" in reading(model)
    assert not has_gate(CloudFlow(FlowConfig(width=16, depth=1, class_heads=False)))
    noise = draw_noise(3, seed=0)
    times, p = decision_curve(model, noise, Sampler("euler", 4))
    assert torch.equal(times, torch.linspace(0, 1, 5))
    expected = torch.sigmoid(8 * (times[None, :] - 0.5) + bias[:, None])
    torch.testing.assert_close(p, expected, rtol=0, atol=1e-6)


def test_without_a_gate_the_judge_reads_the_straight_line_endpoint():
    targets = torch.from_numpy(np.stack([make_cloud("s_curve", seed=1), make_cloud("swiss_roll", seed=2)]))
    noise = draw_noise(2, seed=3)
    field = Straight(noise, targets)
    assert not has_gate(field) and "judge" in reading(field)
    times, p = decision_curve(field, noise, Sampler("euler", 5))
    assert p.shape == (2, 6) and times.shape == (6,)
    assert p[0].tolist() == [1.0] * 6, "the endpoint is the S curve from the very first step"
    assert p[1].tolist() == [0.0] * 6, "and the Swiss roll"


def test_a_network_without_class_heads_uses_the_judge_of_its_endpoint():
    model = make_flow(FlowConfig(width=16, depth=1, time_freqs=4, class_heads=False), seed=4)
    x = draw_noise(3, seed=5)
    t = torch.tensor([0.0, 0.5, 1.0])
    from toyflow.judge import judge

    with torch.no_grad():
        endpoint = x + (1 - t)[:, None, None] * model(x, t)
    assert torch.equal(p_s(model, x, t), judge(endpoint).is_s.float())
    # a field with a known answer: straight lines to an S curve and a Swiss roll end on them from any time
    targets = torch.from_numpy(np.stack([make_cloud("s_curve", seed=1), make_cloud("swiss_roll", seed=2)]))

    def straight(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (targets - x) / (1 - t)[:, None, None]

    assert p_s(straight, draw_noise(2, seed=5), torch.tensor([0.0, 0.5])).tolist() == [1.0, 0.0]


def test_at_t_1_a_field_without_a_gate_is_not_evaluated_the_cloud_has_landed():
    clouds = torch.from_numpy(np.stack([make_cloud("swiss_roll", seed=2), make_cloud("s_curve", seed=1)]))

    def never(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise AssertionError("evaluated at t = 1")

    assert p_s(never, clouds, torch.ones(2)).tolist() == [0.0, 1.0]
    model = make_flow(FlowConfig(width=16, depth=1, time_freqs=4, class_heads=False), seed=4)
    with torch.no_grad():  # what the evaluation would have read: the endpoint x + 0 * v, the cloud itself
        evaluated = classify(clouds + 0 * model(clouds, torch.ones(2))).float()
    assert torch.equal(p_s(model, clouds, torch.ones(2)), evaluated)
    assert p_s(never, clouds, torch.tensor(1.0).expand(2)).tolist() == [0.0, 1.0]


def test_the_curve_follows_the_sampler_and_ends_on_the_samples():
    model = make_flow(SMALL, seed=2)
    sampler = Sampler("midpoint", 4)
    noise = draw_noise(4, seed=6)
    trajectory = sampler.sample(model, noise, return_trajectory=True)
    assert torch.equal(trajectory[-1], sampler.sample(model, noise)), "same noise, exactly the same clouds"
    times, p = decision_along(model, trajectory)
    assert p.shape == (4, 5) and ((p >= 0) & (p <= 1)).all()
    for k in range(5):  # exactly the gate at each step, batched or not
        with torch.no_grad():
            logit = model.class_parts(trajectory[k], torch.full((4,), float(times[k])))[2]
        torch.testing.assert_close(p[:, k], torch.sigmoid(logit), rtol=0, atol=1e-6)
    read_as_sampled = decision_along(model, trajectory, sampler.precision)[1]
    assert torch.equal(decision_curve(model, noise, sampler)[1], read_as_sampled)
    low = decision_along(model, trajectory, "bfloat16")[1]  # read as a bfloat16 sampler evaluates the network
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logit = model.class_parts(trajectory[2], torch.full((4,), float(times[2])))[2]
    torch.testing.assert_close(low[:, 2], torch.sigmoid(logit.float()), rtol=0, atol=5e-3)  # bfloat16, batched or not
    torch.testing.assert_close(low, p, rtol=0, atol=2e-2)
    model.train()
    decision_along(model, trajectory)
    assert model.training, "the model's mode is left as it was"


@pytest.mark.parametrize("steps", [1, 8])
def test_any_number_of_steps(steps):
    times, p = decision_curve(make_flow(SMALL, seed=1), draw_noise(2, seed=0), Sampler("euler", steps))
    assert times.shape == (steps + 1,) and p.shape == (2, steps + 1)


@pytest.mark.parametrize("class_heads", [True, False])
@pytest.mark.parametrize("method", ["exponential", "euler"])
def test_the_decision_read_while_sampling_is_the_one_read_afterwards(class_heads, method):
    config = SMALL if class_heads else FlowConfig(width=16, depth=1, time_freqs=4, class_heads=False)
    model = make_flow(config, seed=5).eval()
    sampler = Sampler(method, 5, "float32")
    noise = draw_noise(3, seed=8)
    trace = sample_deciding(model, noise, sampler)
    assert not model.training  # left in the mode it was in
    assert torch.equal(trace.trajectory, sampler.sample(model, noise, return_trajectory=True)), "the same clouds"
    if class_heads:
        assert trace.gate is not None and trace.gate.shape == (3, 5) and trace.endpoints is None
    else:  # judged when read, not while sampling
        assert trace.endpoints is not None and trace.endpoints.shape == (5, 3, 400, 2) and trace.gate is None
    times, p = decision_from(model, trace, sampler.precision)
    expected_times, expected = decision_along(model, trace.trajectory, sampler.precision)
    assert torch.equal(times, expected_times) and p.shape == (3, 6)
    torch.testing.assert_close(p, expected, rtol=0, atol=1e-6)
    assert torch.equal(decision_curve(model, noise, sampler)[1], p)
    first = trace.first(2)  # the round keeps the proposals' clouds of a batch that also holds fresh ones
    assert torch.equal(decision_from(model, first, sampler.precision)[1], p[:2])


def test_without_one_evaluation_per_step_or_a_gated_velocity_the_trajectory_is_read_afterwards():
    model = make_flow(SMALL, seed=2)
    noise = draw_noise(2, seed=1)
    heun = sample_deciding(model, noise, Sampler("heun", 3))  # it evaluates between the states
    assert heun.gate is None and heun.endpoints is None
    gate = TimedGate(torch.tensor([-1.0, 1.0]))
    timed = sample_deciding(gate, noise, Sampler("euler", 3))
    assert timed.gate is None and timed.endpoints is None
    torch.testing.assert_close(decision_from(gate, timed)[1], decision_along(gate, timed.trajectory)[1])
    with pytest.raises(ValueError, match="gated_velocity"):
        DecisionRecorder(gate)
