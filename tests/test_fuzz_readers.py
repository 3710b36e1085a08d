"""Every reader fuzzed (Hypothesis): valid session logs, checkpoints and files of clouds, mutated (types, ranges,
missing and extra fields, truncation, flipped and random bytes), each read in this process. Every case ends in a
correct result or the reader's one clear error (one line naming the file), never another exception.

The readers are called directly, not through the command line, so that thousands of cases take seconds: the command
line turns these same errors into one line and exit status 2 (``test_cli_refusals.py``). The cases are derandomized
(the ``ci`` profile of ``conftest.py``): the same ones every run; ``TOYFLOW_HYPOTHESIS_PROFILE=dev`` explores new ones,
and ``TOYFLOW_FUZZ_CASES`` sets how many each test draws.
"""

from __future__ import annotations

import copy
import json
import math
import os
import struct
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FAST, TINY, make_flow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from toyflow.checkpoint import CheckpointError, load_checkpoint
from toyflow.cloud_files import CloudFileError, load_clouds
from toyflow.data import MIN_POINTS
from toyflow.preference import LogError, PreferenceSession, SessionLog, labels_from, replay

CASES = int(os.environ.get("TOYFLOW_FUZZ_CASES", "1000"))  # per test: at least a thousand per reader
FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OUTCOMES: Counter = Counter()  # (reader, "read" or "refused") -> cases, reported at the end of the module
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module", autouse=True)
def report_outcomes():
    """Print (and keep in ``tests/artifacts/fuzz-outcomes.txt``) how many cases each reader read and refused."""
    start = time.perf_counter()
    yield
    lines = [
        f"{reader:<12} read {OUTCOMES[reader, 'read']:>5}, refused {OUTCOMES[reader, 'refused']:>5}"
        for reader in sorted({r for r, _ in OUTCOMES})
    ]
    lines.append(f"{sum(OUTCOMES.values())} cases in {time.perf_counter() - start:.1f} s")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fuzz-outcomes.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


# ------------------------------------------------------------------------------------------------ mutations
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, 1, 2, 3, 4, 7, -1, 2**63 - 1, 2**63, -(2**63), 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, 0.5, 1.0, 1.5, -0.0, -1e-9, 1e308])
    | st.text(max_size=12)
    | st.sampled_from(["propose", "answer", "undo", "reset", "finetune", "cloudflow", "reference", "toyflow/1"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def paths(node, here=()) -> list[tuple]:
    """The path of every node of a JSON document, the root first."""
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*here, i))
    return found


def _at(doc, path):
    for part in path:
        doc = doc[part]
    return doc


def _changed_type(value):
    """``value`` as another JSON type that still looks like it (``3`` -> ``"3"``, ``3.0``, ``[3]``, ``true``, ...)."""
    options = [str(value), [value], {"value": value}, None, not value if isinstance(value, bool) else True]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        options += [float(value), int(value), float(value) + 0.5, -value]
    return options


# Strategies built once: a strategy made inside a draw costs Hypothesis more than the reader it feeds.
CHOICE = st.integers(0, 2**16)
FLAG = st.booleans()
KEY = st.text(max_size=8)
CHANGES = st.sampled_from(["replace", "retype", "delete", "add", "add"])
BYTE_CHANGES = st.sampled_from(["truncate", "flip", "insert", "remove", "random"])
SOME_BYTES = st.binary(min_size=1, max_size=16)
RANDOM_BYTES = st.binary(max_size=4096)


def pick(draw, options):
    """One of ``options``, drawn."""
    return options[draw(CHOICE) % len(options)]


@st.composite
def mutated_json(draw, doc, max_changes: int = 3):
    """``doc`` with 1 to ``max_changes`` changes: a node replaced (by a random value, a boundary number, another
    type), a field or item removed, a field or item added (a random one, or a copy of a sibling)."""
    doc = copy.deepcopy(doc)
    for _ in range(1 + draw(CHOICE) % max_changes):
        path = pick(draw, paths(doc))
        node = _at(doc, path)
        kind = draw(CHANGES)
        if kind in ("replace", "retype") or (kind == "delete" and not path):
            value = draw(JSON) if kind == "replace" else pick(draw, _changed_type(node))
            if not path:
                doc = value
            else:
                _at(doc, path[:-1])[path[-1]] = value
        elif kind == "delete":
            del _at(doc, path[:-1])[path[-1]]
        elif isinstance(node, dict):
            key = pick(draw, list(node)) if node and draw(FLAG) else draw(KEY)
            node[key] = draw(JSON)
        elif isinstance(node, list):
            extra = copy.deepcopy(pick(draw, node)) if node and draw(FLAG) else draw(JSON)
            node.insert(draw(CHOICE) % (len(node) + 1), extra)
    return doc


@st.composite
def mutated_bytes(draw, data: bytes, focus: int | None = None):
    """``data`` truncated, with bytes flipped, inserted or removed (within its first ``focus`` bytes when given), or
    replaced by random bytes."""
    kind = draw(BYTE_CHANGES)
    end = max(min(len(data), focus or len(data)), 1)
    if kind == "truncate":
        return data[: draw(CHOICE) % max(len(data), 1)]
    if kind == "random":
        return draw(RANDOM_BYTES)
    at = draw(CHOICE) % end
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 + draw(CHOICE) % 255)]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + draw(SOME_BYTES) + data[at:]
    return data[:at] + data[at + 1 + draw(CHOICE) % 16 :]


def assert_clear(error: Exception, path) -> None:
    """The reader's one clear error: one line that names the file."""
    message = str(error)
    assert "\n" not in message and str(path) in message, message
    assert "Traceback" not in message and len(message) < 600, message


# ------------------------------------------------------------------------------------------------ session logs
def two_answers() -> PreferenceSession:
    """A session of a tiny model A with two answered proposals: ticks, then probabilities."""
    session = PreferenceSession(make_flow(TINY, seed=3), seed=5, sampler_steps=2, settings=FAST)
    session.propose(4)
    session.give(ticks=[0, 2])
    session.propose(4)
    session.give(probabilities=[0.9, 0.1, 0.5])
    return session


@pytest.fixture(scope="module")
def log_case(tmp_path_factory):
    """A real log (propose, ticks, probabilities, a skipped round, undo, reset, fine-tuning) of a tiny model A, as
    JSON, and a file to write mutants to."""
    session = two_answers()
    session.undo()
    session.propose(3)
    session.give()
    session.finetune_fresh(1)
    session.reset()
    session.propose(4)
    session.give(ticks=[3])
    doc = json.loads(json.dumps(session.log.to_json()))
    return session.a, doc, tmp_path_factory.mktemp("fuzz-log") / "log.json"


def read_log(path):
    """:meth:`SessionLog.read`; checks what it accepted is a log that replays (every answer's labels exist)."""
    try:
        log = SessionLog.read(path)
    except LogError as e:
        assert_clear(e, path)
        OUTCOMES["session log", "refused"] += 1
        return None
    OUTCOMES["session log", "read"] += 1
    sizes: dict[int, int] = {}
    for event in log.events:
        if event["event"] == "propose":
            sizes[event["number"]] = event["n"]
        elif event["event"] == "reset":
            sizes.clear()
        elif event["event"] == "answer":  # the session's own check of an answer accepts it
            labels_from(sizes[event["proposal"]], event["ticks"], event["probabilities"])
    assert SessionLog.from_json(json.loads(json.dumps(log.to_json()))) == log  # it writes back as it was read
    return log


def test_the_valid_log_is_read_as_it_was_written(log_case):
    _, doc, path = log_case
    path.write_text(json.dumps(doc))
    log = read_log(path)
    assert log is not None and log.to_json() == doc


@FUZZ
@given(data=st.data())
def test_fuzz_a_session_log_field_by_field(log_case, data):
    _, doc, path = log_case
    path.write_text(json.dumps(data.draw(mutated_json(doc)), allow_nan=True))
    read_log(path)


@FUZZ
@given(data=st.data())
def test_fuzz_a_session_log_byte_by_byte(log_case, data):
    _, doc, path = log_case
    path.write_bytes(data.draw(mutated_bytes(json.dumps(doc).encode())))
    read_log(path)


EVENT_CHANGES = st.sampled_from(["ticks", "probabilities", "drop", "repeat", "move"])
TICKS = st.none() | st.lists(st.integers(-1, 5), max_size=5)
PROBABILITIES = st.none() | st.lists(st.floats(-0.5, 1.5) | st.sampled_from([0.0, 1.0, float("nan")]), max_size=6)


@st.composite
def mutated_events(draw, events):
    """``events`` with their answers changed (ticks, probabilities), or one dropped, repeated or moved."""
    events = copy.deepcopy(events)
    answers = [e for e in events if e["event"] == "answer"]
    kind = draw(EVENT_CHANGES)
    if kind == "ticks":
        pick(draw, answers).update(ticks=draw(TICKS))
    elif kind == "probabilities":
        pick(draw, answers).update(probabilities=draw(PROBABILITIES))
    else:
        event = events.pop(draw(CHOICE) % len(events))
        if kind != "drop":
            events.insert(draw(CHOICE) % (len(events) + 1), event)
            if kind == "repeat":
                events.insert(draw(CHOICE) % (len(events) + 1), copy.deepcopy(event))
    return events


@pytest.fixture(scope="module")
def replay_case(tmp_path_factory):
    """A short real log (two answered proposals, ticks then probabilities) of a tiny model A, cheap to replay."""
    session = two_answers()
    doc = json.loads(json.dumps(session.log.to_json()))
    return session.a, doc, tmp_path_factory.mktemp("fuzz-replay") / "log.json"


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_a_log_that_is_read_replays_without_another_error(replay_case, data):
    """The events of a log mutated (their answers, their order): a log that is read replays to its end (each replay
    trains model B, so these cases are few)."""
    a, doc, path = replay_case
    path.write_text(json.dumps({**doc, "events": data.draw(mutated_events(doc["events"]))}, allow_nan=True))
    log = read_log(path)
    if log is not None:
        try:
            replay(a, log)
        except LogError as e:  # the checksum of model A is the only thing a replay may still refuse
            pytest.fail(f"a log that was read could not be replayed: {e}")


# ------------------------------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def checkpoint_case(tmp_path_factory):
    """A tiny model A's checkpoint with the metadata ``toyflow train`` writes: its tensors, its metadata (JSON), its
    bytes, and a file to write mutants to."""
    from toyflow.checkpoint import save_checkpoint

    tmp = tmp_path_factory.mktemp("fuzz-checkpoint")
    meta = {
        "mixture": {"s_fraction": 0.2},
        "saw_labels": True,
        "seed": 0,
        "steps": 3,
        "train_seconds": 0.1,
        "final_loss": 0.5,
        "sampler": {"method": "euler", "steps": 2, "precision": "float32"},
        "evaluation": {"n": 4, "s_fraction": 0.25, "valid": 1.0, "valid_s": 1.0, "valid_roll": float("nan")},
    }
    path = save_checkpoint(make_flow(TINY, seed=3), tmp / "a.safetensors", **meta)
    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()["toyflow"])
    return load_file(str(path)), doc, path.read_bytes(), tmp / "mutant.safetensors"


def read_checkpoint(path):
    """:func:`load_checkpoint`; checks what it accepted is the network its metadata describes."""
    try:
        model, meta = load_checkpoint(path, device="cpu")
    except CheckpointError as e:
        assert_clear(e, path)
        OUTCOMES["checkpoint", "refused"] += 1
        return None
    OUTCOMES["checkpoint", "read"] += 1
    config = {k: v for k, v in meta["config"].items()}
    assert {k: v for k, v in model.config.to_dict().items() if k in config} == config
    assert isinstance(model, torch.nn.Module) and not model.training
    return model


def test_the_valid_checkpoint_is_read(checkpoint_case):
    tensors, doc, data, path = checkpoint_case
    path.write_bytes(data)
    assert read_checkpoint(path) is not None


@FUZZ
@given(data=st.data())
def test_fuzz_a_checkpoints_metadata_field_by_field(checkpoint_case, data):
    tensors, doc, _, path = checkpoint_case
    meta = data.draw(mutated_json(doc))
    save_file(tensors, str(path), metadata={"toyflow": json.dumps(meta, allow_nan=True)})
    read_checkpoint(path)


@pytest.mark.parametrize(("field", "value"), [("pos_scale", 10**30), ("pos_scale", 2**64)])
def test_a_checkpoint_whose_number_no_float_holds_is_refused(checkpoint_case, field, value):
    """Found by fuzzing: an integer the schema takes as a finite number but no float32 holds (building the network
    raised OverflowError, not one clear error)."""
    tensors, doc, _, path = checkpoint_case
    meta = copy.deepcopy(doc)
    meta["config"][field] = value
    save_file(tensors, str(path), metadata={"toyflow": json.dumps(meta)})
    assert read_checkpoint(path) is None


@FUZZ
@given(data=st.data())
def test_fuzz_a_checkpoint_byte_by_byte(checkpoint_case, data):
    _, _, raw, path = checkpoint_case
    header = 8 + struct.unpack("<Q", raw[:8])[0]  # safetensors: a length, the JSON header, then the tensors
    path.write_bytes(data.draw(mutated_bytes(raw, focus=header if data.draw(FLAG) else None)))
    read_checkpoint(path)


# ------------------------------------------------------------------------------------------------ clouds
@pytest.fixture(scope="module")
def clouds_case(tmp_path_factory):
    """A valid file of 2 float32 clouds of MIN_POINTS points, its bytes, and a file to write mutants to."""
    path = tmp_path_factory.mktemp("fuzz-clouds") / "clouds.npy"
    clouds = np.random.default_rng(0).normal(size=(2, MIN_POINTS, 2)).astype(np.float32)
    with open(path, "wb") as f:
        np.save(f, clouds)
    return clouds, path.read_bytes(), path


def read_clouds(path):
    """:func:`load_clouds`; checks what it accepted: float32 ``(n >= 1, >= MIN_POINTS, 2)``, numpy's own reading."""
    try:
        clouds = load_clouds(path)
    except CloudFileError as e:
        assert_clear(e, path)
        OUTCOMES["clouds", "refused"] += 1
        return None
    OUTCOMES["clouds", "read"] += 1
    assert clouds.dtype == np.float32 and clouds.ndim == 3 and clouds.shape[-1] == 2
    assert clouds.shape[0] >= 1 and clouds.shape[1] >= MIN_POINTS
    with np.errstate(over="ignore"):
        expected = np.load(path, allow_pickle=False).astype(np.float32)
    np.testing.assert_array_equal(clouds, expected)
    return clouds


def _npy(header: object, body: bytes) -> bytes:
    text = repr(header).encode("latin1", "replace")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + body


HEADER_VALUES = st.one_of(
    JSON,
    st.tuples(st.integers(-2, 3), st.integers(0, 64), st.integers(0, 3)),
    st.lists(st.integers(-1, 40), max_size=4).map(tuple),
    st.sampled_from(["<f4", "<f8", "|b1", "<i4", "|u1", "<c8", "|O", "<U3", "|V8", "<M8[s]", ">f4", "<f2", "x"]),
    st.booleans(),
)


@FUZZ
@given(data=st.data())
def test_fuzz_a_file_of_clouds_header_by_header(clouds_case, data):
    clouds, raw, path = clouds_case
    header = {"descr": "<f4", "fortran_order": False, "shape": clouds.shape}
    for _ in range(1 + data.draw(CHOICE) % 2):
        key = pick(data.draw, [*header, "extra"])
        if data.draw(CHOICE) % 5 == 0:
            header.pop(key, None)
        else:
            header[key] = data.draw(HEADER_VALUES)
    body = clouds.tobytes()
    body = body[: data.draw(CHOICE) % (len(body) + 1)] if data.draw(FLAG) else body
    path.write_bytes(_npy(header, body))
    read_clouds(path)


@pytest.mark.parametrize("minor", [1, 255])
def test_a_file_of_clouds_of_a_minor_format_version_is_refused(clouds_case, minor):
    """Found by fuzzing: numpy reads versions 1.0, 2.0 and 3.0 only; toyflow read 1.1 as 1.0."""
    _, raw, path = clouds_case
    path.write_bytes(raw[:7] + bytes([minor]) + raw[8:])
    with pytest.raises(CloudFileError, match=f"format version 1.{minor}, toyflow reads 1.0, 2.0 and 3.0"):
        load_clouds(path)


@FUZZ
@given(data=st.data())
def test_fuzz_a_file_of_clouds_byte_by_byte(clouds_case, data):
    _, raw, path = clouds_case
    path.write_bytes(data.draw(mutated_bytes(raw, focus=128 if data.draw(FLAG) else None)))
    read_clouds(path)


SHAPES = st.sampled_from([(1, MIN_POINTS, 2), (2, MIN_POINTS + 1, 2), (0, MIN_POINTS, 2), (1, MIN_POINTS - 1, 2)]) | (
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
)
ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.uint8, np.bool_, np.complex64]),
    shape=SHAPES,
) | SHAPES.map(lambda shape: np.full(shape, 0.5, dtype=object))  # pickled


@FUZZ
@given(array=ARRAYS, fortran=st.booleans())
def test_fuzz_a_file_of_clouds_array_by_array(clouds_case, array, fortran):
    _, _, path = clouds_case
    with open(path, "wb") as f:
        np.save(f, np.asfortranarray(array) if fortran else array, allow_pickle=True)
    read_clouds(path)
