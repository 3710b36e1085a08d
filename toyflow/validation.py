"""Checking numbers at the door: counts, times, probabilities and seeds.

Each ``*_problem`` function returns what is wrong with a value as a phrase (``"must be at least 1, got -3"``), or
``None`` when it is fine. The ``check_*`` functions raise ``ValueError("<name> <phrase>")`` for the library, and
:mod:`toyflow.cli_args` turns the same phrases into argparse errors (``argument --n: must be at least 1, got -3``),
so the library and the command line refuse a bad value in the same words.
"""

from __future__ import annotations

import math
import operator

MAX_SEED = 2**63 - 1  # torch's and numpy's generators both take every seed from 0 to this


def _as_int(value: object) -> int | None:
    """``value`` as an int when it is an integer (a Python or numpy int, not a bool or a float), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def is_integer(value: object) -> bool:
    """Whether ``value`` is an integer (a Python or numpy int, not a bool or a float)."""
    return _as_int(value) is not None


def _as_float(value: object) -> float | None:
    """``value`` as a float when it is a real number (not a bool or a string), else None."""
    if isinstance(value, (bool, str, bytes)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError):
        return None


SHOWN = 60  # characters of a value a message shows at most (a file may hold anything: a message stays one line)


def shown(value: object) -> str:
    """``value`` as a message shows it (here and in the schemas' messages, :mod:`toyflow.schema`): numbers plainly
    (``-3``, ``1.5``, ``nan``), anything else by its repr, cut to :data:`SHOWN` characters."""
    n = _as_int(value)
    if n is not None:
        if n.bit_length() > 3 * SHOWN:  # str() of a very long integer is slow, or refused
            return f"an integer of about {int(n.bit_length() * math.log10(2)) + 1} digits"
        return str(n)
    x = _as_float(value)
    if x is None:
        text = repr(value)
        return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)  # 2.0 reads "2", as typed


def count_problem(value: object, minimum: int = 1, maximum: int | None = None) -> str | None:
    """What is wrong with ``value`` as a count of at least ``minimum`` (and at most ``maximum``), or None."""
    n = _as_int(value)
    if n is None:
        return f"must be an integer, got {shown(value)}"
    if n < minimum:
        return f"must be at least {minimum}, got {n}"
    if maximum is not None and n > maximum:
        return f"must be at most {maximum}, got {n}"
    return None


def finite_problem(value: object, minimum: float | None = None) -> str | None:
    """What is wrong with ``value`` as a finite number (of at least ``minimum``), or None."""
    x = _as_float(value)
    if x is None or not math.isfinite(x):
        return f"must be a finite number, got {shown(value)}"
    if minimum is not None and x < minimum:
        return f"must be at least {shown(minimum)}, got {shown(value)}"
    return None


def positive_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a finite number greater than 0 (a time, a scale), or None."""
    x = _as_float(value)
    if x is None or not math.isfinite(x) or x <= 0:
        return f"must be a finite number greater than 0, got {shown(value)}"
    return None


def probability_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a probability or a fraction in [0, 1], or None (NaN is refused)."""
    x = _as_float(value)
    if x is None or not 0.0 <= x <= 1.0:
        return f"must lie in [0, 1], got {shown(value)}"
    return None


def handoff_time_problem(value: object) -> str | None:
    """What is wrong with ``value`` as the time of a hand-off between two networks, in (0, 1], or None."""
    x = _as_float(value)
    if x is None or not 0.0 < x <= 1.0:
        return f"must lie in (0, 1], got {shown(value)}"
    return None


def seed_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a seed (an integer from 0 to :data:`MAX_SEED`), or None."""
    n = _as_int(value)
    if n is None or not 0 <= n <= MAX_SEED:
        return f"must be an integer from 0 to 2**63 - 1, got {shown(value)}"
    return None


def _raise(name: str, problem: str | None) -> None:
    if problem is not None:
        raise ValueError(f"{name} {problem}")


def check_count(name: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int; ``ValueError("<name> must be at least <minimum>, got <value>")`` otherwise (or "at most
    <maximum>")."""
    _raise(name, count_problem(value, minimum, maximum))
    return operator.index(value)


def check_positive(name: str, value: object) -> float:
    """``value`` as a float; ``ValueError`` unless it is finite and greater than 0."""
    _raise(name, positive_problem(value))
    return float(value)


def check_finite(name: str, value: object, minimum: float | None = None) -> float:
    """``value`` as a float; ``ValueError`` unless it is finite (and at least ``minimum``)."""
    _raise(name, finite_problem(value, minimum))
    return float(value)


def check_probability(name: str, value: object) -> float:
    """``value`` as a float; ``ValueError("<name> must lie in [0, 1], got <value>")`` otherwise."""
    _raise(name, probability_problem(value))
    return float(value)


def check_seed(name: str, value: object) -> int:
    """``value`` as an int; ``ValueError`` unless it is an integer from 0 to :data:`MAX_SEED`."""
    _raise(name, seed_problem(value))
    return operator.index(value)
