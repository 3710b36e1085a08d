"""Independent pieces of torch work on the cores at once, each computed by one thread alone, and toyflow's sampler
sampling a batch so: the same clouds to the bit."""

from __future__ import annotations

import copy
import os
import threading

import pytest
import torch
from torch import nn

import toyflow.solver as solver
from toyflow import load_checkpoint, memory
from toyflow.cores import cores, on_cores, whole_parts
from toyflow.data import draw_noise
from toyflow.handoff import HandOff
from toyflow.memory import hand_back_memory
from toyflow.model import noise_radius
from toyflow.openmp import can_compute_alone, one_thread_here
from toyflow.shipped import shipped_checkpoint
from toyflow.solver import Sampler

needs_alone = pytest.mark.skipif(not can_compute_alone(), reason="needs GNU OpenMP: a thread computing alone")


@pytest.fixture
def one_piece(monkeypatch: pytest.MonkeyPatch):
    """A way to sample as before the cores shared the work: ``one_piece(fn)`` calls ``fn()`` with one core."""

    def run(fn):
        with monkeypatch.context() as m:
            m.setattr(solver, "cores", lambda: 1)
            return fn()

    return run


def test_whole_parts_share_whole_units_evenly_and_leave_the_rest_out():
    assert whole_parts(64, 32, 2) == [32, 32]
    assert whole_parts(70, 32, 2) == [32, 32]  # the 6 after the last whole chunk are left to the caller
    assert whole_parts(160, 32, 2) == [96, 64]
    assert whole_parts(1024, 32, 3) == [352, 352, 320]
    assert whole_parts(64, 32, 1) == [64]
    assert whole_parts(31, 32, 2) == []
    assert whole_parts(40, 32, 4) == [32]


@needs_alone
def test_jobs_run_at_once_on_other_threads_each_computing_alone(two_threads):
    inside = threading.Barrier(2, timeout=10)  # both jobs must be running at once to pass it

    def job(i: int) -> tuple[int, int, str]:
        inside.wait()
        return i * i, torch.get_num_threads(), threading.current_thread().name

    assert cores() == 2
    results = on_cores([lambda i=i: job(i) for i in range(2)])
    assert [r[0] for r in results] == [0, 1]
    assert all(r[1] == 1 for r in results), "each job's thread computes alone"
    assert all(r[2].startswith("toyflow-core") for r in results)
    assert torch.get_num_threads() == 2, "the calling thread computes as before"
    assert on_cores([lambda: cores()] * 2) == [1, 1], "a job shares nothing further: its own pieces run in turn"


@needs_alone
def test_a_failing_job_raises_once_the_others_are_done(two_threads):
    done = []

    def slow() -> int:
        threading.Event().wait(0.2)
        done.append(1)
        return 1

    with pytest.raises(ZeroDivisionError):
        on_cores([lambda: 1 / 0, slow])
    assert done == [1]


def test_with_one_core_the_jobs_run_in_turn_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # as in the test suite's workers
    assert cores() == 1
    names = on_cores([lambda: threading.current_thread().name] * 3)
    assert names == [threading.current_thread().name] * 3


@needs_alone
def test_one_thread_here_changes_the_calling_thread_only(two_threads):
    seen = {}

    def job() -> None:
        seen["alone"], seen["threads"] = one_thread_here(), torch.get_num_threads()

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert seen == {"alone": True, "threads": 1}
    assert torch.get_num_threads() == 2
    assert "mkl_get_max_threads() : 1" not in torch.__config__.parallel_info()


@pytest.fixture(scope="module")
def shipped() -> dict[str, nn.Module]:
    return {name: load_checkpoint(shipped_checkpoint(name))[0] for name in ("model_a", "model_a_label_free")}


def nudged(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every weight moved a little (seeded), as B's steps move A's."""
    copied, gen = copy.deepcopy(model), torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in copied.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=gen)).requires_grad_(True)
    return copied


@needs_alone
@pytest.mark.parametrize(
    ("name", "precision"), [("model_a", "auto"), ("model_a_label_free", "auto"), ("model_a", "float32")]
)
def test_sampling_on_the_cores_draws_the_very_clouds_of_one_piece(shipped, name, precision, two_threads, one_piece):
    a = shipped[name]
    b = HandOff(nudged(a), a, 0.4)  # a label-free B's kind of network
    sampler = Sampler(steps=2, precision=precision)  # the fused evaluation where bfloat16 kernels are, else float32
    noise = draw_noise(70, 400, 5, radius=noise_radius(a))  # two whole chunks or more, and a partial one
    assert len(sampler._core_parts(a, noise)) == 2, "the batch is shared between the cores"
    for model in (a, b):
        assert torch.equal(sampler.sample(model, noise), one_piece(lambda m=model: sampler.sample(m, noise)))
    trajectory = sampler.sample(b, noise, return_trajectory=True)
    assert trajectory.shape == (3, 70, 400, 2)
    assert torch.equal(trajectory, one_piece(lambda: sampler.sample(b, noise, return_trajectory=True)))


class BatchMean(nn.Module):
    """A field that mixes the clouds of a batch (their mean): not toyflow's network, never split."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        return x.mean(dim=0, keepdim=True).expand_as(x) - x


@needs_alone
def test_a_field_that_mixes_the_batch_is_sampled_in_one_piece(two_threads):
    noise = torch.randn(200, 64, 2, generator=torch.Generator().manual_seed(0))
    field = BatchMean()
    Sampler(steps=3, precision="float32").sample(field, noise)
    assert field.batches == [200, 200, 200]


@needs_alone
def test_memory_is_handed_back_around_the_jobs_only_when_asked(two_threads, monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "hand_back_memory", lambda: calls.append(threading.current_thread().name))
    assert on_cores([lambda: 1, lambda: 2]) == [1, 2] and calls == []
    seen = on_cores([lambda: calls.copy(), lambda: 2], hand_back_memory=True)
    assert seen == [[threading.current_thread().name], 2], "before the jobs, by the caller"
    assert calls == [threading.current_thread().name] * 2, "and after them"


def test_handing_back_memory_is_asked_of_glibc_and_changes_no_value():
    kept = torch.arange(1000.0)
    assert hand_back_memory() == (memory._malloc_trim() is not None)
    assert torch.equal(kept, torch.arange(1000.0))


def _jobs_in_a_forked_child(queue) -> None:
    queue.put(on_cores([lambda: os.getpid(), lambda: threading.current_thread().name]))


@needs_alone
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_runs_jobs_on_a_pool_of_its_own(two_threads):
    import multiprocessing

    together = threading.Barrier(2, timeout=10)
    assert on_cores([together.wait] * 2) is not None  # the parent's pool exists, with a thread for each core
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_jobs_in_a_forked_child, args=(queue,))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the child ran its jobs (a pool whose threads stayed in the parent would hang)"
    pid, name = queue.get(timeout=5)
    assert pid == child.pid and name.startswith("toyflow-core")
