"""Reading a file by its schema: the values toyflow's files are made of, and a schema's first problem in words.

Each file toyflow reads is described once, by a pydantic model built from the types below: a session's log
(:mod:`toyflow.preference.log_schema`), a checkpoint's metadata (:mod:`toyflow.checkpoint`), the header of a file of
clouds (:mod:`toyflow.cloud_files`). :func:`check` validates what was read against its model and turns the first
problem into a :class:`Problem`: which field (``'seed'``, ``'settings.lr'``, ``'ticks[0]'``) and what is wrong with
it, in the words the command line uses for its own arguments (:mod:`toyflow.validation`: ``must be an integer from 0
to 2**63 - 1, got -1``). One line, never pydantic's report; each reader adds the file's name and raises its own error.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError

from .validation import (
    SHOWN,
    count_problem,
    finite_problem,
    handoff_time_problem,
    positive_problem,
    probability_problem,
    seed_problem,
    shown,
)


class Problem(ValueError):
    """What is wrong with a file: ``field`` (the field's path, ``""`` for the whole file), ``phrase`` (what is wrong,
    ``"must be at least 1, got 0"``) and ``context`` (where in the file, ``"event 2 (answer)"``; may be empty)."""

    def __init__(self, field: str, phrase: str, context: str = "") -> None:
        self.field, self.phrase, self.context = field, phrase, context
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line: ``event 2 (answer): 'ticks[0]' must be ...``."""
        said = f"'{self.field}' {self.phrase}" if self.field else self.phrase
        return f"{self.context}: {said}" if self.context else said


class StrictModel(BaseModel):
    """A part of a file: every field named in its model, no other (``extra="forbid"``), no type coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OpenModel(BaseModel):
    """A part of a file that may carry fields of its own beside the ones named (a checkpoint's free metadata)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


def leaf(problem: Callable[[object], str | None], convert: Callable[[Any], Any]) -> Any:
    """A pydantic validator of one value: ``problem(value)`` says what is wrong (a phrase, or None when it is fine),
    then ``convert`` gives the value kept. Use as ``Annotated[type, leaf(...)]``."""

    def validate(value: object) -> Any:
        said = problem(value)
        if said is not None:
            raise ValueError(said)
        return convert(value)

    return PlainValidator(validate)


def Count(minimum: int = 1, maximum: int | None = None) -> Any:  # noqa: N802  (a type, spelled like one)
    """An integer from ``minimum`` to ``maximum`` (not a bool, not a float)."""
    return Annotated[int, leaf(lambda v: count_problem(v, minimum, maximum), operator.index)]


def Number(minimum: float | None = None) -> Any:  # noqa: N802
    """A finite real number (an int or a float, not a bool) of at least ``minimum``."""
    return Annotated[float, leaf(lambda v: finite_problem(v, minimum), float)]


def Choice(choices: Iterable[str]) -> Any:  # noqa: N802
    """One of the strings ``choices``, read when the file is checked (a registry may grow after import)."""

    def problem(value: object) -> str | None:
        options = tuple(choices)
        if isinstance(value, str) and value in options:
            return None
        return f"must be one of {', '.join(repr(c) for c in options)}, got {shown(value)}"

    return Annotated[str, leaf(problem, str)]


def _flag_problem(value: object) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {shown(value)}"


def _text_problem(value: object) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {shown(value)}"


CHECKSUM = re.compile(r"[0-9a-f]{64}")


def _checksum_problem(value: object) -> str | None:
    if isinstance(value, str) and CHECKSUM.fullmatch(value):
        return None
    return f"must be a SHA-256 checksum (64 hexadecimal digits), got {shown(value)}"


def _fraction_or_nan_problem(value: object) -> str | None:
    if isinstance(value, float) and math.isnan(value):
        return None  # a fraction of nothing (the judge's "n/a")
    return probability_problem(value)


Seed = Annotated[int, leaf(seed_problem, operator.index)]
Probability = Annotated[float, leaf(probability_problem, float)]
FractionOrNaN = Annotated[float, leaf(_fraction_or_nan_problem, float)]  # a measured fraction, NaN when undefined
Positive = Annotated[float, leaf(positive_problem, float)]
HandOffTime = Annotated[float, leaf(handoff_time_problem, float)]  # a time of the path in (0, 1]
Flag = Annotated[bool, leaf(_flag_problem, bool)]
Text = Annotated[str, leaf(_text_problem, str)]
Checksum = Annotated[str, leaf(_checksum_problem, str)]


def field_path(loc: Iterable[str | int]) -> str:
    """A field's path as a message names it, on one line: ``settings.lr``, ``ticks[0]``; a name that is not a plain
    word (a newline in it, a space, a thousand characters) by its cut repr: ``config['a\\nb']``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier() and len(part) <= SHOWN:
            out += f".{part}" if out else part
        else:
            out += f"[{shown(part)}]"
    return out


def _words(error: dict) -> tuple[tuple, str]:
    """The location and the phrase of one pydantic error (``loc`` extended by the field a tagged union looks at)."""
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return loc, str(ctx["error"])
    if kind == "missing":
        return loc, "is missing"
    if kind == "extra_forbidden":
        return loc, "is not a field toyflow knows"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, f"must be a JSON object, got {shown(error.get('input'))}"
    if kind in ("list_type", "tuple_type"):
        return loc, f"must be a list, got {shown(error.get('input'))}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag_field = str(ctx.get("discriminator", "")).strip("'")
        if kind == "union_tag_not_found":
            found = error.get("input")
            if not isinstance(found, dict):
                return loc, f"must be a JSON object, got {shown(found)}"
            return (*loc, tag_field), "is missing"
        tag = error["input"].get(tag_field) if isinstance(error.get("input"), dict) else ctx.get("tag")
        return (*loc, tag_field), f"must be one of {ctx.get('expected_tags')}, got {shown(tag)}"
    return loc, " ".join(str(error.get("msg", kind)).split())  # anything else: pydantic's own sentence, on one line


def first_problem(error: ValidationError, tags: Iterable[str] = ()) -> tuple[tuple, str]:
    """The location (the names in ``tags``, a tagged union's branches, left out) and the phrase of ``error``'s first
    problem."""
    skip = set(tags)
    loc, phrase = _words(error.errors(include_url=False)[0])
    return tuple(p for p in loc if not (isinstance(p, str) and p in skip)), phrase


def check(model: type[BaseModel], data: object, tags: Iterable[str] = ()) -> Any:
    """``data`` validated by ``model`` (an instance of it); :class:`Problem` naming the first field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        loc, phrase = first_problem(e, tags)
        if not loc:
            raise Problem("", phrase) from None
        raise Problem(field_path(loc), phrase) from None
