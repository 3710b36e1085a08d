"""Bad numbers are refused by the library with one clear ValueError, in the words the command line uses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import TINY, make_flow

from toyflow.data import MIN_POINTS, CloudStream, draw_noise, make_cloud, sample_mixture
from toyflow.evaluation import generate
from toyflow.judge import judge, oracle_ticks
from toyflow.solver import Sampler, sample, time_grid
from toyflow.training import Recipe, train
from toyflow.validation import (
    MAX_SEED,
    check_count,
    check_positive,
    check_probability,
    check_seed,
    count_problem,
    positive_problem,
    probability_problem,
    seed_problem,
)


# ------------------------------------------------------------------------------------------ the checks
@pytest.mark.parametrize(
    ("value", "minimum", "problem"),
    [
        (1, 1, None),
        (np.int64(5), 1, None),
        (0, 0, None),
        (0, 1, "must be at least 1, got 0"),
        (-3, 1, "must be at least 1, got -3"),
        (31, 32, "must be at least 32, got 31"),
        (2.0, 1, "must be an integer, got 2"),
        (2.5, 1, "must be an integer, got 2.5"),
        (True, 1, "must be an integer, got True"),
        ("3", 1, "must be an integer, got '3'"),
        (None, 1, "must be an integer, got None"),
    ],
)
def test_count_problem(value, minimum, problem):
    assert count_problem(value, minimum) == problem


@pytest.mark.parametrize("value", [1e-9, 0.5, 20, np.float32(3.0)])
def test_positive_accepts(value):
    assert positive_problem(value) is None and check_positive("seconds", value) == float(value)


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (0.0, "0"), (-1.5, "-1.5"), (math.inf, "inf"), (math.nan, "nan"), ("5", "'5'")]
)
def test_positive_refuses(value, shown):
    assert positive_problem(value) == f"must be a finite number greater than 0, got {shown}"


@pytest.mark.parametrize("value", [0, 0.0, 0.25, 1, 1.0, np.float64(0.5)])
def test_probability_accepts(value):
    assert probability_problem(value) is None and check_probability("p", value) == float(value)


@pytest.mark.parametrize(
    ("value", "shown"), [(-0.1, "-0.1"), (1.5, "1.5"), (2, "2"), (1.0000001, "1.0000001"), (math.nan, "nan")]
)
def test_probability_refuses(value, shown):
    assert probability_problem(value) == f"must lie in [0, 1], got {shown}"


@pytest.mark.parametrize("value", [0, 1, 2**32, MAX_SEED])
def test_seed_accepts(value):
    assert seed_problem(value) is None and check_seed("seed", value) == value


@pytest.mark.parametrize("value", [-1, MAX_SEED + 1, 1.5, "7", True])
def test_seed_refuses(value):
    assert seed_problem(value).startswith("must be an integer from 0 to 2**63 - 1, got ")


def test_check_names_the_value_and_returns_it():
    assert check_count("n", np.int32(4)) == 4 and type(check_count("n", np.int32(4))) is int
    with pytest.raises(ValueError, match=r"^n must be at least 1, got -3$"):
        check_count("n", -3)
    with pytest.raises(ValueError, match=r"^flip_prob must lie in \[0, 1\], got 2$"):
        check_probability("flip_prob", 2)


# ------------------------------------------------------------------------------ the library's functions
def _train(**kwargs):
    """``train`` on a tiny model and stream; a callback stops it after one step, so a budget that is not refused
    fails the test instead of running forever."""

    def stop(step, loss):
        raise AssertionError(f"train ran a step with {kwargs}")

    stream = CloudStream(2, 0.5, num_points=MIN_POINTS, pool_size=2)
    return train(make_flow(TINY), Recipe(config=TINY), progress=False, stream=stream, callback=stop, **kwargs)


def _recipe_steps(steps):
    recipe = Recipe(config=TINY, steps=steps)
    return train(make_flow(TINY), recipe, progress=False, stream=CloudStream(2, 0.5, MIN_POINTS, pool_size=2))


LIBRARY_CASES = {
    "noise, negative count": (lambda: draw_noise(-3), "n must be at least 1, got -3"),
    "noise, no clouds": (lambda: draw_noise(0), "n must be at least 1, got 0"),
    "noise, too few points": (lambda: draw_noise(2, 1), f"num_points must be at least {MIN_POINTS}, got 1"),
    "noise, a float count": (lambda: draw_noise(2.5), "n must be an integer, got 2.5"),
    "mixture, negative count": (lambda: sample_mixture(-1), "n must be at least 0, got -1"),
    "mixture, too few points": (lambda: sample_mixture(3, 0.5, 8), f"num_points must be at least {MIN_POINTS}, got 8"),
    "mixture, bad fraction": (lambda: sample_mixture(3, 1.5), "s_fraction must lie in [0, 1], got 1.5"),
    "one cloud, one point": (lambda: make_cloud("s_curve", 1), f"num_points must be at least {MIN_POINTS}, got 1"),
    "stream, empty batches": (lambda: CloudStream(0, 0.5, pool_size=2), "batch_size must be at least 1, got 0"),
    "stream, no pool": (lambda: CloudStream(2, 0.5, pool_size=0), "pool_size must be at least 1, got 0"),
    "sampler, 0 steps": (lambda: Sampler("euler", 0), "steps must be at least 1, got 0"),
    "sampler copy, 0 steps": (lambda: Sampler().with_(steps=0), "steps must be at least 1, got 0"),
    "sample, 0 steps": (
        lambda: sample(make_flow(TINY), torch.zeros(1, 40, 2), steps=0),
        "steps must be at least 1, got 0",
    ),
    "time grid, -1 steps": (lambda: time_grid(-1), "steps must be at least 1, got -1"),
    "train, negative steps": (lambda: _train(steps=-5), "steps must be at least 1, got -5"),
    "train, 0 steps": (lambda: _train(steps=0), "steps must be at least 1, got 0"),
    "train, recipe of 0 steps": (lambda: _recipe_steps(0), "recipe.steps must be at least 1, got 0"),
    "train, 0 seconds": (lambda: _train(seconds=0), "seconds must be a finite number greater than 0, got 0"),
    "train, negative seconds": (
        lambda: _train(seconds=-1.5),
        "seconds must be a finite number greater than 0, got -1.5",
    ),
    "train, endless seconds": (
        lambda: _train(seconds=math.inf),
        "seconds must be a finite number greater than 0, got inf",
    ),
    "judge, too few points": (lambda: judge(torch.zeros(2, 8, 2)), f"num_points must be at least {MIN_POINTS}, got 8"),
    "oracle, bad flip": (lambda: oracle_ticks(torch.zeros(2, 40, 2), 1.5), "flip_prob must lie in [0, 1], got 1.5"),
    "generate, no clouds": (lambda: generate(make_flow(TINY), 0, seed=0), "n must be at least 1, got 0"),
}


@pytest.mark.parametrize("case", list(LIBRARY_CASES))
def test_library_refuses_bad_numbers(case):
    call, message = LIBRARY_CASES[case]
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


def test_good_edge_values_still_work():
    assert draw_noise(1, MIN_POINTS, seed=0).shape == (1, MIN_POINTS, 2)
    assert sample_mixture(0, 0.5, MIN_POINTS)[0].shape == (0, MIN_POINTS, 2)  # an empty batch stays allowed
    assert sample(make_flow(TINY), draw_noise(2, MIN_POINTS, seed=1), steps=1).shape == (2, MIN_POINTS, 2)
    assert judge(sample_mixture(4, 0.5, MIN_POINTS, seed=2)[0]).is_s.shape == (4,)
    assert Sampler().with_(steps=3).steps == 3 and Sampler().with_() == Sampler()
