"""toyflow.flips: what B did with each noise compared with A, and the counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toyflow.data import make_cloud
from toyflow.flips import CATEGORIES, STAYED_ROLL, STAYED_S, TO_ROLL, TO_S, category, compare, flip_map
from toyflow.judge import judge


def clouds(kinds: str) -> torch.Tensor:
    """Real clouds, "s" for an S curve and "r" for a Swiss roll."""
    names = {"s": "s_curve", "r": "swiss_roll"}
    return torch.from_numpy(np.stack([make_cloud(names[k], seed=10 + i) for i, k in enumerate(kinds)]))


def test_the_four_categories():
    assert category(False, False) == STAYED_ROLL
    assert category(False, True) == TO_S
    assert category(True, True) == STAYED_S
    assert category(True, False) == TO_ROLL
    assert CATEGORIES == (STAYED_ROLL, TO_S, STAYED_S, TO_ROLL)


def test_flip_map_of_known_clouds_counts_each_category():
    a, b = clouds("srsrrr"), clouds("ssrrsr")
    flips = flip_map(a, b)
    assert flips.categories == (STAYED_S, TO_S, TO_ROLL, STAYED_ROLL, TO_S, STAYED_ROLL)
    assert flips.counts == {STAYED_ROLL: 2, TO_S: 2, STAYED_S: 1, TO_ROLL: 1}
    assert sum(flips.counts.values()) == 6 and flips.flipped == 3
    assert flips.b_clean.all() and flips.clean_counts == flips.counts  # real clouds are clean
    assert "flipped: roll → S curve: 2" in flips.summary() and "(of 6; B clean: 6)" in flips.summary()


def test_an_unclean_cloud_of_b_is_counted_apart():
    a, b = clouds("rr"), clouds("sr")
    b[1, :5] = 0.9  # five stray points: still a Swiss roll, no longer clean
    flips = compare(judge(a), judge(b))
    assert flips.categories == (TO_S, STAYED_ROLL)
    assert flips.b_clean.tolist() == [True, False] and flips.a_clean.tolist() == [True, True]
    assert flips.clean_counts == {STAYED_ROLL: 0, TO_S: 1, STAYED_S: 0, TO_ROLL: 0}


def test_a_and_b_must_be_read_on_the_same_noises():
    with pytest.raises(ValueError, match="same noises"):
        compare(judge(clouds("sr")), judge(clouds("s")))
