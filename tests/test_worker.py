"""The worker thread for torch jobs, and handing back a thread's OpenMP threads."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

from toyflow.openmp import release_threads
from toyflow.worker import TorchWorker

GNU_OPENMP = "OpenMP" in torch.__config__.parallel_info() and os.path.isdir("/proc/self/task")
needs_openmp = pytest.mark.skipif(not GNU_OPENMP, reason="needs torch on GNU OpenMP (Linux)")


def threads() -> set[str]:
    """The ids of this process's threads (other tests' threads may come and go: the tests compare their own)."""
    return set(os.listdir("/proc/self/task"))


def ended(thread_id: str, timeout: float = 2.0) -> bool:
    """Whether the thread ``thread_id`` is gone from this process within ``timeout`` seconds: Python's join returns
    as the thread finishes, a moment before the system removes it."""
    deadline = time.monotonic() + timeout
    while thread_id in threads():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def parallel_work() -> torch.Tensor:
    return torch.nn.functional.silu(torch.arange(1_000_000, dtype=torch.float32))  # large enough to run in parallel


@needs_openmp
def test_releasing_ends_this_thread_s_openmp_threads_and_torch_computes_on(two_threads):
    import sklearn.datasets  # noqa: F401  (it loads a libgomp of its own beside torch's)

    assert release_threads()  # whatever pool this thread had
    before = threads()
    result = parallel_work()
    pool = threads() - before
    assert len(pool) == 1, "two threads: the caller and one OpenMP worker thread"
    assert release_threads()
    assert not pool & threads()
    torch.testing.assert_close(parallel_work(), result)  # a new pool, the same results


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
    release_threads()
    before = threads()
    parallel_work()
    callers = threads() - before
    seen = {}

    def job() -> None:
        torch.set_num_threads(2)
        start = threads()
        parallel_work()
        seen["pool"], seen["worker"] = threads() - start, str(threading.get_native_id())

    worker = TorchWorker()
    worker.submit(job).result()
    now = threads()
    assert callers and not callers & now, "the caller's pool ended when it queued the job"
    assert seen["pool"] and not seen["pool"] & now, "the worker's pool ended when its queue ran empty"
    assert seen["worker"] in now
    worker.shutdown()
    assert ended(seen["worker"])


def test_a_job_waiting_for_the_kernel_s_thread_hands_its_openmp_threads_back_first(monkeypatch):
    from toyflow import worker

    released = []
    monkeypatch.setattr(worker, "release_threads", lambda: released.append(threading.current_thread().name))
    event = threading.Event()
    event.set()
    worker.wait_for(event)
    assert released == [], "nothing to wait for: nothing handed back"
    event.clear()
    waiter = threading.Thread(target=worker.wait_for, args=(event,), name="waiter")
    waiter.start()
    time.sleep(0.05)
    assert waiter.is_alive() and released == ["waiter"], "handed back, then waiting"
    event.set()
    waiter.join(2)
    assert not waiter.is_alive()
