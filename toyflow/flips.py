"""The flip map: what model B did with each of a fixed bank of held-out noises, compared with model A.

Both models draw a cloud from each noise of the bank (the first :data:`FLIP_N` of the fixed held-out noises the
chart is measured on, never used for proposals); the judge reads both, and each noise falls in one of four
categories (:data:`CATEGORIES`): it stayed a Swiss roll, it flipped from a roll to an S curve, it stayed an S curve,
or it flipped from an S curve to a roll, with whether B's cloud is clean. The counts are the win-rate evidence a
paper would show, measured live after each round.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .judge import Verdict, judge

FLIP_N = 32  # noises in the bank

STAYED_ROLL, TO_S, STAYED_S, TO_ROLL = "roll", "roll → S", "S", "S → roll"
CATEGORIES = (STAYED_ROLL, TO_S, STAYED_S, TO_ROLL)
DESCRIPTIONS = {
    STAYED_ROLL: "stayed a Swiss roll",
    TO_S: "flipped: roll → S curve",
    STAYED_S: "stayed an S curve",
    TO_ROLL: "flipped: S curve → roll",
}


def category(a_is_s: bool, b_is_s: bool) -> str:
    """The category of one noise from A's and B's readings (True: an S curve)."""
    return (TO_ROLL if not b_is_s else STAYED_S) if a_is_s else (TO_S if b_is_s else STAYED_ROLL)


@dataclass(frozen=True)
class FlipMap:
    """What B did with each noise of a bank compared with A: ``categories`` (one of :data:`CATEGORIES` per noise),
    the judge's readings of both (``a_is_s, b_is_s, a_clean, b_clean``, bool ``(n,)``)."""

    categories: tuple[str, ...]
    a_is_s: torch.Tensor
    b_is_s: torch.Tensor
    a_clean: torch.Tensor
    b_clean: torch.Tensor

    @property
    def counts(self) -> dict[str, int]:
        """How many noises fell in each category (every category present, in :data:`CATEGORIES` order)."""
        return {c: self.categories.count(c) for c in CATEGORIES}

    @property
    def clean_counts(self) -> dict[str, int]:
        """How many of each category B drew clean."""
        pairs = list(zip(self.categories, self.b_clean.tolist(), strict=True))
        return {c: sum(ok for k, ok in pairs if k == c) for c in CATEGORIES}

    @property
    def flipped(self) -> int:
        """Noises whose shape B changed (either way)."""
        counts = self.counts
        return counts[TO_S] + counts[TO_ROLL]

    def summary(self) -> str:
        """One line: the counts of each category (and how many of B's clouds are clean) out of the bank."""
        counts, clean = self.counts, self.clean_counts
        parts = [f"{DESCRIPTIONS[c]}: {counts[c]}" for c in CATEGORIES]
        return f"{' · '.join(parts)} (of {len(self.categories)}; B clean: {sum(clean.values())})"


def compare(a: Verdict, b: Verdict) -> FlipMap:
    """The flip map from the judge's verdicts on A's and on B's clouds of the same noises (``(n,)`` each)."""
    if a.is_s.shape != b.is_s.shape:
        raise ValueError(f"A and B must be read on the same noises, got {a.is_s.shape[0]} and {b.is_s.shape[0]}")
    cats = tuple(category(bool(x), bool(y)) for x, y in zip(a.is_s, b.is_s, strict=True))
    return FlipMap(cats, a.is_s.clone(), b.is_s.clone(), a.clean.clone(), b.clean.clone())


def flip_map(a_clouds: torch.Tensor, b_clouds: torch.Tensor) -> FlipMap:
    """The flip map of A's and B's clouds ``(n, num_points, 2)`` drawn from the same ``n`` noises, in order."""
    return compare(judge(a_clouds), judge(b_clouds))
