"""toyflow.preference.labels: answers, ticks and probabilities turned into labels, and one clear error for bad input."""

from __future__ import annotations

import pytest

from toyflow.preference import Answer, PreferenceInputError, labels_from, parse_answer
from toyflow.preference.labels import check_probabilities


def test_labels_from_ticks_and_probabilities():
    assert labels_from(4, ticks=[2, 0, 2]).tolist() == [0.5, 0.0, 0.5, 0.0]
    assert labels_from(4, ticks=[]) is None
    assert labels_from(4) is None
    assert labels_from(4, probabilities=[0.2, 0.6]).tolist() == pytest.approx([0.25, 0.75, 0.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ticks": [4]}, "out of range"),
        ({"ticks": [-1]}, "out of range"),
        ({"probabilities": [0.5, 1.5]}, r"\[0, 1\]"),
        ({"probabilities": [-0.1]}, r"\[0, 1\]"),
        ({"probabilities": [float("nan")]}, r"\[0, 1\]"),
        ({"probabilities": [0, 0, 0, 0]}, "positive sum"),
        ({"probabilities": [0.1] * 5}, "5 probabilities"),
        ({"probabilities": ["x"]}, "numbers"),
        ({"ticks": [1], "probabilities": [1.0]}, "not both"),
        ({"ticks": [1.5]}, "^proposal indices must be integers, got 1.5$"),  # not read as 1
        ({"ticks": [0, float("inf")]}, "^proposal indices must be integers, got inf$"),
        ({"ticks": [None]}, "^proposal indices must be integers, got None$"),
        ({"ticks": [True]}, "^proposal indices must be integers, got True$"),
    ],
)
def test_bad_labels_raise_one_clear_error(kwargs, message):
    with pytest.raises(PreferenceInputError, match=message):
        labels_from(4, **kwargs)


def test_check_probabilities_exact_count():
    assert check_probabilities([0, "0.5", 1], 3, exact=True) == [0.0, 0.5, 1.0]
    assert check_probabilities([0.5], 3) == [0.5]
    with pytest.raises(PreferenceInputError, match="1 probabilities for 3"):
        check_probabilities([0.5], 3, exact=True)


def test_parse_answer_reads_the_original_terminal_syntax():
    assert parse_answer("", 4) == ([], None)
    assert parse_answer(" 0 3 ", 4) == ([0, 3], None)
    assert parse_answer("1,2", 4) == ([1, 2], None)
    assert parse_answer("p 0.1 0.5", 4) == (None, [0.1, 0.5])
    for text, message in [("a b", "indices"), ("p x", "numbers"), ("7", "out of range"), ("p 2", r"\[0, 1\]")]:
        with pytest.raises(PreferenceInputError, match=message):
            parse_answer(text, 4)


def test_an_answer_is_skipped_when_it_says_nothing():
    assert Answer().skipped and Answer(ticks=[]).skipped
    assert not Answer(ticks=[1]).skipped
    assert not Answer(probabilities=[0.0, 1.0]).skipped
    assert Answer(*parse_answer("p 0.5", 4)) == Answer(probabilities=[0.5])
