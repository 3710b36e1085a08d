"""The command line, ``python -m toyflow``: train, sample, evaluate, prefer.

The fresh-process runs (``run_toyflow``) check the real entry point; the others call
:func:`toyflow.cli.main` in-process, which is faster (no import, judge calibrated once).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, run_toyflow

from toyflow.checkpoint import load_checkpoint, read_metadata
from toyflow.cli import main
from toyflow.evaluation import evaluate_model
from toyflow.judge import judge


def run_main(*args: str) -> tuple[int, str, str]:
    """``toyflow.cli.main(args)`` in this process: ``(exit status, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as e:  # argparse errors and explicit SystemExit("message")
            rc = e.code if isinstance(e.code, int) else 1
            if isinstance(e.code, str):
                err.write(e.code + "\n")
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A model A trained for 3 steps with the default recipe (a few seconds) by ``toyflow train``."""
    path = tmp_path_factory.mktemp("cli") / "a.safetensors"
    rc, out, err = run_main("train", "--steps", "3", "--eval-n", "8", "--quiet", "--out", str(path))
    assert rc == 0, err
    assert "trained 3 steps" in out and "S-fraction" in out
    return path


def imported(proc: subprocess.CompletedProcess) -> set[str]:
    """The modules a process run with ``PYTHONPROFILEIMPORTTIME=1`` imported (Python writes a line each to stderr)."""
    lines = [line.split("|") for line in proc.stderr.splitlines() if line.startswith("import time:")]
    return {parts[-1].strip() for parts in lines if len(parts) == 3}


def of_scipy(modules: set[str]) -> list[str]:
    """The modules of scipy among ``modules``, sorted."""
    return sorted(m for m in modules if m.split(".")[0] == "scipy")


def test_help_lists_subcommands():
    proc = run_toyflow("--help", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0
    for command in ("train", "sample", "evaluate", "prefer"):
        assert command in proc.stdout
    # scipy waits until a cloud is paired (or judged with a point far outside the data's box): --help (and sampling,
    # below) start a third of a second sooner
    modules = imported(proc)
    assert {"torch", "toyflow.judge", "toyflow.coupling"} <= modules
    assert not of_scipy(modules), of_scipy(modules)[:5]


def test_no_subcommand_is_an_error():
    rc, _, err = run_main()
    assert rc != 0 and "COMMAND" in err


@pytest.mark.slow
def test_train_writes_a_checkpoint_with_metadata(checkpoint):
    meta = read_metadata(checkpoint)
    assert meta["steps"] == 3
    assert meta["mixture"] == {"s_fraction": 0.2}
    assert meta["recipe"]["s_fraction"] == 0.2
    assert meta["evaluation"]["n"] == 8
    assert set(meta["sampler"]) == {"method", "steps", "precision"}
    assert meta["config"]["arch"] == "cloudflow"


@pytest.mark.slow
def test_sample_is_reproducible(checkpoint, tmp_path):
    args = ["sample", str(checkpoint), "--n", "5", "--seed", "0", "--steps", "2"]
    rc, out, err = run_main(*args, "--out", str(tmp_path / "x.npy"))
    assert rc == 0, err
    x = np.load(tmp_path / "x.npy")
    assert x.dtype == np.float32 and x.shape == (5, 400, 2)
    assert np.isfinite(x).all()
    # the same seed in a fresh process gives a bit-identical file; another seed does not
    proc = run_toyflow(*args, "--out", str(tmp_path / "y.npy"), env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "x.npy").read_bytes() == (tmp_path / "y.npy").read_bytes()
    modules = imported(proc)  # sampling reads no cloud and pairs none: no scipy
    assert "toyflow.solver" in modules and not of_scipy(modules)
    rc, _, _ = run_main(*args[:-4], "--seed", "1", "--steps", "2", "--out", str(tmp_path / "z.npy"))
    assert rc == 0 and not np.array_equal(np.load(tmp_path / "z.npy"), x)


@pytest.mark.slow
def test_sample_other_sizes(checkpoint, tmp_path):
    out = tmp_path / "deep" / "dir" / "p.npy"
    rc, _, err = run_main(
        "sample", str(checkpoint), "--n", "5", "--seed", "0", "--steps", "2", "--num-points", "100", "--out", str(out)
    )
    assert rc == 0, err
    assert np.load(out).shape == (5, 100, 2)
    rc, _, err = run_main("sample", str(checkpoint), "--n", "2", "--seed", "0", "--method", "heun", "--out", str(out))
    assert rc == 0, err
    assert np.load(out).shape == (2, 400, 2)


def test_evaluate_npy(tmp_path):
    from toyflow.data import sample_mixture

    clouds, _ = sample_mixture(10, 0.5, seed=4)
    np.save(tmp_path / "real.npy", clouds.numpy())
    rc, out, err = run_main("evaluate", str(tmp_path / "real.npy"))
    assert rc == 0, err
    lines = out.splitlines()
    assert any("S-fraction" in line for line in lines)
    assert any(line.startswith("valid") for line in lines)
    assert any(line.startswith("clean S curves") for line in lines)
    rc, out, _ = run_main("evaluate", str(tmp_path / "real.npy"), "--json")
    summary = json.loads(out)
    assert summary == pytest.approx(judge(clouds).summary(), nan_ok=True)  # the judge's own figures, all of them


@pytest.mark.slow
def test_evaluate_checkpoint(checkpoint):
    rc, out, err = run_main("evaluate", str(checkpoint), "--n", "4", "--json")
    assert rc == 0, err
    model, meta = load_checkpoint(checkpoint, device="cpu")
    expected = evaluate_model(model, n=4, meta=meta)  # the judge's figures of A's first 4 held-out clouds
    assert json.loads(out) == pytest.approx(expected, nan_ok=True)


def test_evaluate_bad_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 64)
    proc = run_toyflow("evaluate", str(bad))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(bad) in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_sample_missing_checkpoint(tmp_path):
    missing = tmp_path / "missing.safetensors"
    rc, out, err = run_main("sample", str(missing), "--n", "1", "--seed", "0", "--out", str(tmp_path / "x.npy"))
    assert rc != 0 and str(missing) in err and "no such file" in err
    assert not (tmp_path / "x.npy").exists()


def test_train_reference_uses_the_reference_noise_and_loss(tmp_path, monkeypatch):
    import toyflow.training
    from toyflow.reference import reference_loss

    seen = {}

    class Stop(Exception):
        pass

    def fake_train(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(toyflow.training, "train", fake_train)
    with pytest.raises(Stop):
        main(["train", "--reference", "--steps", "1", "--quiet", "--out", str(tmp_path / "r.safetensors")])
    assert seen["recipe"].config.arch == "reference"
    assert seen["hooks"].loss_fn is reference_loss
    z = seen["hooks"].noise_fn(torch.zeros(2, 400, 2), torch.Generator().manual_seed(0))
    assert z.shape == (2, 400, 2) and z.min() == -1 and z.max() == 1


def test_prefer_fails_cleanly(tmp_path):
    rc, _, err = run_main("prefer", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "b.safetensors"))
    assert rc == 2 and "missing.safetensors" in err and "no such file" in err
    assert not (tmp_path / "b.safetensors").exists()


@pytest.fixture(scope="module")
def small_a(tmp_path_factory):
    """A small, untrained-but-random model A (fast), saved as a checkpoint with a 4-step sampler."""
    from conftest import TINY, make_flow

    from toyflow.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("prefer") / "a.safetensors"
    return save_checkpoint(make_flow(TINY, seed=5), path, sampler={"method": "euler", "steps": 4})


@pytest.mark.slow
def test_prefer_in_the_terminal_reads_indices_probabilities_and_enter(small_a, tmp_path):
    out_path = tmp_path / "b.safetensors"
    answers = "0 2\nx y\n\np 0.1 0.9\n"  # ticks; garbage (asked again); Enter (skip); probabilities
    proc = subprocess.run(
        [sys.executable, "-m", "toyflow", "prefer", str(small_a), "--out", str(out_path), "--rounds", "3"],
        input=answers,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "try again" in proc.stdout
    assert "2 labelled rounds of 3" in proc.stdout
    assert (tmp_path / "round1_proposals.png").exists() and (tmp_path / "round1_model_b.png").exists()
    assert not (tmp_path / "round2_model_b.png").exists()  # the skipped round drew no B
    meta = read_metadata(out_path)
    labels = [r["labels"] for r in meta["preference"]["rounds"]]
    assert labels == [[0.5, 0.0, 0.5, 0.0], None, [0.1, 0.9, 0.0, 0.0]]


@pytest.mark.slow
def test_prefer_with_the_oracle_saves_model_b(small_a, tmp_path):
    out_path = tmp_path / "b.safetensors"
    rc, out, err = run_main(
        "prefer", str(small_a), "--out", str(out_path), "--rounds", "2", "--oracle", "--method", "reference"
    )
    assert rc == 0, err
    assert out.count("the simulated annotator ticks") == 2
    meta = read_metadata(out_path)
    assert meta["preference"]["method"] == "reference" and len(meta["preference"]["rounds"]) == 2


@pytest.mark.slow
def test_train_for_a_time_budget_writes_a_loadable_checkpoint(tmp_path):
    from toyflow.checkpoint import load_checkpoint

    path = tmp_path / "a.safetensors"
    rc, out, err = run_main("train", "--seconds", "4", "--eval-n", "16", "--quiet", "--out", str(path))
    assert rc == 0, err
    model, meta = load_checkpoint(path, device="cpu")
    assert meta["steps"] > 0 and 3 <= meta["train_seconds"] <= 12
    assert meta["seed"] == 0 and meta["mixture"] == {"s_fraction": 0.2}
    assert meta["recipe"]["config"] == meta["config"]
    assert meta["evaluation"]["n"] == 16 and set(meta["sampler"]) == {"method", "steps", "precision"}


def run_prefer_answering(monkeypatch, text: str, *args: str) -> tuple[int, str, str]:
    """``toyflow prefer ARGS`` in this process, the terminal's answers read from ``text``."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return run_main("prefer", *args)


def tensors_of(path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_prefer_logs_the_session_and_replays_it_bit_for_bit(small_a, tmp_path, monkeypatch):
    b, b2, log = tmp_path / "b.safetensors", tmp_path / "b2.safetensors", tmp_path / "log.json"
    answers = "0 2\n\np 0.1 0.9\n3\n"  # ticks; Enter (none of these); probabilities; one tick
    rc, out, err = run_prefer_answering(
        monkeypatch, answers, str(small_a), "--out", str(b), "--rounds", "4", "--log", str(log)
    )
    assert rc == 0, err
    assert "3 labelled rounds of 4" in out and "session log (8 events)" in out
    events = json.loads(log.read_text())["events"]
    assert [e.get("ticks") for e in events if e["event"] == "answer"] == [[0, 2], [], None, [3]]

    rc, out, err = run_main("prefer", str(small_a), "--replay", str(log), "--out", str(b2))
    assert rc == 0, err
    assert "model B matches the log bit for bit" in out
    first, second = tensors_of(b), tensors_of(b2)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first), "every tensor of B, bit for bit"
    a = tensors_of(small_a)
    assert any(not torch.equal(first[k], a[k]) for k in a), "and B learned something"


def test_replay_refuses_a_log_for_another_model_a(small_a, tmp_path, monkeypatch):
    from conftest import TINY, make_flow

    from toyflow.checkpoint import save_checkpoint

    log = tmp_path / "log.json"
    rc, _, err = run_prefer_answering(
        monkeypatch, "1\n", str(small_a), "--out", str(tmp_path / "b.safetensors"), "--rounds", "1", "--log", str(log)
    )
    assert rc == 0, err
    other = save_checkpoint(make_flow(TINY, seed=6), tmp_path / "other.safetensors")
    out_path = tmp_path / "b2.safetensors"
    proc = run_toyflow("prefer", str(other), "--replay", str(log), "--out", str(out_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "another model A" in lines[0] and "other.safetensors" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not out_path.exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--oracle"],
        ["--seed", "3"],
        ["--method", "dpo"],
        ["--rounds", "5"],
        ["--flip-prob", "0.1"],
        ["--oracle-shape", "swiss_roll"],
        ["--png-dir", "pictures"],
    ],
    ids=lambda extra: extra[0],
)
def test_replay_takes_its_settings_from_the_log(small_a, tmp_path, extra):
    log = tmp_path / "log.json"
    log.write_text("{}")
    rc, _, err = run_main(
        "prefer", str(small_a), "--replay", str(log), "--out", str(tmp_path / "b.safetensors"), *extra
    )
    assert rc == 2 and err == (
        f"toyflow prefer: error: argument {extra[0]}: --replay takes the method, seed, rounds and answers from the "
        "log; drop it\n"
    )


def test_replay_of_an_unusable_log_is_one_line(small_a, tmp_path):
    log = tmp_path / "log.json"
    log.write_text("{}")
    rc, _, err = run_main("prefer", str(small_a), "--replay", str(log), "--out", str(tmp_path / "b.safetensors"))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "not a toyflow session log" in err


def test_the_oracle_may_prefer_swiss_rolls(small_a, tmp_path, monkeypatch):
    import toyflow.preference.round as round_module

    shapes = []
    real = round_module.oracle_ticks

    def spy(clouds, flip_prob, generator, shape):
        shapes.append(shape)
        return real(clouds, flip_prob, generator, shape=shape)

    monkeypatch.setattr(round_module, "oracle_ticks", spy)
    log = tmp_path / "log.json"
    args = ["--out", str(tmp_path / "b.safetensors"), "--rounds", "2", "--oracle", "--log", str(log)]
    rc, out, err = run_main("prefer", str(small_a), *args, "--oracle-shape", "swiss_roll")
    assert rc == 0, err
    assert shapes == ["swiss_roll", "swiss_roll"] and out.count("the simulated annotator ticks") == 2
    assert json.loads(log.read_text())["note"] == {"oracle_shape": "swiss_roll", "flip_prob": 0.0}
    rc, _, err = run_main("prefer", str(small_a), *args, "--oracle-shape", "circle")
    assert rc != 0 and "swiss_roll" in err
