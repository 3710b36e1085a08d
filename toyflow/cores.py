"""Independent pieces of torch work on the CPU's cores at once, each piece computed by one thread alone.

torch splits every operation between its threads, and the threads wait for each other at the end of each one.
Toyflow's operations are short, so that waiting is a large share of them, and more so on a machine whose cores are
shared with others: a core held back for a moment holds back every operation. Work that falls into independent
pieces (a batch of clouds, each cloud's velocity depending on its own points only) runs as one piece per core, each
computed by its thread alone (:func:`~toyflow.openmp.one_thread_here`), with no waiting until the pieces are done: on
the 2-core CPU, B's 64 held-out clouds are sampled in two pieces in 0.25-0.26 s where both threads on each operation
took 0.39-0.40 s (a slow spell of the machine), and the label-free B's in 0.287 s against 0.313 s (medians) on the
views' worker thread after a round; the same clouds to the bit (:meth:`toyflow.solver.Sampler.sample` splits a batch
so).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

import torch

from . import memory
from .openmp import can_compute_alone, one_thread_here

T = TypeVar("T")

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # the process that made it, and the pool
_alone = threading.local()  # .yes on the pool's threads: they compute alone


def cores() -> int:
    """How many pieces :func:`on_cores` runs at once from the calling thread: its torch threads, where a thread can
    be made to compute alone (:func:`~toyflow.openmp.can_compute_alone`) and the calling thread is not itself one
    of the pool's; else 1."""
    if getattr(_alone, "yes", False) or not can_compute_alone():
        return 1
    return max(1, torch.get_num_threads())


def whole_parts(n: int, unit: int, parts: int) -> list[int]:
    """Sizes of at most ``parts`` consecutive pieces of the first whole ``unit``s of ``n`` items, as even as whole
    units allow (the items after the last whole unit are left out): ``whole_parts(70, 32, 2) == [32, 32]``,
    ``whole_parts(160, 32, 2) == [96, 64]``; empty when ``n < unit``."""
    units = n // unit
    pieces = min(max(1, parts), units)
    return [unit * (units // pieces + (i < units % pieces)) for i in range(pieces)]


def on_cores(jobs: Sequence[Callable[[], T]], hand_back_memory: bool = False) -> list[T]:
    """Call each of ``jobs`` (no arguments) once; their results in order. With :func:`cores` ``>= 2`` and two or
    more jobs, on the pool's threads at once (one computing alone per job); else in turn on the calling thread. Where
    a job raises, its exception is raised once every job has finished.

    Each of the pool's threads allocates from a memory arena of its own (:mod:`toyflow.memory`). With
    ``hand_back_memory``, for jobs that allocate much (sampling a batch), the memory the process holds free is handed
    back to the system before the jobs start and after they end, so that their arenas do not add to what the calling
    thread keeps."""
    if len(jobs) < 2 or cores() < 2:
        return [job() for job in jobs]
    if hand_back_memory:
        memory.hand_back_memory()
    futures: list[Future[T]] = [_executor().submit(job) for job in jobs]
    wait(futures)
    if hand_back_memory:
        memory.hand_back_memory()
    return [future.result() for future in futures]


def _executor() -> ThreadPoolExecutor:
    """The pool of threads computing alone (one per core; made again in a forked process, whose threads it lacks)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            workers = max(2, os.cpu_count() or 2)
            _pool = (os.getpid(), ThreadPoolExecutor(workers, "toyflow-core", initializer=_compute_alone))
        return _pool[1]


def _compute_alone() -> None:
    _alone.yes = True
    one_thread_here()
