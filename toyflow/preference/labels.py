"""What a person says about a set of proposals: ticks, probabilities or nothing; checked once, turned into labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..validation import is_integer, shown


class PreferenceInputError(ValueError):
    """Labels that cannot be used (out-of-range index, probability outside [0, 1], ...)."""


@dataclass(frozen=True)
class Answer:
    """A person's answer to one set of proposals: ticked indices, or one probability per proposal, or neither
    (``Answer()``: "none of these", a skipped round)."""

    ticks: Sequence[int] | None = None
    probabilities: Sequence[float] | None = None

    @property
    def skipped(self) -> bool:
        """Whether the answer says nothing (no tick and no probabilities)."""
        return not self.ticks and self.probabilities is None


def check_probabilities(values: Sequence[float], n: int, exact: bool = False) -> list[float]:
    """``values`` as floats, each in [0, 1], at most ``n`` of them (exactly ``n`` with ``exact``).

    Raises :class:`PreferenceInputError` naming the first problem.
    """
    try:
        p = [float(v) for v in values]
    except (TypeError, ValueError) as e:
        raise PreferenceInputError(f"probabilities must be numbers ({e})") from None
    if len(p) > n or (exact and len(p) != n):
        raise PreferenceInputError(f"got {len(p)} probabilities for {n} proposals")
    bad = [v for v in p if not (0.0 <= v <= 1.0)]
    if bad:
        raise PreferenceInputError(f"probabilities must lie in [0, 1], got {bad[0]}")
    return p


def labels_from(
    n: int, ticks: Sequence[int] | None = None, probabilities: Sequence[float] | None = None
) -> torch.Tensor | None:
    """Turn ticked indices or per-proposal probabilities into a label vector ``(n,)`` summing to 1.

    ``ticks``: indices in ``[0, n)`` (duplicates ignored); ``probabilities``: up to ``n`` numbers in
    [0, 1] with a positive sum (missing ones count as 0). Returns ``None`` when nothing is ticked.
    Raises :class:`PreferenceInputError` for bad input.
    """
    if ticks is not None and probabilities is not None:
        raise PreferenceInputError("give either ticks or probabilities, not both")
    if probabilities is not None:
        p = check_probabilities(probabilities, n)
        y = torch.zeros(n)
        y[: len(p)] = torch.tensor(p)
        if y.sum() <= 0:
            raise PreferenceInputError("probabilities must have a positive sum")
        return y / y.sum()
    for i in ticks or []:
        if not is_integer(i):  # 1.5 is no index (int() would read it as 1), nor is None or inf
            raise PreferenceInputError(f"proposal indices must be integers, got {shown(i)}")
    ticks = sorted(set(int(i) for i in (ticks or [])))
    if not ticks:
        return None
    out = [i for i in ticks if not 0 <= i < n]
    if out:
        raise PreferenceInputError(f"proposal index {out[0]} is out of range 0..{n - 1}")
    y = torch.zeros(n)
    y[ticks] = 1.0 / len(ticks)
    return y


def parse_answer(text: str, n: int) -> tuple[list[int] | None, list[float] | None]:
    """Read a terminal answer, as in the original: indices separated by spaces, an empty line for none,
    or ``p`` followed by probabilities (``p 0.1 0.5``). Returns ``(ticks, probabilities)``, one of them ``None``.

    Raises :class:`PreferenceInputError` for words that are not numbers; ranges are checked by :func:`labels_from`.
    """
    words = text.replace(",", " ").split()
    if words and words[0].lower() == "p":
        try:
            probs = [float(w) for w in words[1:]]
        except ValueError:
            raise PreferenceInputError(f"'p' must be followed by numbers, got {text.strip()!r}") from None
        labels_from(n, probabilities=probs)
        return None, probs
    try:
        ticks = [int(w) for w in words]
    except ValueError:
        raise PreferenceInputError(f"expected indices 0..{n - 1} separated by spaces, got {text.strip()!r}") from None
    labels_from(n, ticks=ticks)
    return ticks, None
