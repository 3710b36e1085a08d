"""The worker thread for torch jobs, and handing back a thread's OpenMP threads."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from toyflow.openmp import release_threads
from toyflow.worker import TorchWorker

GNU_OPENMP = "OpenMP" in torch.__config__.parallel_info() and os.path.isdir("/proc/self/task")


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def parallel_work() -> torch.Tensor:
    return torch.nn.functional.silu(torch.arange(1_000_000, dtype=torch.float32))  # large enough to run in parallel


@pytest.mark.skipif(not GNU_OPENMP or torch.get_num_threads() < 2, reason="needs torch on GNU OpenMP, 2+ threads")
def test_releasing_ends_this_thread_s_openmp_threads_and_torch_computes_on():
    before = parallel_work()
    with_pool = threads()
    assert release_threads()
    assert threads() == with_pool - (torch.get_num_threads() - 1)
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


@pytest.mark.skipif(not GNU_OPENMP or torch.get_num_threads() < 2, reason="needs torch on GNU OpenMP, 2+ threads")
def test_the_worker_hands_back_the_caller_s_threads_and_its_own_when_idle():
    parallel_work()
    with_pool = threads()  # this thread's pool exists
    worker = TorchWorker()
    worker.submit(parallel_work).result()
    pool = torch.get_num_threads() - 1
    # the caller's pool went at the submit, the worker's when its queue ran empty: only the worker thread is left
    assert threads() == with_pool - pool + 1
    worker.shutdown()
    assert threads() == with_pool - pool
