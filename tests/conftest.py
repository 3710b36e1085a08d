"""Shared fixtures and helpers for the toyflow tests.

Everything is sized to run in seconds on a 2-core CPU: tiny networks, few clouds, few steps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from toyflow.model import CloudFlow, FlowConfig
from toyflow.preference import MethodSettings
from toyflow.preference.belief import Belief

REPO = Path(__file__).resolve().parent.parent

try:  # the fuzz tests' profiles: "ci" draws the same cases every run, "dev" new ones (TOYFLOW_HYPOTHESIS_PROFILE)
    from hypothesis import settings as hypothesis_settings

    hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
    hypothesis_settings.register_profile("dev", deadline=None)
    hypothesis_settings.load_profile(os.environ.get("TOYFLOW_HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # without the test extra: the fuzz tests are skipped by their import
    pass

TINY = FlowConfig(width=16, depth=1, time_freqs=4)
SMALL = FlowConfig(width=32, depth=2, time_freqs=8)
# preference-method settings small enough for a round in milliseconds; the pools of such tiny networks are barely
# tilted by any ticks, so reward-fm's steps are not scaled down by the tilt (the tests of that scale set their own)
FAST = MethodSettings(
    steps=2,
    batch_size=4,
    dpo_barrier_batch=4,
    pool_size=8,
    kernel_points=16,
    fm_batch=4,
    time_samples=2,
    tilt_nats=1e-6,
)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``model``'s state dict, to compare before and after."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Whether two state dicts hold exactly the same tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def randomize(model: torch.nn.Module, seed: int = 0, scale: float = 0.5) -> torch.nn.Module:
    """Give every parameter random values, the zero-initialised output layer included.

    A fresh :class:`CloudFlow` outputs exactly zero (its last layer starts at zero), which would let
    equivariance or time-dependence tests pass for the wrong reason.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model.eval()


def make_flow(config: FlowConfig = SMALL, seed: int = 0) -> CloudFlow:
    """A :class:`CloudFlow` with random weights everywhere (output layer included)."""
    return randomize(CloudFlow(config), seed)


@pytest.fixture
def flow_model() -> CloudFlow:
    """A small randomised CloudFlow (width 32, depth 2)."""
    return make_flow(SMALL, seed=1)


@pytest.fixture
def two_threads():
    """torch on 2 threads for the test (the test suite's workers run on one), as before after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_model() -> CloudFlow:
    """A tiny randomised CloudFlow (width 16, depth 1): cheap to save, load and train."""
    return make_flow(TINY, seed=2)


TILT_PER_CERTAINTY = 10.0  # tilted_pool: the log odds its weighting adds to the S curves, per unit of certainty


@pytest.fixture
def tilted_pool(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], torch.Tensor]:
    """Every session's pool tilted as a trained model A's is by ticks of S curves: A reads every other cloud of its
    pool as an S curve (``Workbench.pool_classes``, for networks with class heads), and reward-fm's weighting favours
    those ``exp(TILT_PER_CERTAINTY * certainty)`` to 1 (``reward_fm.pool_weights``; the certainty is the preference
    model's, which moves with the ticks). A tiny random network reads every cloud of its own pool alike and the
    preference model rates them alike, so that reward-fm would leave its gated B as A (a shift of 1e-4 nats).
    Returns the weighting of a pool of ``FAST.pool_size`` clouds at a certainty."""
    from toyflow.model import has_class_heads
    from toyflow.preference.methods import reward_fm
    from toyflow.preference.workbench import Workbench

    def classes(size: int) -> torch.Tensor:
        return torch.arange(size, dtype=torch.float32).remainder(2)

    def weighting(certainty: float, size: int = FAST.pool_size) -> torch.Tensor:
        return torch.softmax(TILT_PER_CERTAINTY * certainty * classes(size), dim=0)

    def pool_classes(bench: Workbench) -> torch.Tensor | None:
        return classes(bench.settings.pool_size).to(bench.device) if has_class_heads(bench.a) else None

    def pool_weights(
        belief: Belief, pool: torch.Tensor, strength: float, distances: torch.Tensor | None = None
    ) -> torch.Tensor:
        return weighting(belief.certainty, pool.shape[0])

    monkeypatch.setattr(Workbench, "pool_classes", pool_classes)
    monkeypatch.setattr(reward_fm, "pool_weights", pool_weights)
    return weighting


def run_toyflow(
    *args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m toyflow ARGS`` in a fresh process and capture its output (text); ``env``: variables to set
    besides this process's own."""
    env = {**os.environ, **(env or {})}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.run(
        [sys.executable, "-m", "toyflow", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


# ------------------------------------------------------------------------------------------------ two workers
# `make test` runs the suite on a worker process per core (pytest-xdist, `-n auto --dist loadfile`: the tests of a
# file stay together, so that they share what they load, and the browser tests one JupyterLab server). Each worker's
# torch, and the processes it starts (notebook kernels, JupyterLab's, the command line), take one thread, so that
# the workers share the cores instead of fighting over them. The files of the longest tests are handed out first, so
# that no worker is left with a long one at the end.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"

LONGEST_FIRST = ("browser", "slow")  # marks, in the order their tests are handed out
BROWSER_ARTIFACTS = REPO / "tests" / "artifacts" / "browser"  # browser/labharness.py's SHOTS, named again: imported
# from here, the browser tests' package would read as an undeclared dependency (tests/test_architecture.py)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Once per run (not per worker): the browser tests' pictures and logs are this run's only."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(BROWSER_ARTIFACTS, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Hand the longest tests out first (the order within a mark is kept)."""

    def rank(item: pytest.Item) -> int:
        return next((i for i, mark in enumerate(LONGEST_FIRST) if mark in item.keywords), len(LONGEST_FIRST))

    items.sort(key=rank)
