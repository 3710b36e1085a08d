"""Shared helpers of the benchmark scripts: timing in turns, tables, the machine they ran on."""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from toyflow.plotting import GREEN, cloud_png
from toyflow.shipped import SHIPPED_MODELS, shipped_checkpoint

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"


def interleaved_median_seconds(fns: Sequence[Callable[[], object]], repeats: int = 7, warmup: int = 1) -> list[float]:
    """Median wall time of each of ``fns``, timed in turns (one call of each, ``repeats`` times, after ``warmup``
    untimed turns), so that a slow spell of the machine falls on all of them alike instead of on one."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def model_a_path(value: str) -> Path:
    """``--checkpoint``'s value as a path: a shipped model A's name (one of
    :data:`~toyflow.shipped.SHIPPED_MODELS`) or a checkpoint's path. ``argparse.ArgumentTypeError`` (one line, before
    anything is loaded or timed) when no file is there."""
    path = shipped_checkpoint(value) if value in SHIPPED_MODELS else Path(value)
    if not path.is_file():
        names = ", ".join(SHIPPED_MODELS)
        raise argparse.ArgumentTypeError(f"no checkpoint at {value!r} (a checkpoint's path, or one of {names})")
    return path


def add_checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    """Every benchmark's ``--checkpoint``: model A to measure, by path or by a shipped model A's name (the gated
    ``model_a`` by default)."""
    names = " / ".join(SHIPPED_MODELS)
    parser.add_argument(
        "--checkpoint", type=model_a_path, default=SHIPPED_MODELS[0], help=f"a path, or {names} (default: %(default)s)"
    )


def draw_b_tiles(b_same: Sequence[torch.Tensor], b_fresh: Sequence[torch.Tensor]) -> list[bytes]:
    """B's tiles of a round as the picker draws them: the clouds on the proposals' noise at 160 pixels, the fresh
    ones at 112 (each cloud ``(num_points, 2)``)."""
    return [cloud_png(c, 160, GREEN) for c in b_same] + [cloud_png(c, 112, GREEN) for c in b_fresh]


def shown(path: str | Path) -> str:
    """``path`` as a benchmark prints it: relative to the repository when it lies inside it (so that a pasted table
    names no one's machine), else as given."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(path)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text (GitHub markdown) table; floats get 3 decimals."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "n/a" if v != v else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def processor() -> str:
    """The CPU's model name (Linux: ``/proc/cpuinfo``; elsewhere what :func:`platform.processor` says), or "CPU":
    machines of one kind differ in speed, and not in the same ratio for small and large operations."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def product_rate(repeats: int = 5, products: int = 100) -> float:
    """How fast this machine multiplies float32 matrices on the CPU now, in GFLOP/s: ``(6400, 64) @ (64, 128)``, the
    size of the products a sampling's chunk of clouds makes, ``products`` times in a row on torch's threads, the
    median of ``repeats`` such runs (about 0.4 s in all). Machines of one kind, and one machine from one hour to the
    next, differ in it by up to three times: it places a run's seconds among other runs' (the ratios to the
    original's method, measured in the same run, hold anyway)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(6400, 64, generator=gen), torch.randn(64, 128, generator=gen)
    flops = 2 * a.shape[0] * a.shape[1] * b.shape[1] * products
    for _ in range(20):  # warm up the kernels and the threads
        a @ b
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(products):
            a @ b
        rates.append(flops / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def machine() -> str:
    """One line naming the device (the GPU, or the CPU's model and its float32 products' rate now,
    :func:`product_rate`), the torch build and the thread count."""
    if torch.cuda.is_available():
        dev = torch.cuda.get_device_name(0)
    else:
        dev = f"CPU ({processor()}, float32 products at {product_rate():.0f} GFLOP/s)"
    return f"torch {torch.__version__}, {dev}, {torch.get_num_threads()} threads"
