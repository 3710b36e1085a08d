"""torch's OpenMP threads: handing back the calling thread's own, so that two threads never compete for the cores.

torch computes on the CPU with OpenMP. GNU OpenMP (libgomp, what torch's Linux builds ship) keeps a pool of worker
threads for every thread that ever ran a parallel operation, and once it manages more threads than the machine has
cores, every pool's workers stop waiting actively between operations and sleep instead. Toyflow's operations are
short (tens to hundreds of microseconds), so waking them costs a large share: on the 2-core CPU, once a worker
thread had computed beside the kernel's main thread, both ran torch at 0.5-0.8 of their speed for as long as the
worker lived (a bfloat16 product 0.40 ms instead of 0.19; B's 64 held-out clouds 0.50 s instead of 0.30).
:func:`release_threads` ends the calling thread's pool (OpenMP's ``omp_pause_resource_all``); the next parallel
operation on that thread starts a new one. :class:`~toyflow.worker.TorchWorker` calls it so that one pool exists at
a time.
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
def _pause_function() -> Callable[[int], int] | None:
    """libgomp's ``omp_pause_resource_all``, from the copy torch loaded (the one in torch's own folder, else the only
    one loaded); ``None`` where there is none (another platform, another OpenMP runtime)."""
    if not sys.platform.startswith("linux") or "OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = set(re.findall(r"(/\S*/libgomp[^/\s]*\.so[^/\s]*)", maps))
    torch_dir = str(Path(torch.__file__).resolve().parent) + "/"
    own = [path for path in paths if path.startswith(torch_dir)]
    if len(own) == 1:
        paths = set(own)  # other libraries may bring their own copy (scikit-learn does)
    if len(paths) != 1:
        return None
    try:
        pause = ctypes.CDLL(paths.pop()).omp_pause_resource_all
    except (OSError, AttributeError):
        return None
    pause.argtypes, pause.restype = [ctypes.c_int], ctypes.c_int
    return pause


def release_threads() -> bool:
    """End the calling thread's pool of OpenMP worker threads (never call it inside a parallel region); ``True``
    if it was ended or there was none, ``False`` where this torch does not compute with GNU OpenMP (nothing
    happens)."""
    pause = _pause_function()
    return pause is not None and pause(OMP_PAUSE_SOFT) == 0
