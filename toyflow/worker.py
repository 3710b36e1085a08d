"""One worker thread for torch work that must not block the caller, with the cores to itself.

A notebook's widgets run on the kernel's main thread; what follows a round (the teaching views) runs on a worker
so that the next click is answered at once. Two threads that both compute with torch make OpenMP slow down both
(:mod:`toyflow.openmp`): :class:`TorchWorker` hands back the submitting thread's OpenMP threads when it queues a job,
and its own when its queue runs empty, so that whichever thread computes has them alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .openmp import release_threads

T = TypeVar("T")


def wait_for(event: threading.Event) -> None:
    """Wait until ``event`` is set; if it is not yet, the calling thread's OpenMP threads are handed back first, so
    that the thread that computes meanwhile has them alone (a job of the worker waiting for the kernel's thread)."""
    if not event.is_set():
        release_threads()
        event.wait()


class TorchWorker:
    """Runs jobs in order on one thread (started at the first :meth:`submit`)."""

    def __init__(self, name: str = "toyflow-worker") -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending = 0

    def submit(self, job: Callable[..., T], *args: object) -> Future[T]:
        """Queue ``job(*args)``; returns its future. The calling thread's OpenMP threads are handed back first (the
        caller is about to wait or idle while the worker computes)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        with self._lock:
            self._pending += 1
        release_threads()
        return self._executor.submit(self._run, job, args)

    def _run(self, job: Callable[..., T], args: tuple) -> T:
        try:
            return job(*args)
        finally:
            with self._lock:
                self._pending -= 1
                idle = self._pending == 0
            if idle:  # the main thread computes next: the worker's OpenMP threads go
                release_threads()

    def shutdown(self) -> None:
        """Wait for the queued jobs, then end the thread (a later :meth:`submit` starts a new one)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
