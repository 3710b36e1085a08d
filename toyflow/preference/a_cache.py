"""What sessions on the same model A draw alike, drawn once per process: A's pool, its pairs with noise, A's reading
of it, A's clouds of the held-out noises.

Each is a function of model A, the session's seed and a few settings (sizes, the sampler, the device), so sessions
that share them (the benchmarks' methods and annotators on one seed, a notebook's experiments, the tests) need not
draw them again: :func:`shared` keeps them. An entry is keyed by the model object, weakly (it goes when the model
goes), and by the version counters of the model's tensors, so that a model changed in place is drawn again. What it
keeps is read, never written, by the sessions that share it.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar

from torch import nn

T = TypeVar("T")
ENTRIES_PER_MODEL = 8  # the oldest goes first (a few seeds and sizes of one model A)

_STORE: weakref.WeakKeyDictionary[nn.Module, dict[tuple, object]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def tensor_versions(model: nn.Module) -> tuple[int, ...]:
    """The in-place version counter of each of ``model``'s parameters and buffers: any in-place change (a training
    step, ``load_state_dict``, ``copy_``) changes one."""
    return tuple(t._version for t in itertools.chain(model.parameters(), model.buffers()))


def shared(model: nn.Module, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``'s value for ``model`` and ``key``, computed once while ``model``'s tensors are unchanged (two
    callers at once may both compute it; either result is the same)."""
    full_key = (tensor_versions(model), key)
    with _LOCK:
        entries = _STORE.get(model)
        if entries is not None and full_key in entries:
            return entries[full_key]  # type: ignore[return-value]
    value = compute()
    with _LOCK:
        entries = _STORE.setdefault(model, {})
        entries[full_key] = value
        while len(entries) > ENTRIES_PER_MODEL:
            entries.pop(next(iter(entries)))
    return value


def forget(model: nn.Module | None = None) -> None:
    """Drop what is kept for ``model`` (``None``: for every model)."""
    with _LOCK:
        if model is None:
            _STORE.clear()
        else:
            _STORE.pop(model, None)
