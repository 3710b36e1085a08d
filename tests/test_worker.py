"""The worker thread for torch jobs, and handing back a thread's OpenMP threads."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from toyflow.openmp import release_threads
from toyflow.worker import TorchWorker

GNU_OPENMP = "OpenMP" in torch.__config__.parallel_info() and os.path.isdir("/proc/self/task")
needs_openmp = pytest.mark.skipif(not GNU_OPENMP, reason="needs torch on GNU OpenMP (Linux)")


@pytest.fixture
def two_threads():
    """torch on 2 threads (the test suite's workers run on one): a pool of one OpenMP worker thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def parallel_work() -> torch.Tensor:
    return torch.nn.functional.silu(torch.arange(1_000_000, dtype=torch.float32))  # large enough to run in parallel


@needs_openmp
def test_releasing_ends_this_thread_s_openmp_threads_and_torch_computes_on(two_threads):
    before = parallel_work()
    with_pool = threads()
    assert release_threads()
    assert threads() == with_pool - 1
    torch.testing.assert_close(parallel_work(), before)  # a new pool, the same results
    assert threads() == with_pool


def test_the_worker_runs_jobs_in_order_on_one_other_thread():
    worker = TorchWorker("test-worker")
    seen: list[tuple[int, str]] = []
    futures = [worker.submit(lambda i: seen.append((i, threading.current_thread().name)) or i * i, i) for i in range(4)]
    assert [f.result() for f in futures] == [0, 1, 4, 9]
    assert [i for i, _ in seen] == [0, 1, 2, 3]
    names = {name for _, name in seen}
    assert len(names) == 1 and names.pop().startswith("test-worker") and threading.current_thread().name not in names
    failing = worker.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result()
    assert worker.submit(parallel_work).result().shape == (1_000_000,)  # goes on after a failure
    worker.shutdown()
    assert worker.submit(lambda: 7).result() == 7  # a new thread after shutdown
    worker.shutdown()


@needs_openmp
def test_the_worker_hands_back_the_caller_s_threads_and_its_own_when_idle(two_threads):
    parallel_work()
    with_pool = threads()  # this thread's pool exists
    worker = TorchWorker()
    worker.submit(lambda: torch.set_num_threads(2) or parallel_work()).result()
    # the caller's pool went at the submit, the worker's when its queue ran empty: only the worker thread is left
    assert threads() == with_pool - 1 + 1
    worker.shutdown()
    assert threads() == with_pool - 1
