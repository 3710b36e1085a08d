"""Values a process builds once, on first use, whichever thread asks first.

``functools.lru_cache`` computes a missing value in every thread that asks for it before the first one has stored
it: a notebook's cell judging clouds while the app prepared the judge on its worker built the judge's grids twice,
on the same two cores. :class:`BuiltOnce` keeps what it built as the cache does, and builds a missing value under a
lock: a thread that asks meanwhile waits for that value instead of building it again.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class BuiltOnce(Generic[T]):
    """``build(*key)``, built on the first call with each ``key`` and kept for the process.

    Use it as a decorator of a builder whose arguments are hashable. A build that raises keeps nothing (the next
    call builds again); ``len()`` counts the values kept, :meth:`cache_clear` forgets them (the next calls build them
    again).
    """

    def __init__(self, build: Callable[..., T]) -> None:
        self._build = build
        self._values: dict[tuple[Hashable, ...], T] = {}
        self._lock = threading.Lock()  # held while a value is built
        functools.update_wrapper(self, build)

    def __call__(self, *key: Hashable) -> T:
        """The value of ``key``: the one kept, else built now (or by the thread building it: waited for)."""
        try:
            return self._values[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._values:
                self._values[key] = self._build(*key)
            return self._values[key]

    def __len__(self) -> int:
        """How many values are kept."""
        return len(self._values)

    def cache_clear(self) -> None:
        """Forget every value kept."""
        with self._lock:
            self._values.clear()
