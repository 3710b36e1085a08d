"""The schema of a session's log: every field of the header and of each event, and the order events may come in.

:func:`check_log` reads a log's JSON once, before anything is replayed: pydantic checks each field's type and range
(the header's method and settings, the seed, each event's kind and fields), then one walk checks what only the
order tells: a proposal is numbered after the ones before it, an answer answers a proposal made before it (since
the last reset) with ticks that are indices of that proposal's clouds or at most one probability per cloud, an undo
takes back an answer in effect, and rounds are numbered as the session numbered them. The first problem is raised
as a :class:`~toyflow.schema.Problem` that says which event and which field, in the user's words.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import Field

from ..checkpoint import SamplerSchema
from ..schema import (
    Checksum,
    Choice,
    Count,
    Flag,
    HandOffTime,
    Number,
    Positive,
    Probability,
    Problem,
    Seed,
    StrictModel,
    Text,
    check,
    leaf,
)
from ..validation import shown
from .base import METHODS
from .settings import MethodSettings

LOG_FORMAT = "toyflow-session-log"
# 2: reward-fm learns in the gate and heads only (settings gate_lr, head_lr): a version-1 log would not replay
# 3: reward-fm weighs by a preference model that knows its certainty (new settings): a version-2 log would not replay
# 4: reward-fm sizes a network without class heads by the pool's tilt (setting tilt_nats): a version-3 log of a
# session on such a network would not replay
# 5: reward-fm draws a network without class heads its own batch of pool clouds (setting whole_pool_batch)
# 6: dpo learns in the gate at early times where there is one (settings dpo_gate_lr, dpo_t_max)
# 7: reward-fm reads a subset of each pool cloud's points for a network without class heads and takes its full step
# from a certainty (settings whole_points, certainty_full)
# 8: dpo reads early times on every network, its barrier on its own batch (setting dpo_barrier_batch)
# 9: reward-fm shifts the gate of a network with class heads in closed form (setting gate_shift_gain; gate_lr,
# head_lr, pool_batch and t_max are gone)
# 10: reward-fm hands a network without class heads off to A's late field (setting handoff_time) and sizes its
# steps by the tilt alone (certainty_full is gone)
LOG_VERSION = 10
EVENTS = ("propose", "answer", "undo", "reset", "finetune")

# The most a log may ask a replay for: far above what any front end does (4 proposals, a few steps), far below what
# would exhaust a machine's memory.
MAX_PROPOSALS = 1024  # clouds in one proposal
MAX_STEPS = 100_000  # steps of one update or fine-tuning
MAX_BATCH = 65_536  # clouds or points in one batch or pool


def _format_problem(value: object) -> str | None:
    if value == LOG_FORMAT:
        return None
    found = "it has none" if value is None else f"got {shown(value)}"
    return f'must be "{LOG_FORMAT}": not a toyflow session log ({found})'


def _version_problem(value: object) -> str | None:
    if value == LOG_VERSION and not isinstance(value, bool):
        return None
    found = "missing" if value is None else f"{shown(value)}"
    return f"is {found}; this toyflow reads session logs of version {LOG_VERSION}"


LogFormat = Annotated[str, leaf(_format_problem, str)]
LogVersion = Annotated[int, leaf(_version_problem, int)]
Proposals = Count(1, MAX_PROPOSALS)
Steps = Count(1, MAX_STEPS)
Batch = Count(1, MAX_BATCH)
Index = Count(0, MAX_PROPOSALS - 1)
Ordinal = Count(1)  # a proposal's or a round's number, counted from 1
Rate = Number(0.0)  # a learning rate: 0 freezes what it drives
Finite = Number()
NonNegative = Number(0.0)
PoolNoises = Count(1, MAX_PROPOSALS)
TimeSamples = Count(1, 1024)
MethodName = Choice(METHODS)  # the registry's names when a log is read (every method registers on import)


class Settings(StrictModel):
    """:class:`~toyflow.preference.base.MethodSettings`, every one of them (a test keeps the two alike), each of its
    type and in its range."""

    lr: Rate
    dpo_gate_lr: Rate
    dpo_t_max: Probability
    dpo_barrier_batch: Batch
    gate_shift_gain: NonNegative
    whole_lr: Rate
    handoff_time: HandOffTime
    tilt_nats: Positive
    steps: Steps
    batch_size: Batch
    whole_pool_batch: Batch
    whole_points: Batch
    pool_noises: PoolNoises
    pool_size: Batch
    strength: Finite
    kernel_points: Batch
    belief_width: Positive
    prior_labels: NonNegative
    lapse: Probability
    prior_log_odds: Finite
    temperature: Positive
    time_samples: TimeSamples
    fm_batch: Batch
    restart: Flag


def check_settings(settings: MethodSettings) -> None:
    """:class:`~toyflow.schema.Problem` (a ``ValueError``) naming the first of ``settings`` that is not of its type
    or not in its range (``'settings.steps' must be at least 1, got -2``): a session takes only settings its log
    can hold and replay."""
    try:
        check(Settings, asdict(settings))
    except Problem as problem:
        raise Problem(f"settings.{problem.field}", problem.phrase) from None


class Propose(StrictModel):
    """Proposal ``number`` (counted from 1 after the start or a reset): ``n`` clouds from the noise of ``seed``."""

    event: Literal["propose"]
    number: Ordinal
    n: Proposals
    seed: Seed


class Answer(StrictModel):
    """The answer to proposal ``proposal``: ``ticks`` (indices of its clouds), ``probabilities`` (one per cloud, at
    most), or neither (a skipped round); the ``round`` it was, whether B was ``updated``, and B's checksum ``b``."""

    event: Literal["answer"]
    proposal: Ordinal
    ticks: list[Index] | None = None
    probabilities: list[Probability] | None = None
    round: Ordinal
    updated: Flag
    b: Checksum


class Undo(StrictModel):
    """Round ``round`` taken back; B's checksum after it."""

    event: Literal["undo"]
    round: Ordinal
    b: Checksum


class Reset(StrictModel):
    """Everything learned forgotten; B's checksum after it (A's)."""

    event: Literal["reset"]
    b: Checksum


class Finetune(StrictModel):
    """``steps`` steps of B on fresh mixture data (a control); B's checksum after it."""

    event: Literal["finetune"]
    steps: Steps
    b: Checksum


Event = Annotated[Propose | Answer | Undo | Reset | Finetune, Field(discriminator="event")]


class LogFile(StrictModel):
    """A session log as :meth:`~toyflow.preference.log.SessionLog.to_json` writes it."""

    format: LogFormat = Field(default=None, validate_default=True)  # first: is this a session log at all?
    version: LogVersion = Field(default=None, validate_default=True)
    model_a: Checksum
    method: MethodName
    settings: Settings
    seed: Seed
    sampler: SamplerSchema
    s_fraction: Probability
    device: Text = "cpu"
    created: Text = ""
    note: dict[str, Any] = Field(default_factory=dict)
    events: list[Event] = Field(default_factory=list)


def _event_context(i: int, kind: object) -> str:
    return f"event {i} ({kind})" if isinstance(kind, str) and kind in EVENTS else f"event {i}"


def check_log(data: object) -> LogFile:
    """``data`` (a log's parsed JSON) checked field by field, then in order; :class:`~toyflow.schema.Problem` (its
    ``context`` the event, when the problem lies in one) for the first thing that is wrong."""
    try:
        log = check(LogFile, data, tags=EVENTS)
    except Problem as p:
        field = p.field
        if field.startswith("events["):  # events[2].ticks[0] -> event 2 (answer): 'ticks[0]'
            index, _, rest = field[len("events[") :].partition("]")
            events = data.get("events") if isinstance(data, dict) else None
            event = events[int(index)] if isinstance(events, list) else None
            kind = event.get("event") if isinstance(event, dict) else None
            raise Problem(rest.lstrip("."), p.phrase, _event_context(int(index), kind)) from None
        raise
    check_order(log.events)
    return log


def check_order(events: list[Any]) -> None:
    """What the order of ``events`` must respect (see the module docstring); :class:`~toyflow.schema.Problem`."""
    clouds: dict[int, int] = {}  # proposals since the start or the last reset: number -> clouds
    in_effect: list[int] = []  # the rounds of the answers in effect, oldest first
    for i, e in enumerate(events):
        where = _event_context(i, e.event)
        if isinstance(e, Propose):
            if e.number != len(clouds) + 1:
                said = f"must be {len(clouds) + 1} (proposals are numbered in order), got {e.number}"
                raise Problem("number", said, where)
            clouds[e.number] = e.n
        elif isinstance(e, Answer):
            _check_answer(e, clouds, len(in_effect) + 1, where)
            in_effect.append(e.round)
        elif isinstance(e, Undo):
            if not in_effect:
                raise Problem("", "takes back no answer: none is in effect before it", where)
            if e.round != in_effect[-1]:
                raise Problem("round", f"must be {in_effect[-1]} (the last answer in effect), got {e.round}", where)
            in_effect.pop()
        elif isinstance(e, Reset):
            clouds.clear()
            in_effect.clear()


def _check_answer(e: Answer, clouds: dict[int, int], round_number: int, where: str) -> None:
    if e.proposal not in clouds:
        made = f"1 to {len(clouds)}" if clouds else "none since the start or the last reset"
        raise Problem("proposal", f"must be a proposal made before it ({made}), got {e.proposal}", where)
    n = clouds[e.proposal]
    if e.ticks is not None and e.probabilities is not None:
        raise Problem("probabilities", "must be null when there are ticks: an answer is ticks or probabilities", where)
    for j, tick in enumerate(e.ticks or []):
        if tick >= n:
            said = f"must be an index of proposal {e.proposal}'s {n} clouds (0 to {n - 1}), got {tick}"
            raise Problem(f"ticks[{j}]", said, where)
    if e.probabilities is not None:
        if len(e.probabilities) > n:
            said = f"must hold at most {n} values (proposal {e.proposal} has {n} clouds), got {len(e.probabilities)}"
            raise Problem("probabilities", said, where)
        if not sum(e.probabilities) > 0:
            raise Problem("probabilities", "must have a positive sum", where)
    if e.round != round_number:
        said = f"must be {round_number} (the answers in effect before it, plus one), got {e.round}"
        raise Problem("round", said, where)
