"""A fault mid-way loses nothing: Ctrl-C (SIGINT) anywhere, the save included, leaves no partial file and leaves an
existing output file as it was; the command line exits with status 130 and one line, no traceback."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, make_flow
from test_cli import run_main

import toyflow.atomic
from toyflow.atomic import atomic_write
from toyflow.checkpoint import read_metadata, save_checkpoint
from toyflow.cloud_files import save_clouds
from toyflow.plotting import save_round_figure

OLD = b"the previous output, which must survive\n"
INTERRUPTED = "interrupted; no partial file was left behind"


def _existing(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(OLD)
    return path


# ------------------------------------------------------------------------------------------- in-process
WRITERS = {
    "checkpoint": lambda path: save_checkpoint(make_flow(TINY), path, steps=1),
    "clouds": lambda path: save_clouds(path, np.zeros((2, 40, 2))),
    "round picture": lambda path: save_round_figure(path, np.zeros((2, 40, 2))),
}


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("where", ["while writing", "at the rename"])
def test_an_interrupt_during_a_save_keeps_the_old_file(tmp_path, monkeypatch, writer, where):
    path = _existing(tmp_path, "out.bin")
    if where == "while writing":

        def chmod(tmp, mode):  # the temporary file is written by then: interrupt before it is renamed
            assert Path(tmp).stat().st_size > 0
            raise KeyboardInterrupt

        monkeypatch.setattr(toyflow.atomic.os, "chmod", chmod)
    else:

        def replace(src, dst):
            raise KeyboardInterrupt

        monkeypatch.setattr(toyflow.atomic.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        WRITERS[writer](path)
    assert path.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no temporary file left


def test_an_interrupt_inside_the_writer_removes_the_half_written_file(tmp_path):
    path = _existing(tmp_path, "out.bin")

    def write_half(tmp: Path) -> None:
        tmp.write_bytes(b"half a fi")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write_half)
    assert path.read_bytes() == OLD and [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    # and a write that completes replaces the file whole, with the usual permissions
    atomic_write(path, lambda tmp: tmp.write_bytes(b"new"))
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o644 == 0o644


def test_main_turns_an_interrupt_into_status_130_and_one_line(tmp_path, monkeypatch):
    import toyflow.training

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(toyflow.training, "train", interrupted)
    out = _existing(tmp_path, "a.safetensors")
    rc, stdout, stderr = run_main("train", "--steps", "5", "--quiet", "--out", str(out))
    assert rc == 130 and stdout == ""
    assert stderr.splitlines() == [f"toyflow train: {INTERRUPTED}"]
    assert out.read_bytes() == OLD


def _drop_a_ctrl_c() -> None:
    """Ctrl-C as it lands inside a weakref callback: the command line's handler raises in there, and Python prints that
    exception ("Exception ignored in ...") and drops it."""

    class Garbage:
        pass

    garbage = Garbage()
    ref = weakref.ref(garbage, lambda _: signal.getsignal(signal.SIGINT)(signal.SIGINT, None))
    del garbage  # the callback runs here
    assert ref() is None


@contextlib.contextmanager
def _python_handles_ctrl_c():
    """SIGINT handled as by a Python started from a terminal (a test runner's worker may ignore it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _a_ctrl_c_made_an_error() -> None:
    """A Ctrl-C that arrives inside a library's compiled code, which makes it an error of its own (as matplotlib's
    drawing code did: "Invalid bounding box")."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler raises in here
    except KeyboardInterrupt:
        raise ValueError("Invalid bounding box") from None


@pytest.mark.parametrize("ctrl_c", [_drop_a_ctrl_c, _a_ctrl_c_made_an_error], ids=["dropped", "made-an-error"])
def test_a_ctrl_c_python_dropped_or_a_library_turned_into_an_error_still_stops_the_rounds(
    tmp_path, monkeypatch, ctrl_c
):
    import toyflow.preference

    a = save_checkpoint(make_flow(TINY, seed=5), tmp_path / "a.safetensors", sampler={"method": "euler", "steps": 2})
    out = _existing(tmp_path, "b.safetensors")
    real, played = toyflow.preference.play_round, []

    def play_round(session, answer, proposal):
        played.append(proposal)
        if len(played) == 2:
            ctrl_c()
        return real(session, answer, proposal)

    monkeypatch.setattr(toyflow.preference, "play_round", play_round)
    hook = sys.unraisablehook
    with _python_handles_ctrl_c():
        rc, stdout, stderr = run_main(
            "prefer", str(a), "--out", str(out), "--rounds", "50", "--oracle", "--png-dir", str(tmp_path / "rounds")
        )
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the command line's handler is gone
    assert sys.unraisablehook is hook  # and its hook for dropped exceptions
    assert rc == 130 and stderr.splitlines() == [f"toyflow prefer: {INTERRUPTED}"]  # the dropped one not printed
    assert len(played) == 2 and "\nround 2: " in stdout and "round 3" not in stdout  # stopped before round 3
    assert out.read_bytes() == OLD  # model B was not saved


def test_an_error_without_a_signal_stays_the_error():
    from toyflow.interrupts import StopSignals

    stops = StopSignals()
    with _python_handles_ctrl_c(), pytest.raises(ValueError, match="Invalid bounding box"), stops.installed():
        raise ValueError("Invalid bounding box")
    assert stops.pending is None


def test_a_ctrl_c_python_dropped_still_stops_training(tmp_path, monkeypatch):
    import toyflow.training

    steps = []

    def train(callback, **kwargs):
        for step in range(1, 100):
            steps.append(step)
            if step == 3:
                _drop_a_ctrl_c()
            callback(step, 0.0)
        raise AssertionError("training went on")

    monkeypatch.setattr(toyflow.training, "train", train)
    out = _existing(tmp_path, "a.safetensors")
    with _python_handles_ctrl_c():
        rc, stdout, stderr = run_main("train", "--steps", "99", "--quiet", "--out", str(out))
    assert rc == 130 and stderr.splitlines() == [f"toyflow train: {INTERRUPTED}"]
    assert steps == [1, 2, 3] and out.read_bytes() == OLD


def test_sigterm_during_a_save_leaves_no_partial_file_and_status_143(tmp_path, monkeypatch):
    a = save_checkpoint(make_flow(TINY, seed=5), tmp_path / "a.safetensors", sampler={"method": "euler", "steps": 2})
    out = _existing(tmp_path, "clouds.npy")

    def chmod(tmp, mode):  # the temporary file is written by then: SIGTERM arrives before it is renamed
        assert Path(tmp).stat().st_size > 0
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises in here

    monkeypatch.setattr(toyflow.atomic.os, "chmod", chmod)
    before = signal.getsignal(signal.SIGTERM)
    rc, stdout, stderr = run_main("sample", str(a), "--n", "2", "--seed", "0", "--out", str(out))
    assert rc == 143 and stdout == ""
    assert stderr.splitlines() == ["toyflow sample: terminated; no partial file was left behind"]
    assert out.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "clouds.npy"]  # no temporary file
    assert signal.getsignal(signal.SIGTERM) is before  # the command line's handler is gone with it


# ---------------------------------------------------------------------------------- real processes
def _start(*args: str, cwd: Path) -> subprocess.Popen:
    """``python -m toyflow ARGS`` with the default SIGINT handling (a parent that ignores SIGINT, as a shell's
    background job does, would otherwise pass that on and Ctrl-C would never arrive)."""
    return subprocess.Popen(
        [sys.executable, "-m", "toyflow", *args],
        cwd=cwd,
        env=dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _interrupt_when(proc: subprocess.Popen, stream: str, pattern: str, timeout: float = 180) -> tuple[str, str]:
    """Wait until ``pattern`` shows in the process's ``stream`` ("stdout" or "stderr"), send SIGINT, and return its
    whole (stdout, stderr) once it has exited (killed, and the test failed, if either takes too long)."""
    watched = getattr(proc, stream)
    os.set_blocking(watched.fileno(), False)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while not re.search(pattern.encode(), seen):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never showed (exit {proc.returncode}): {seen[-2000:]!r}")
            seen += watched.read() or b""
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        os.set_blocking(watched.fileno(), True)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out, err = (seen + out, err) if stream == "stdout" else (out, seen + err)
    return out.decode(), err.decode()


def _assert_interrupted(proc: subprocess.Popen, command: str, err: str) -> None:
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert err.rstrip().splitlines()[-1] == f"toyflow {command}: {INTERRUPTED}"
    # the one line stands alone: a progress bar before it is closed with a newline
    assert err.count(INTERRUPTED) == 1 and f"\ntoyflow {command}: " in "\n" + err


@pytest.mark.slow
def test_ctrl_c_during_training(tmp_path):
    out = _existing(tmp_path, "a.safetensors")
    proc = _start("train", "--steps", "100000", "--eval-n", "0", "--out", str(out), cwd=tmp_path)
    # tqdm's bar on stderr: wait until a few steps are done, so the interrupt lands in the middle of training
    _, err = _interrupt_when(proc, "stderr", r"\b([3-9]|\d\d+)/100000\b")
    _assert_interrupted(proc, "train", err)
    assert out.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]


@pytest.mark.slow
def test_ctrl_c_during_prefer(tmp_path):
    a = save_checkpoint(make_flow(TINY, seed=5), tmp_path / "a.safetensors", sampler={"method": "euler", "steps": 2})
    out = _existing(tmp_path, "b.safetensors")
    pictures = tmp_path / "rounds"
    args = ["prefer", str(a), "--out", str(out), "--rounds", "1000", "--oracle", "--png-dir", str(pictures)]
    proc = _start(*args, cwd=tmp_path)
    out_text, err = _interrupt_when(proc, "stdout", r"\nround 3: ")
    _assert_interrupted(proc, "prefer", err)
    assert "round 3" in out_text
    assert out.read_bytes() == OLD  # model B was not saved: the existing file is as it was
    assert read_metadata(a)["sampler"]["steps"] == 2  # model A untouched
    # every round picture there is whole (a PNG ends with its IEND chunk), and no temporary file is left anywhere
    names = sorted(p.name for p in pictures.iterdir())
    assert names and all(name.endswith(".png") for name in names), names
    for picture in pictures.iterdir():
        assert picture.read_bytes()[-8:-4] == b"IEND", picture
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "b.safetensors", "rounds"]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_a_written_file_gets_the_permissions_the_umask_leaves(tmp_path, mask):
    import stat

    from toyflow.atomic import _umask

    old = os.umask(mask)
    try:
        assert _umask() == mask
        path = atomic_write(tmp_path / "out.bin", lambda tmp: tmp.write_bytes(b"new"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    finally:
        os.umask(old)
