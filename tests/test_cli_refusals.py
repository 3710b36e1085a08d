"""Every bad argument is refused at the door: one argparse-style line naming it, exit status 2, no traceback,
nothing written; ``evaluate`` refuses clouds it cannot read and says how many are non-finite."""

from __future__ import annotations

import copy
import errno
import json
import os
import time

import numpy as np
import pytest
import torch
from conftest import FAST, TINY, make_flow, run_toyflow
from test_cli import run_main

from toyflow.checkpoint import save_checkpoint
from toyflow.data import MIN_POINTS, sample_mixture
from toyflow.reference import ReferenceConfig, ReferenceFlow
from toyflow.validation import count_problem, positive_problem, probability_problem, seed_problem


@pytest.fixture(scope="module")
def model_a(tmp_path_factory):
    """A tiny random model A with a 2-step sampler (fast to load and sample)."""
    path = tmp_path_factory.mktemp("refusals") / "a.safetensors"
    return save_checkpoint(make_flow(TINY, seed=3), path, sampler={"method": "euler", "steps": 2})


CKPT = "{ckpt}"  # replaced by the model_a fixture's path
OUT = "{out}"  # replaced by a path in an empty folder, which must stay empty

# (command line, the argument named in the error, what is wrong with it)
REFUSALS = [
    (["sample", CKPT, "--n", "-3", "--seed", "0"], "--n", count_problem(-3)),
    (["sample", CKPT, "--n", "0", "--seed", "0"], "--n", count_problem(0)),
    (["sample", CKPT, "--n", "2.5", "--seed", "0"], "--n", "must be an integer, got '2.5'"),
    (["sample", CKPT, "--n", "many", "--seed", "0"], "--n", "must be an integer, got 'many'"),
    (["sample", CKPT, "--n", "2", "--seed", "0", "--num-points", "0"], "--num-points", count_problem(0, MIN_POINTS)),
    (["sample", CKPT, "--n", "2", "--seed", "0", "--num-points", "1"], "--num-points", count_problem(1, MIN_POINTS)),
    (["sample", CKPT, "--n", "2", "--seed", "0", "--num-points", "31"], "--num-points", count_problem(31, MIN_POINTS)),
    (["sample", CKPT, "--n", "2", "--seed", "0", "--steps", "0"], "--steps", count_problem(0)),
    (["sample", CKPT, "--n", "2", "--seed", "-1"], "--seed", seed_problem(-1)),
    (["sample", CKPT, "--n", "2", "--seed", str(2**63)], "--seed", seed_problem(2**63)),
    (["sample", CKPT, "--n", "2", "--seed", "0", "--device", "banana"], "--device", "not a torch device: 'banana'"),
    (["train", "--steps", "-5"], "--steps", count_problem(-5)),
    (["train", "--steps", "0"], "--steps", count_problem(0)),
    (["train", "--seconds", "0"], "--seconds", positive_problem(0)),
    (["train", "--seconds", "-2"], "--seconds", positive_problem(-2)),
    (["train", "--seconds", "inf"], "--seconds", positive_problem(float("inf"))),
    (["train", "--seconds", "nan"], "--seconds", positive_problem(float("nan"))),
    (["train", "--s-fraction", "1.5"], "--s-fraction", probability_problem(1.5)),
    (["train", "--s-fraction", "-0.1"], "--s-fraction", "must lie in [0, 1], got -0.1"),
    (["train", "--eval-n", "-1"], "--eval-n", count_problem(-1, 0)),
    (["train", "--seed", "-7"], "--seed", seed_problem(-7)),
    (["evaluate", CKPT, "--n", "0"], "--n", count_problem(0)),
    (["evaluate", CKPT, "--seed", "x"], "--seed", "must be an integer from 0 to 2**63 - 1, got 'x'"),
    (["prefer", CKPT, "--rounds", "0"], "--rounds", count_problem(0)),
    (["prefer", CKPT, "--rounds", "-1"], "--rounds", count_problem(-1)),
    (["prefer", CKPT, "--oracle", "--flip-prob", "2"], "--flip-prob", probability_problem(2)),
    (["prefer", CKPT, "--oracle", "--flip-prob", "nan"], "--flip-prob", probability_problem(float("nan"))),
    (["prefer", CKPT, "--seed", "-1"], "--seed", seed_problem(-1)),
    (["prefer", CKPT, "--method", "magic"], "--method", "invalid choice: 'magic'"),
]


def _fill(args, ckpt, out) -> list[str]:
    args = [ckpt if a == CKPT else a for a in args]
    if args[0] in ("sample", "train", "prefer"):
        args += ["--out", str(out)]
    return args


@pytest.mark.parametrize(("args", "option", "problem"), REFUSALS, ids=[" ".join(r[0][:1] + r[0][2:]) for r in REFUSALS])
def test_bad_argument_is_refused_at_the_door(model_a, tmp_path, args, option, problem):
    out = tmp_path / "out" / "result.safetensors"
    rc, stdout, stderr = run_main(*_fill(args, str(model_a), out))
    assert rc == 2
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"toyflow {args[0]}: error: argument {option}: {problem}"), lines[0]
    assert stdout == ""
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--steps", "-5", "--out", "a.safetensors"],
        ["sample", CKPT, "--n", "-3", "--seed", "0", "--out", "x.npy"],
    ],
    ids=["train --steps -5", "sample --n -3"],
)
def test_the_issues_examples_in_a_fresh_process(model_a, tmp_path, args):
    """What the issue found (a training that never ends, a traceback) now stops at once, with one line."""
    proc = run_toyflow(*[str(model_a) if a == CKPT else a for a in args], cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"toyflow {args[0]}: error: argument ")
    assert list(tmp_path.iterdir()) == []


def test_the_reference_network_draws_only_its_number_of_points(tmp_path):
    ref = save_checkpoint(ReferenceFlow(ReferenceConfig(hidden=8, layers=1)), tmp_path / "ref.safetensors")
    out = tmp_path / "x.npy"
    rc, _, err = run_main("sample", str(ref), "--n", "1", "--seed", "0", "--num-points", "100", "--out", str(out))
    assert rc == 2 and len(err.splitlines()) == 1
    assert err.startswith("toyflow sample: error: argument --num-points: the reference network") and "400" in err
    assert not out.exists()


# --------------------------------------------------------------------------------- evaluate's clouds
@pytest.fixture(scope="module")
def real() -> np.ndarray:
    return sample_mixture(10, 0.5, seed=4)[0].numpy()


def test_evaluate_counts_non_finite_clouds_and_fails(real, tmp_path):
    clouds = real.copy()
    clouds[2, 5, 0] = np.nan
    clouds[7] = np.inf
    np.save(tmp_path / "broken.npy", clouds)
    rc, out, err = run_main("evaluate", str(tmp_path / "broken.npy"))
    assert rc == 1 and out == ""
    assert err.splitlines() == [
        f"toyflow evaluate: {tmp_path / 'broken.npy'}: 2 of 10 clouds have non-finite values "
        "(801 of 8000 values are NaN or infinite); the judge cannot read them"
    ]


def test_evaluate_of_finite_float64_and_int_clouds_still_works(real, tmp_path):
    np.save(tmp_path / "f64.npy", real.astype(np.float64))
    np.save(tmp_path / "int.npy", np.round(real * 100).astype(np.int32))
    for name in ("f64.npy", "int.npy"):
        rc, out, err = run_main("evaluate", str(tmp_path / name), "--json")
        assert rc == 0 and err == "" and '"n": 10' in out


def test_evaluate_of_values_too_large_for_float32_counts_them_as_infinite(real, tmp_path):
    clouds = real.astype(np.float64)
    clouds[0, 0, 0] = 1e300
    np.save(tmp_path / "huge.npy", clouds)
    rc, _, err = run_main("evaluate", str(tmp_path / "huge.npy"))
    assert rc == 1 and "1 of 10 clouds have non-finite values (1 of 8000 values" in err


def _npz(path) -> None:
    with open(path, "wb") as f:  # np.savez on a path would append ".npz" to it
        np.savez(f, a=np.zeros(3))


def _pickled(path) -> None:
    clouds = np.empty((2, 400, 2), dtype=object)
    clouds[...] = 0.5
    np.save(path, clouds, allow_pickle=True)


def _truncated(path) -> None:
    np.save(path, np.zeros((2, 400, 2), np.float32))
    path.write_bytes(path.read_bytes()[:-100])


BAD_FILES = {
    "bool": (
        lambda p: np.save(p, np.zeros((2, 400, 2), bool)),
        "the values must be real numbers (float or int), got dtype bool",
    ),
    "strings": (
        lambda p: np.save(p, np.array([["a", "b"]])),
        "the values must be real numbers (float or int), got dtype <U1",
    ),
    "complex": (lambda p: np.save(p, np.zeros((2, 400, 2), complex)), "got dtype complex128"),
    "pickled": (_pickled, "the values must be real numbers (float or int), got dtype object"),
    "2-D": (lambda p: np.save(p, np.zeros((3, 4), np.float32)), "the shape must be (n, num_points, 2), got (3, 4)"),
    "3-D points": (lambda p: np.save(p, np.zeros((2, 400, 3), np.float32)), "the shape must be (n, num_points, 2)"),
    "no clouds": (lambda p: np.save(p, np.zeros((0, 400, 2), np.float32)), "the shape holds no clouds"),
    "too few points": (
        lambda p: np.save(p, np.zeros((2, 8, 2), np.float32)),
        f"the shape gives clouds of 8 points; the judge needs at least {MIN_POINTS}",
    ),
    "truncated": (_truncated, "truncated: 6300 bytes of values where its header announces 6400 ((2, 400, 2))"),
    "npz archive": (_npz, "an .npz archive"),
    "not an array": (lambda p: p.write_bytes(b"not an array"), "not a readable .npy file"),
    "empty": (lambda p: p.write_bytes(b""), "not a readable .npy file"),
    "a folder": (lambda p: p.mkdir(), "not a regular file"),
    "missing": (lambda p: None, "not a readable .npy file"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_evaluate_refuses_a_file_it_cannot_read(tmp_path, case):
    make, problem = BAD_FILES[case]
    path = tmp_path / "clouds.npy"
    make(path)
    rc, out, err = run_main("evaluate", str(path))
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"toyflow evaluate: {path}: ") and problem in err, err


def test_evaluate_of_a_checkpoint_that_draws_nan(tmp_path):
    model = make_flow(TINY, seed=1)
    with torch.no_grad():
        model.out.bias.fill_(1e38)  # finite weights (a file with others is refused), velocities past any float32
    path = save_checkpoint(model, tmp_path / "nan.safetensors", sampler={"method": "euler", "steps": 2})
    rc, out, err = run_main("evaluate", str(path), "--n", "3")
    assert rc == 1 and out == ""
    assert err.strip() == (
        f"toyflow evaluate: the samples of {path}: 3 of 3 clouds have non-finite values "
        "(2400 of 2400 values are NaN or infinite); the judge cannot read them"
    )
    out_file = tmp_path / "x.npy"
    rc, out, err = run_main("sample", str(path), "--n", "3", "--seed", "0", "--out", str(out_file))
    assert rc == 1 and out == "" and not out_file.exists()  # nothing written: no file of NaN clouds
    assert err.strip() == (
        f"toyflow sample: the samples of {path}: 3 of 3 clouds have non-finite values "
        "(2400 of 2400 values are NaN or infinite); the judge cannot read them"
    )


@pytest.mark.parametrize("command", ["sample", "prefer"])
def test_an_output_over_the_input_checkpoint_is_refused(tmp_path, command):
    path = save_checkpoint(make_flow(TINY, seed=1), tmp_path / "a.safetensors", sampler={"method": "euler", "steps": 1})
    before = path.read_bytes()
    extra = ["--n", "1", "--seed", "0"] if command == "sample" else ["--oracle", "--rounds", "1"]
    rc, out, err = run_main(command, str(path), *extra, "--out", str(path))
    assert rc == 2 and out == "" and path.read_bytes() == before
    assert err == (
        f"toyflow {command}: error: argument --out: names the input checkpoint, {path}; write to a file of its own\n"
    )


# ---------------------------------------------------------------------------------- where files are written
def _one_line(code, err, status, command, problem) -> None:
    assert code == status, err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"toyflow {command}: ") and problem in err, err
    assert "Traceback" not in err


def test_an_output_that_cannot_be_written_is_one_line_before_any_work_and_writes_nothing(model_a, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    sample = ["sample", str(model_a), "--n", "2", "--seed", "0", "--out"]
    train = ["train", "--steps", "1", "--eval-n", "0", "--quiet", "--out"]
    prefer = ["prefer", str(model_a), "--oracle", "--rounds", "1", "--out"]
    b = str(tmp_path / "b.safetensors")
    cases = [
        ([*sample, str(folder)], f"{folder} is a folder; name a file to write"),
        (
            [*sample, str(blocker / "x.npy")],
            f"cannot make the folder {blocker} for {blocker / 'x.npy'}: {blocker} is a file",
        ),
        ([*sample, "/proc/toyflow/x.npy"], "cannot write /proc/toyflow/x.npy: /proc cannot be written into"),
        ([*sample, "/dev/null"], "/dev/null is not a regular file"),
        ([*train, str(folder)], f"{folder} is a folder; name a file to write"),
        ([*train, "/proc/toyflow/a.safetensors"], "cannot write /proc/toyflow/a.safetensors: /proc cannot be written"),
        ([*prefer, str(folder)], f"{folder} is a folder"),
        ([*prefer, b, "--log", str(folder)], f"{folder} is a folder"),  # B is not written either
        ([*prefer, b, "--log", str(blocker / "log.json")], f"{blocker} is a file, not a folder"),
        (
            [*prefer, b, "--png-dir", str(blocker)],
            f"cannot make the folder {blocker} for {blocker}: {blocker} is a file",
        ),
        ([*prefer, b, "--log", b], "argument --log: names the file of --out"),
    ]
    for args, problem in cases:
        start = time.perf_counter()
        code, out, err = run_main(*args)
        _one_line(code, err, 2, args[0], problem)
        assert out == "" and time.perf_counter() - start < 5, "refused before any work"
    assert list(folder.iterdir()) == [] and blocker.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "out"]  # no temporary file left beside them


def test_a_full_disk_is_refused_before_any_work(model_a, tmp_path, monkeypatch):
    import shutil

    import toyflow.atomic

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(toyflow.atomic.shutil, "disk_usage", lambda p: usage._replace(free=1000))
    out = tmp_path / "x.npy"
    code, _, err = run_main("sample", str(model_a), "--n", "2", "--seed", "0", "--out", str(out))
    _one_line(code, err, 2, "sample", f"cannot write {out}: the disk holding {tmp_path} is full (1000 bytes free")
    assert list(tmp_path.iterdir()) == []


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_disk_that_fills_up_on_the_way_is_one_line_exit_1_and_leaves_the_old_file(model_a, tmp_path, monkeypatch):
    import toyflow.checkpoint
    import toyflow.cloud_files

    old = tmp_path / "clouds.npy"
    old.write_bytes(b"the old clouds")
    monkeypatch.setattr(toyflow.cloud_files.np, "save", _full_disk)
    code, _, err = run_main("sample", str(model_a), "--n", "2", "--seed", "0", "--out", str(old))
    _one_line(code, err, 1, "sample", f"could not write {old}: No space left on device; nothing was written")
    assert old.read_bytes() == b"the old clouds"
    monkeypatch.setattr(toyflow.checkpoint, "save_file", _full_disk)
    new = tmp_path / "new" / "deeper" / "a.safetensors"
    code, _, err = run_main("train", "--steps", "1", "--eval-n", "0", "--quiet", "--out", str(new))
    _one_line(code, err, 1, "train", f"could not write {new}: No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clouds.npy"]  # no temporary file, no folder made for it


# ----------------------------------------------------------------------------------------- session logs
@pytest.fixture(scope="module")
def good_log(model_a, tmp_path_factory) -> dict:
    """A session log of one round with the simulated annotator, as toyflow writes it."""
    tmp = tmp_path_factory.mktemp("log")
    log = tmp / "log.json"
    code, _, err = run_main(
        "prefer", str(model_a), "--oracle", "--rounds", "1", "--out", str(tmp / "b.safetensors"), "--log", str(log)
    )
    assert code == 0, err
    return json.loads(log.read_text())


def _answer(d, **fields) -> None:
    d["events"].append(
        {
            "event": "answer",
            "proposal": 1,
            "ticks": [7],
            "probabilities": None,
            "round": 2,
            "updated": True,
            "b": d["events"][-1]["b"],
            **fields,
        }
    )


LOG_REFUSALS = {
    # the cases a new user first ran into
    "a tick out of range": (
        _answer,
        "event 2 (answer): 'ticks[0]' must be an index of proposal 1's 4 clouds (0 to 3), got 7",
    ),
    "an unknown method": (
        lambda d: d.update(method="evil"),
        "'method' must be one of 'dpo', 'reference', 'reward-fm', got 'evil'",
    ),
    "a missing field": (lambda d: d.pop("seed"), "'seed' is missing"),
    # and their kin
    "an unknown field": (lambda d: d.update(colour="blue"), "'colour' is not a field toyflow knows"),
    "an event's missing field": (lambda d: d["events"][0].pop("seed"), "event 0 (propose): 'seed' is missing"),
    "a seed out of range": (lambda d: d.update(seed=-1), "'seed' must be an integer from 0 to 2**63 - 1, got -1"),
    "a seed that is not an integer": (
        lambda d: d.update(seed=0.5),
        "'seed' must be an integer from 0 to 2**63 - 1, got 0.5",
    ),
    "a negative tick": (lambda d: _answer(d, ticks=[-1]), "event 2 (answer): 'ticks[0]' must be at least 0, got -1"),
    "a probability above 1": (
        lambda d: _answer(d, ticks=None, probabilities=[0.2, 1.5]),
        "event 2 (answer): 'probabilities[1]' must lie in [0, 1], got 1.5",
    ),
    "ticks and probabilities": (
        lambda d: _answer(d, ticks=[1], probabilities=[0.2]),
        "event 2 (answer): 'probabilities' must be null when there are ticks",
    ),
    "an unknown event": (
        lambda d: d["events"][0].update(event="evil"),
        "event 0: 'event' must be one of 'propose', 'answer'",
    ),
    "an answer before its proposal": (
        lambda d: d["events"].reverse(),
        "event 0 (answer): 'proposal' must be a proposal made before it",
    ),
    "an undo of nothing": (
        lambda d: d["events"].insert(0, {"event": "undo", "round": 1, "b": d["events"][-1]["b"]}),
        "event 0 (undo): takes back no answer: none is in effect before it",
    ),
    "a setting of the wrong type": (
        lambda d: d["settings"].update(lr="fast"),
        "'settings.lr' must be a finite number, got 'fast'",
    ),
    "an unknown setting": (lambda d: d["settings"].update(speed=2), "'settings.speed' is not a field toyflow knows"),
    "an unknown sampler": (
        lambda d: d["sampler"].update(method="rk4"),
        "'sampler.method' must be one of 'euler', 'heun'",
    ),
    # the order of the events, and the header's ranges
    "a proposal numbered out of order": (
        lambda d: d["events"][0].update(number=2),
        "event 0 (propose): 'number' must be 1 (proposals are numbered in order), got 2",
    ),
    "more probabilities than clouds": (
        lambda d: _answer(d, ticks=None, probabilities=[0.1] * 5),
        "event 2 (answer): 'probabilities' must hold at most 4 values (proposal 1 has 4 clouds), got 5",
    ),
    "probabilities that sum to 0": (
        lambda d: _answer(d, ticks=None, probabilities=[0.0] * 4),
        "event 2 (answer): 'probabilities' must have a positive sum",
    ),
    "a round numbered out of order": (
        lambda d: _answer(d, ticks=[1], round=5),
        "event 2 (answer): 'round' must be 2 (the answers in effect before it, plus one), got 5",
    ),
    "an undo of another round": (
        lambda d: (_answer(d, ticks=[1]), d["events"].append({"event": "undo", "round": 1, "b": d["events"][-1]["b"]})),
        "event 3 (undo): 'round' must be 2 (the last answer in effect), got 1",
    ),
    "a proposal of more than 1024 clouds": (
        lambda d: d["events"][0].update(n=2000),
        "event 0 (propose): 'n' must be at most 1024, got 2000",
    ),
    "sampler steps of 0": (lambda d: d["sampler"].update(steps=0), "'sampler.steps' must be at least 1, got 0"),
    "an s_fraction above 1": (lambda d: d.update(s_fraction=1.5), "'s_fraction' must lie in [0, 1], got 1.5"),
    "a lapse above 1": (lambda d: d["settings"].update(lapse=2.0), "'settings.lapse' must lie in [0, 1], got 2"),
    "a hand-off at time 0": (
        lambda d: d["settings"].update(handoff_time=0),
        "'settings.handoff_time' must lie in (0, 1], got 0",
    ),
    "another version": (lambda d: d.update(version=4), "'version' is 4; this toyflow reads session logs of version 10"),
    "not a session log": (
        lambda d: d.pop("format"),
        "'format' must be \"toyflow-session-log\": not a toyflow session log",
    ),
}


@pytest.mark.parametrize("case", list(LOG_REFUSALS))
def test_a_log_that_cannot_be_replayed_is_one_line_naming_the_event_and_field_and_writes_nothing(
    model_a, good_log, tmp_path, case
):
    change, problem = LOG_REFUSALS[case]
    data = copy.deepcopy(good_log)
    change(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out, log = tmp_path / "replayed.safetensors", tmp_path / "again.json"
    code, _, err = run_main("prefer", str(model_a), "--replay", str(bad), "--out", str(out), "--log", str(log))
    _one_line(code, err, 2, "prefer", f"toyflow prefer: {bad}: {problem}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


@pytest.mark.parametrize("cut", ["not JSON", "truncated"])
def test_a_log_that_is_not_json_is_one_line(model_a, good_log, tmp_path, cut):
    text = json.dumps(good_log)
    bad = tmp_path / "bad.json"
    bad.write_text("not JSON" if cut == "not JSON" else text[: len(text) // 2])
    code, _, err = run_main("prefer", str(model_a), "--replay", str(bad), "--out", str(tmp_path / "b.safetensors"))
    _one_line(code, err, 2, "prefer", f"{bad} is not JSON")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_the_good_log_replays(model_a, good_log, tmp_path):
    log = tmp_path / "log.json"
    log.write_text(json.dumps(good_log))
    code, out, err = run_main("prefer", str(model_a), "--replay", str(log), "--out", str(tmp_path / "b.safetensors"))
    assert code == 0 and "bit for bit" in out, err


def test_a_replay_whose_b_is_not_the_logged_one_is_status_1_and_one_line(model_a, good_log, tmp_path):
    data = copy.deepcopy(good_log)
    answer = next(e for e in data["events"] if e["event"] == "answer")
    answer["b"] = "0" * 64  # a checksum no model B has
    log, out = tmp_path / "log.json", tmp_path / "b.safetensors"
    log.write_text(json.dumps(data))
    code, stdout, err = run_main("prefer", str(model_a), "--replay", str(log), "--out", str(out))
    answered = data["events"].index(answer)
    _one_line(code, err, 1, "prefer", f"model B differs from the log from event {answered} on")
    assert out.exists()  # B is saved all the same, and the line says where it stops matching


def test_a_replayed_log_named_with_a_line_break_is_refused_on_one_line(model_a, tmp_path):
    bad = tmp_path / "bad\nlog.json"
    bad.write_text("not JSON")
    code, _, err = run_main("prefer", str(model_a), "--replay", str(bad), "--out", str(tmp_path / "b.safetensors"))
    _one_line(code, err, 2, "prefer", "bad\\nlog.json")


def test_the_original_s_network_is_no_model_a_of_a_session(tmp_path):
    from toyflow.preference import PreferenceSession
    from toyflow.reference import ReferenceConfig, ReferenceFlow

    network = ReferenceFlow(ReferenceConfig(hidden=16, layers=1))
    with pytest.raises(ValueError, match="^model A is the original's network"):
        PreferenceSession(network)
    path = save_checkpoint(network, tmp_path / "ref.safetensors")
    session = PreferenceSession(make_flow(TINY, seed=1), settings=FAST, sampler_steps=2)
    session.propose(4)
    log = session.log.write(tmp_path / "log.json")  # a log that reads well, for another model A
    for replay in ([], ["--replay", str(log)]):
        code, out, err = run_main("prefer", str(path), "--out", str(tmp_path / "b.safetensors"), *replay)
        assert code == 2 and out == "" and not (tmp_path / "b.safetensors").exists()
        assert err == (
            f"toyflow prefer: {path}: the original's network (toyflow train --reference) cannot be model A of a "
            "session\n"
        ), err


def test_outputs_are_compared_as_the_system_resolves_them(model_a, tmp_path):
    (tmp_path / "sub").mkdir()
    a = tmp_path / "a.safetensors"
    a.write_bytes(model_a.read_bytes())
    before = a.read_bytes()
    spelled = str(tmp_path / "sub" / ".." / "a.safetensors")
    for command, extra in (("sample", ["--n", "1", "--seed", "0"]), ("prefer", ["--oracle", "--rounds", "1"])):
        code, out, err = run_main(command, str(a), *extra, "--out", spelled)
        _one_line(code, err, 2, command, "argument --out: names the input checkpoint")
    log = tmp_path / "log.json"
    log.write_text("{}")
    code, _, err = run_main("prefer", str(a), "--replay", str(log), "--out", str(tmp_path / "sub" / ".." / "log.json"))
    _one_line(code, err, 2, "prefer", "argument --out: names the log replayed")
    b = str(tmp_path / "b.safetensors")
    code, _, err = run_main(
        "prefer", str(a), "--oracle", "--out", b, "--log", str(tmp_path / "sub" / ".." / "b.safetensors")
    )
    _one_line(code, err, 2, "prefer", "argument --log: names the file of --out")
    assert (
        a.read_bytes() == before
        and log.read_text() == "{}"
        and sorted(p.name for p in tmp_path.iterdir())
        == [
            "a.safetensors",
            "log.json",
            "sub",
        ]
    )


@pytest.mark.parametrize(
    ("outputs", "flag"),
    [
        (["--out", "x/b.safetensors", "--png-dir", "x/b.safetensors"], "--png-dir"),
        (["--out", "y/log.json/b.safetensors", "--log", "y/log.json"], "--out"),
        (["--out", "z/b.safetensors", "--log", "z/log.json", "--png-dir", "z/log.json"], "--png-dir"),
    ],
    ids=["pictures in the model's file", "the model in the log's file", "pictures in the log's file"],
)
def test_one_output_inside_another_is_refused_before_any_work(model_a, tmp_path, monkeypatch, outputs, flag):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main("prefer", str(model_a), "--oracle", "--rounds", "1", *outputs)
    _one_line(code, err, 2, "prefer", f"argument {flag}: ")
    assert "would be inside (or be) the file of" in err and list(tmp_path.iterdir()) == []


def test_unusable_paths_and_devices_are_one_line_before_any_work(model_a, tmp_path):
    long_name = "y" * 250 + ".npy"
    code, _, err = run_main("sample", str(model_a), "--n", "1", "--seed", "0", "--out", str(tmp_path / long_name))
    _one_line(code, err, 2, "sample", "its name is too long")
    code, _, err = run_main("sample", str(model_a), "--n", "1", "--seed", "0", "--out", str(tmp_path / ("x" * 300)))
    _one_line(code, err, 2, "sample", "its name is too long")
    code, _, err = run_main("sample", str(model_a), "--n", "1", "--seed", "0", "--out", str(tmp_path) + "/x.npy/")
    assert code == 2 and "names a folder (it ends with a separator)" in err
    code, _, err = run_main("sample", str(model_a), "--n", "1", "--seed", "0", "--out", "x.npy", "--device", "meta")
    assert code == 2 and "device 'meta' computes nothing" in err
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    code, _, err = run_main("evaluate", str(fifo))  # reading a pipe would wait for ever
    _one_line(code, err, 2, "evaluate", "not a regular file")
    code, _, err = run_main("prefer", str(model_a), "--replay", str(fifo), "--out", str(tmp_path / "b.safetensors"))
    _one_line(code, err, 2, "prefer", "not a regular file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.npy"]


def test_training_takes_every_seed_its_argument_takes(tmp_path):
    out = tmp_path / "a.safetensors"
    code, _, err = run_main(
        "train", "--steps", "1", "--eval-n", "0", "--seed", str(2**63 - 1), "--quiet", "--out", str(out)
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("command", "extra", "says"),
    [
        (
            "sample",
            ["--n", "100001", "--seed", "0", "--out", "x.npy"],
            "argument --n: must be at most 100000, got 100001",
        ),
        ("sample", ["--n", "1", "--seed", "0", "--num-points", str(10**9), "--out", "x.npy"], "must be at most 100000"),
        ("sample", ["--n", "1", "--seed", "0", "--steps", str(10**9), "--out", "x.npy"], "must be at most 100000"),
        ("sample", ["--n", "100000", "--seed", "0", "--num-points", "1000", "--out", "x.npy"], "points at once"),
        # the counts before the output, whose size (and the room it needs on its disk) follows from them
        ("sample", ["--n", "100000", "--seed", "0", "--num-points", "1000", "--out", "/proc/x.npy"], "points at once"),
        ("evaluate", ["--n", str(10**12)], "argument --n: must be at most 100000"),
        ("prefer", ["--oracle", "--rounds", str(10**9), "--out", "b.safetensors"], "must be at most 10000"),
    ],
    ids=["clouds", "points", "sampler steps", "clouds times points", "counts before output", "clouds judged", "rounds"],
)
def test_counts_past_any_use_are_refused_before_any_work(model_a, tmp_path, monkeypatch, command, extra, says):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(command, str(model_a), *extra)
    assert code == 2 and out == "" and says in err and list(tmp_path.iterdir()) == []


def test_training_steps_past_any_use_are_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main("train", "--steps", "10000001", "--out", "a.safetensors")
    assert code == 2 and out == "" and "argument --steps: must be at most 10000000, got 10000001" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_an_output_that_cannot_be_printed_is_one_line_not_a_traceback(tmp_path):
    import subprocess
    import sys

    clouds, _ = sample_mixture(4, 0.5, seed=0)
    np.save(tmp_path / "good.npy", clouds.numpy())
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "toyflow", "evaluate", str(tmp_path / "good.npy"), "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "toyflow evaluate: cannot write to the standard output (No space left on device)"


def test_a_file_name_with_a_line_break_still_gives_one_line(tmp_path):
    odd = tmp_path / "a\nb.npy"
    code, out, err = run_main("evaluate", str(odd))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "a\\nb.npy" in err
