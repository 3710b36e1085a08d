"""Argument types of the command line: every numeric argument is checked when it is parsed.

Each function here is an argparse ``type=``: it turns the text into a value, or raises ``ArgumentTypeError`` with
the phrase of :mod:`toyflow.validation`, which argparse prefixes with the argument's name. With :class:`Parser`
a bad argument gives exactly one line and exit status 2, before anything is loaded or written::

    toyflow sample: error: argument --n: must be at least 1, got -3

:class:`Refused` is the same kind of error for what can only be checked after parsing (e.g. a number of points
that a checkpoint's network cannot draw); :func:`toyflow.cli.main` prints it in the same form.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from .validation import count_problem, positive_problem, probability_problem, seed_problem


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, ``<prog>: error: <message>``, with exit status 2 (no usage
    block: ``--help`` has it). Its subcommands' parsers are of the same class."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Leave with ``<prog>: error: <message>`` on standard error and exit status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


class Refused(Exception):
    """An argument refused after parsing: ``Refused("--num-points", "must be ...")`` reads
    ``argument --num-points: must be ...``."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"argument {option}: {problem}")
        self.option = option


def _checked(problem: str | None) -> None:
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)


def _parse_int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # the check then says "must be an integer, got '...'"


def _parse_float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


# The most a command is asked for: far above any use (a benchmark judges 1024 clouds of 400 points, a sampler takes
# 16 steps), far below what would exhaust a machine's memory or run for days.
MAX_CLOUDS = 100_000  # clouds sampled or judged at once: 320 MB of float32 clouds of 400 points
MAX_POINTS = 100_000  # points of a cloud
MAX_TRAIN_STEPS = 10_000_000  # training steps (the recipe takes 3000)
MAX_ROUNDS = 10_000  # rounds of preference


def count(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """The type of a count of at least ``minimum`` (clouds, steps, points; ``minimum=0`` where 0 means "none") and at
    most ``maximum``."""

    def parse(text: str) -> int:
        value = _parse_int(text)
        _checked(count_problem(value, minimum, maximum))
        return value

    parse.__name__ = f"count (at least {minimum})"
    return parse


def positive(text: str) -> float:
    """The type of a time or another quantity that must be a finite number greater than 0."""
    value = _parse_float(text)
    _checked(positive_problem(value))
    return value


def probability(text: str) -> float:
    """The type of a probability or a fraction in [0, 1]."""
    value = _parse_float(text)
    _checked(probability_problem(value))
    return value


def seed(text: str) -> int:
    """The type of a seed: an integer from 0 to 2**63 - 1 (:data:`toyflow.validation.MAX_SEED`)."""
    value = _parse_int(text)
    _checked(seed_problem(value))
    return value


def output_file(text: str) -> Path:
    """The type of a file to write (``--out``, ``--log``): its path; a path ending in a separator names a folder."""
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{text} names a folder (it ends with a separator); name a file to write")
    return Path(text)


def device(text: str) -> str:
    """The type of ``--device``: ``auto``, or a torch device that exists here (``cpu``, ``cuda``, ``cuda:1``, ...)."""
    if text == "auto":
        return text
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a torch device: {text!r} (e.g. cpu, cuda, cuda:1, auto)") from None
    if dev.type not in ("cpu", "cuda", "mps", "xpu"):  # "meta" and the like hold no values: nothing runs there
        raise argparse.ArgumentTypeError(f"device {text!r} computes nothing (choose cpu, cuda, cuda:1, ... or auto)")
    try:
        torch.empty(0, device=dev)
    except Exception as e:  # torch raises RuntimeError or AssertionError for a device it cannot use
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise argparse.ArgumentTypeError(f"device {text!r} is not available here ({reason})") from None
    return text
