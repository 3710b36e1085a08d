"""torch's OpenMP threads: handing back the calling thread's own, so that two threads never compete for the cores,
and computing on the calling thread alone.

torch computes on the CPU with OpenMP. GNU OpenMP (libgomp, what torch's Linux builds ship) keeps a pool of worker
threads for every thread that ever ran a parallel operation, and once it manages more threads than the machine has
cores, every pool's workers stop waiting actively between operations and sleep instead. Toyflow's operations are
short (tens to hundreds of microseconds), so waking them costs a large share: on the 2-core CPU, once a worker
thread had computed beside the kernel's main thread, both ran torch at 0.5-0.8 of their speed for as long as the
worker lived (a bfloat16 product 0.40 ms instead of 0.19; B's 64 held-out clouds 0.50 s instead of 0.30).
:func:`release_threads` ends the calling thread's pool (OpenMP's ``omp_pause_resource_all``); the next parallel
operation on that thread starts a new one. :class:`~toyflow.worker.TorchWorker` calls it so that one pool exists at
a time. :func:`one_thread_here` makes the calling thread compute on itself alone, with no pool at all
(:mod:`toyflow.cores` runs independent pieces of work so, one per core).
"""

from __future__ import annotations

import ctypes
import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path

import torch

OMP_PAUSE_SOFT = 1  # omp_pause_resource_t: the threads end, the runtime stays initialised


@functools.cache
def _libgomp() -> ctypes.CDLL | None:
    """The copy of libgomp torch loaded (the one in torch's own folder, else the only one loaded); ``None`` where
    there is none (another platform, another OpenMP runtime)."""
    if not sys.platform.startswith("linux") or "OpenMP" not in torch.__config__.parallel_info():
        return None
    paths = _loaded(r"(/\S*/libgomp[^/\s]*\.so[^/\s]*)")
    own = [path for path in paths if path.startswith(_torch_dir())]
    if len(own) == 1:
        paths = set(own)  # other libraries may bring their own copy (scikit-learn does)
    if len(paths) != 1:
        return None
    try:
        return ctypes.CDLL(paths.pop())
    except OSError:
        return None


def _loaded(pattern: str) -> set[str]:
    """The paths of the loaded libraries that match ``pattern`` (this process's memory map; none if unreadable)."""
    try:
        return set(re.findall(pattern, Path("/proc/self/maps").read_text()))
    except OSError:
        return set()


def _torch_dir() -> str:
    return str(Path(torch.__file__).resolve().parent) + "/"


@functools.cache
def _pause_function() -> Callable[[int], int] | None:
    """libgomp's ``omp_pause_resource_all``; ``None`` where torch does not compute with libgomp."""
    gomp = _libgomp()
    pause = getattr(gomp, "omp_pause_resource_all", None)
    if pause is not None:
        pause.argtypes, pause.restype = [ctypes.c_int], ctypes.c_int
    return pause


@functools.cache
def _thread_setters() -> tuple[Callable[[int], None], ...] | None:
    """The functions that set the calling thread's own number of threads, and no other thread's: libgomp's
    ``omp_set_num_threads`` (an OpenMP setting of the calling thread) and, where torch's products run on MKL,
    ``MKL_Set_Num_Threads_Local`` from the library of torch's that holds it; ``None`` where one is missing."""
    gomp = _libgomp()
    setters = [getattr(gomp, "omp_set_num_threads", None)]
    if torch.backends.mkl.is_available():
        found = None
        for path in sorted(p for p in _loaded(r"(/\S*\.so[^/\s]*)") if p.startswith(_torch_dir())):
            try:
                found = getattr(ctypes.CDLL(path), "MKL_Set_Num_Threads_Local", None)
            except OSError:
                continue
            if found is not None:
                break
        setters.append(found)
    if any(setter is None for setter in setters):
        return None
    for setter in setters:
        setter.argtypes = [ctypes.c_int]
    return tuple(setters)


def can_compute_alone() -> bool:
    """Whether :func:`one_thread_here` can make a thread compute alone in this process."""
    return _thread_setters() is not None


def release_threads() -> bool:
    """End the calling thread's pool of OpenMP worker threads (never call it inside a parallel region); ``True``
    if it was ended or there was none, ``False`` where this torch does not compute with GNU OpenMP (nothing
    happens)."""
    pause = _pause_function()
    return pause is not None and pause(OMP_PAUSE_SOFT) == 0


def one_thread_here() -> bool:
    """Make the calling thread compute torch's work on itself alone (OpenMP and MKL set to one thread for this
    thread only; every other thread computes as before). Call it before the thread computes: torch sets a thread's
    threads up at its first parallel operation, which this does first so as not to be undone by it. ``True`` where
    the thread now computes alone, ``False`` where it cannot (:func:`can_compute_alone`; nothing changes)."""
    setters = _thread_setters()
    if setters is None:
        return False
    torch.get_num_threads()  # torch's own set-up of this thread, before ours
    for setter in setters:
        setter(1)
    return torch.get_num_threads() == 1
