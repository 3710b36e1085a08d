"""toyflow.once: a value built once per key, whichever threads ask for it at once."""

from __future__ import annotations

import threading
import time

import pytest

from toyflow.once import BuiltOnce


def test_a_thread_asking_while_another_builds_waits_for_that_value():
    started, release, built = threading.Event(), threading.Event(), []

    @BuiltOnce
    def slow(key: str) -> list[str]:
        """A slow builder."""
        built.append(key)
        started.set()
        release.wait(5)
        return [key]

    got = {}
    first = threading.Thread(target=lambda: got.setdefault("first", slow("a")))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: got.setdefault("second", slow("a")))
    second.start()
    time.sleep(0.05)  # the second asks while the first builds (lru_cache would build it again now)
    release.set()
    first.join(5)
    second.join(5)
    assert built == ["a"] and got["first"] is got["second"] == ["a"]
    assert slow("a") is got["first"] and slow("b") == ["b"] and built == ["a", "b"]
    assert slow.__name__ == "slow" and slow.__doc__ == "A slow builder."


def test_a_failed_build_keeps_nothing_and_cache_clear_forgets():
    calls = []

    @BuiltOnce
    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) == 1:
            raise RuntimeError("no luck")
        return n * 10

    with pytest.raises(RuntimeError, match="no luck"):
        flaky(2)
    assert flaky(2) == 20 and flaky(2) == 20 and calls == [2, 2]
    assert len(flaky) == 1
    flaky.cache_clear()
    assert len(flaky) == 0
    assert flaky(2) == 20 and calls == [2, 2, 2]
