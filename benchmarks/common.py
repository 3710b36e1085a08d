"""Shared helpers of the benchmark scripts: timing, peak memory, the shipped model A, tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"


def median_seconds(fn: Callable[[], object], repeats: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text (GitHub markdown) table; floats get 3 decimals."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "n/a" if v != v else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line naming the device, the torch build and the thread count."""
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return f"torch {torch.__version__}, {dev}, {torch.get_num_threads()} threads"
