"""The command line: ``python -m toyflow {train,sample,evaluate,prefer}``.

Every numeric argument is checked when it is parsed (:mod:`toyflow.cli_args`): a bad one is refused with one line
naming it and exit status 2, before anything is loaded or written. Then every file the command will write is checked
(:func:`toyflow.atomic.check_target`: not a folder, in a folder that can be made and written, on a disk with room),
before any input is read or any work done (an output over the input checkpoint is refused too). Exit statuses: 0
done; 1 ``evaluate`` or ``sample`` found clouds with non-finite values (``sample`` writes none), or a file could not
be written on the way (a disk that filled up: nothing is left of it); 2 a refused argument, an output that cannot be
written or an unusable input file; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM, as ``kill`` or a job
scheduler sends it). No partial file is ever left behind: every file is written whole, then renamed into place.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from . import cli_args as types
from .atomic import UnwritableTarget, WriteFailed, check_folder, check_target
from .checkpoint import MAX_SAMPLER_STEPS, CheckpointError, load_checkpoint, save_checkpoint
from .cli_args import Parser, Refused
from .cloud_files import CloudFileError, NonFiniteClouds, check_finite, load_clouds, save_clouds
from .data import MIN_POINTS, NUM_POINTS
from .device import resolve_device
from .interrupts import STOP, Terminated
from .preference.records import PROPOSALS
from .solver import SAMPLERS


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", type=types.device, default=None, help="torch device (default: cuda if available, else cpu)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = Parser(
        prog="toyflow", description="Rectified-flow point clouds (S curves vs Swiss rolls) and preference learning."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model A and save it as a safetensors checkpoint")
    p.add_argument("--out", required=True, type=types.output_file, help="checkpoint to write (.safetensors)")
    p.add_argument(
        "--s-fraction", type=types.probability, default=None, help="share of S curves in the training mixture"
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--steps",
        type=types.count(1, types.MAX_TRAIN_STEPS),
        default=None,
        help="number of optimiser steps (default: the recipe's)",
    )
    budget.add_argument("--seconds", type=types.positive, default=None, help="stop after this many seconds of training")
    p.add_argument("--seed", type=types.seed, default=0, help="seed of the data, noise and weights (0 to 2**63 - 1)")
    p.add_argument("--reference", action="store_true", help="train the reference network and recipe instead")
    p.add_argument(
        "--label-free",
        action="store_true",
        help="a model A that never sees a label: one velocity head, no gate (the default has a head per class and a "
        "gate trained on the mixture's labels)",
    )
    p.add_argument(
        "--eval-n", type=types.count(0, types.MAX_CLOUDS), default=1024, help="clouds judged after training (0 to skip)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_device(p)

    p = sub.add_parser("sample", help="sample clouds from a checkpoint to a .npy file")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--n", type=types.count(1, types.MAX_CLOUDS), required=True, help="number of clouds")
    p.add_argument("--seed", type=types.seed, required=True, help="noise seed (same seed, same clouds)")
    p.add_argument(
        "--out", type=types.output_file, required=True, help=".npy file to write, float32 (n, num_points, 2)"
    )
    p.add_argument(
        "--steps",
        type=types.count(1, MAX_SAMPLER_STEPS),
        default=None,
        help="sampler steps (default: the checkpoint's)",
    )
    p.add_argument("--method", choices=list(SAMPLERS), default=None)
    p.add_argument(
        "--num-points",
        type=types.count(MIN_POINTS, types.MAX_POINTS),
        default=NUM_POINTS,
        help=f"points per cloud (default {NUM_POINTS}; at least {MIN_POINTS}, the fewest the judge can read)",
    )
    _add_device(p)

    p = sub.add_parser("evaluate", help="judge a .npy file of clouds or a checkpoint's samples")
    p.add_argument("source", type=Path, help="a .npy file (n, num_points, 2) or a checkpoint")
    p.add_argument(
        "--n", type=types.count(1, types.MAX_CLOUDS), default=1024, help="clouds to sample from a checkpoint"
    )
    p.add_argument("--seed", type=types.seed, default=None, help="noise seed for a checkpoint (default: the fixed one)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    _add_device(p)

    p = sub.add_parser(
        "prefer",
        help="teach a model B from ticks on proposals of model A",
        description=f"Each round shows {PROPOSALS} proposals of model A; ticks (yours in the terminal, or the "
        "simulated annotator's with --oracle) teach model B, then drawn on the same noise and on 6 fresh ones.",
    )
    p.add_argument("checkpoint", type=Path, help="model A")
    p.add_argument("--out", required=True, type=types.output_file, help="where to save model B (.safetensors)")
    p.add_argument(
        "--rounds",
        type=types.count(1, types.MAX_ROUNDS),
        default=3,
        help=f"rounds of {PROPOSALS} proposals (default 3)",
    )
    p.add_argument("--oracle", action="store_true", help="let the simulated annotator tick the clean S curves")
    p.add_argument(
        "--oracle-shape",
        choices=["s_curve", "swiss_roll"],
        default="s_curve",
        help="with --oracle: the shape the simulated annotator prefers (default s_curve)",
    )
    p.add_argument(
        "--flip-prob", type=types.probability, default=0.0, help="with --oracle: flip each tick with this probability"
    )
    p.add_argument("--method", default=None, help="preference method (default: the measured best)")
    p.add_argument(
        "--seed", type=types.seed, default=None, help="seed of the proposals' noise and of B's updates (default 0)"
    )
    p.add_argument("--png-dir", type=Path, default=None, help="folder for the round pictures (default: next to --out)")
    p.add_argument(
        "--log", type=types.output_file, default=None, help="write the session's log (JSON, replayable) to this file"
    )
    p.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="LOG",
        help="replay a session's log (its method, seed and answers) on this model A: the same model B, bit for bit",
    )
    _add_device(p)
    return parser


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def print_summary(summary: dict, as_json: bool = False) -> None:
    """Print the judge's figures, one per line (or as JSON)."""
    if as_json:
        print(json.dumps(summary))
        return
    print(f"clouds          {summary['n']}")
    print(f"S-fraction      {_fmt(summary['s_fraction'])}")
    print(f"valid           {_fmt(summary['valid'])}")
    print(f"valid S curves  {_fmt(summary['valid_s'])}")
    print(f"valid rolls     {_fmt(summary['valid_roll'])}")
    print(f"clean           {_fmt(summary['clean'])}")
    print(f"clean S curves  {_fmt(summary['clean_s'])}")
    print(f"clean rolls     {_fmt(summary['clean_roll'])}")


def cmd_train(args: argparse.Namespace) -> int:
    """`toyflow train`: train a model A (or the reference) and save it with its metadata; returns the exit status."""
    from .evaluation import evaluate_model
    from .model import has_class_heads
    from .reference_training import REFERENCE_HOOKS, reference_recipe
    from .solver import Sampler
    from .training import Recipe, TrainingHooks, label_free_recipe, train

    if args.reference and args.label_free:
        raise Refused("--label-free", "the reference network never sees a label already; drop --label-free")
    if args.reference:
        recipe = reference_recipe(seed=args.seed)
    else:
        recipe = label_free_recipe(args.seed) if args.label_free else Recipe(seed=args.seed)
    if args.s_fraction is not None:
        recipe.s_fraction = args.s_fraction
    if args.steps is not None:
        recipe.steps = args.steps
    result = train(
        recipe=recipe,
        steps=args.steps,
        seconds=args.seconds,
        device=args.device,
        progress=not args.quiet,
        hooks=REFERENCE_HOOKS if args.reference else TrainingHooks(),
        callback=lambda _step, _loss: STOP.check(),
    )
    meta = {
        "recipe": recipe.to_dict(),
        "mixture": {"s_fraction": recipe.s_fraction},
        # only a network with class heads learns from the mixture's labels (its gate); any other never sees one
        "saw_labels": has_class_heads(result.model),
        "seed": args.seed,
        "steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "final_loss": float(np.mean(result.losses[-50:])) if result.losses else None,
        "sampler": Sampler.from_meta(result.model).to_dict(),
    }
    if args.eval_n > 0:
        meta["evaluation"] = evaluate_model(result.model, n=args.eval_n)
    path = save_checkpoint(result.model, args.out, **meta)
    print(f"trained {result.steps} steps in {result.seconds:.1f} s; saved {path}")
    if "evaluation" in meta:
        print_summary(meta["evaluation"])
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """`toyflow sample`: sample clouds from a checkpoint to a .npy file; returns the exit status."""
    from .evaluation import generate
    from .reference import is_reference
    from .solver import Sampler

    model, meta = load_checkpoint(args.checkpoint, device=resolve_device(args.device))
    if is_reference(model) and args.num_points != model.config.num_points:
        raise Refused(
            "--num-points",
            f"the reference network of {args.checkpoint} draws clouds of {model.config.num_points} points only, "
            f"got {args.num_points}",
        )
    sampler = Sampler.from_meta(model, meta).with_(method=args.method, steps=args.steps)
    clouds = generate(model, args.n, args.seed, args.num_points, sampler=sampler).numpy()
    check_finite(clouds, f"the samples of {args.checkpoint}")  # exit status 1 and nothing written, as evaluate
    save_clouds(args.out, clouds)
    print(f"wrote {args.out}: {args.n} clouds of {args.num_points} points")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`toyflow evaluate`: the judge's figures of a .npy file or of a checkpoint's samples; returns the exit status."""
    from .evaluation import EVAL_SEED, generate
    from .judge import judge

    if args.source.suffix == ".npy":
        clouds = load_clouds(args.source)
        check_finite(clouds, str(args.source))
    else:
        model, meta = load_checkpoint(args.source, device=resolve_device(args.device))
        seed = EVAL_SEED if args.seed is None else args.seed
        clouds = generate(model, args.n, seed, meta=meta).numpy()
        check_finite(clouds, f"the samples of {args.source}")
    print_summary(judge(torch.from_numpy(clouds)).summary(), args.json)
    return 0


def cmd_prefer(args: argparse.Namespace) -> int:
    """`toyflow prefer`: rounds of ticks (the terminal's or the simulated annotator's) teach model B; saves it."""
    from .judge import judge
    from .plotting import save_round_figure
    from .preference import (
        METHODS,
        Answer,
        PreferenceInputError,
        PreferenceSession,
        oracle_answer,
        parse_answer,
        play_round,
    )

    if args.method is not None and args.method not in METHODS:
        choices = ", ".join(repr(m) for m in METHODS)
        raise Refused("--method", f"invalid choice: {args.method!r} (choose from {choices})")
    if args.replay is not None:
        return replay_prefer(args)
    model, meta = load_model_a(args)
    session = PreferenceSession(model, method=args.method, seed=0 if args.seed is None else args.seed, meta=meta)
    if args.oracle:
        session.log.note = {"oracle_shape": args.oracle_shape, "flip_prob": args.flip_prob}
    png_dir = args.png_dir or args.out.parent
    png_dir.mkdir(parents=True, exist_ok=True)
    print(f"model A: {args.checkpoint}; method: {session.method}; pictures in {png_dir}")
    for r in range(1, args.rounds + 1):
        STOP.check()
        proposal = session.propose(PROPOSALS)
        picture = save_round_figure(png_dir / f"round{r}_proposals.png", proposal.samples, title=f"round {r}: model A")
        print(f"\nround {r}: {PROPOSALS} proposals of model A (indices 0-{PROPOSALS - 1}) in {picture}")
        while True:
            if args.oracle:
                answer = oracle_answer(session, proposal, args.flip_prob, shape=args.oracle_shape)
                print(f"the simulated annotator ticks: {' '.join(map(str, answer.ticks)) or '(none)'}")
            else:
                try:
                    text = input("ticks (indices separated by spaces, Enter for none, 'p 0.1 0.5 ...'): ")
                except EOFError:
                    text = ""
            try:
                if not args.oracle:
                    answer = Answer(*parse_answer(text, PROPOSALS))
                result = play_round(session, answer, proposal)
                break
            except PreferenceInputError as e:
                print(f"  {e}; try again")
        record = result.record
        print(f"  {record.reason or 'model B updated'} ({record.seconds:.2f} s)")
        if record.updated:
            picture = save_round_figure(
                png_dir / f"round{r}_model_b.png",
                proposal.samples,
                result.b_same,
                result.b_fresh,
                title=f"round {r}: A red, B green",
            )
            print(f"  model B on the same noise and on {len(result.b_fresh)} fresh noises: {picture}")
            print(f"  S-fraction of those fresh samples of B: {judge(result.b_fresh).s_fraction:.2f}")
    path = session.save(args.out, base_checkpoint=str(args.checkpoint))
    print(f"\n{session.labelled_rounds} labelled rounds of {args.rounds}; saved model B to {path}")
    if args.log is not None:
        print(f"session log ({len(session.log.events)} events): {session.log.write(args.log)}")
    return 0


def load_model_a(args: argparse.Namespace) -> tuple[torch.nn.Module, dict]:
    """The model A of ``prefer``'s checkpoint, on ``--device``; :class:`CheckpointError` for the original's network,
    which no session takes."""
    from .reference import is_reference

    model, meta = load_checkpoint(args.checkpoint, device=resolve_device(args.device))
    if is_reference(model):
        raise CheckpointError(
            args.checkpoint, "the original's network (toyflow train --reference) cannot be model A of a session"
        )
    return model, meta


def replay_prefer(args: argparse.Namespace) -> int:
    """`toyflow prefer CHECKPOINT --replay LOG --out B`: the logged session again, on this model A; saves B.

    Exit status 2 (one line) for an unusable log or a log written for another model A, 1 when the replayed B is not
    bit for bit the logged one (it is saved all the same), 0 otherwise."""
    from .preference import LogError, SessionLog, replay

    given = {  # what a replay takes from the log instead (an option left at its default cannot be told apart)
        "--oracle": args.oracle,
        "--method": args.method is not None,
        "--seed": args.seed is not None,
        "--rounds": args.rounds != 3,
        "--flip-prob": args.flip_prob != 0.0,
        "--oracle-shape": args.oracle_shape != "s_curve",
        "--png-dir": args.png_dir is not None,
    }
    clash = [flag for flag, on in given.items() if on]
    if clash:
        raise Refused(clash[0], "--replay takes the method, seed, rounds and answers from the log; drop it")
    try:
        log = SessionLog.read(args.replay)
        model, meta = load_model_a(args)
        replayed = replay(model, log, meta=meta, name=str(args.checkpoint))
    except LogError as e:
        where = "" if str(args.replay) in str(e) else f"{args.replay}: "
        return _fail(f"toyflow prefer: {where}{e}", 2)
    path = replayed.session.save(args.out, base_checkpoint=str(args.checkpoint), replayed_from=str(args.replay))
    print(f"{replayed.describe()}; saved model B to {path}")
    if args.log is not None:
        print(f"session log ({len(replayed.session.log.events)} events): {replayed.session.log.write(args.log)}")
    if not replayed.exact:
        return _fail(f"toyflow prefer: {replayed.describe()}", 1)
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate, "prefer": cmd_prefer}


def check_counts(args: argparse.Namespace) -> None:
    """Refuse (:class:`Refused`, one line) counts that pass alone but not together: ``sample``'s clouds times points
    past what one file may hold; before the outputs are checked (their size follows from these counts)."""
    if args.command == "sample" and args.n * args.num_points > types.MAX_CLOUDS * NUM_POINTS:
        raise Refused(
            "--n",
            f"{args.n} clouds of {args.num_points} points are more than {types.MAX_CLOUDS * NUM_POINTS} points at once",
        )


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse (:class:`~toyflow.atomic.UnwritableTarget` or :class:`Refused`, one line) before any work a file the
    command could not write: ``--out`` of train, sample and prefer, prefer's ``--log`` and the folder of its pictures;
    two outputs that are one file, or one inside the other; an output over an input (the checkpoint, the log
    replayed). Paths are compared as the system resolves them (``a/../b`` is ``b``, a link is its target)."""
    files = [("--out", getattr(args, "out", None))]
    if args.command == "prefer":
        files.append(("--log", args.log))
    files = [(flag, path) for flag, path in files if path is not None]
    size = args.n * args.num_points * 2 * 4 if args.command == "sample" else 0  # float32 clouds
    for _, path in files:
        check_target(path, size)
    if len(files) == 2 and files[0][1].resolve() == files[1][1].resolve():
        raise Refused("--log", f"names the file of --out, {files[0][1]}; give the log a file of its own")
    inputs = [
        ("the input checkpoint", getattr(args, "checkpoint", None)),
        ("the log replayed", getattr(args, "replay", None)),
    ]
    for flag, path in files:
        for what, source in inputs:
            if source is not None and path.resolve() == source.resolve():
                raise Refused(flag, f"names {what}, {source}; write to a file of its own")
    folders = [("--png-dir", args.png_dir)] if args.command == "prefer" and args.replay is None and args.png_dir else []
    for flag, path in files + folders:  # one output inside another's place: a file would have to be a folder
        for other_flag, other in files:
            if (
                other_flag != flag
                and other.resolve() in path.resolve().parents
                or (flag == "--png-dir" and path.resolve() == other.resolve())
            ):
                raise Refused(flag, f"{path} would be inside (or be) the file of {other_flag}, {other}")
    if args.command == "prefer" and args.replay is None:
        check_folder(args.png_dir or args.out.parent)


def _fail(message: str, status: int) -> int:
    """Say ``message`` on one line of stderr (a file name may hold a line break: it is shown as ``\\n``); return
    ``status``."""
    print(message.replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    args = build_parser().parse_args(argv)
    command = f"toyflow {args.command}"
    try:
        with STOP.installed():
            check_counts(args)
            check_outputs(args)
            return COMMANDS[args.command](args)
    except Refused as e:
        return _fail(f"{command}: error: {e}", 2)
    except (CheckpointError, CloudFileError, UnwritableTarget) as e:
        return _fail(f"{command}: {e}", 2)
    except (NonFiniteClouds, WriteFailed) as e:
        return _fail(f"{command}: {e}", 1)
    except KeyboardInterrupt:
        return _fail(f"{command}: interrupted; no partial file was left behind", 130)
    except Terminated:
        return _fail(f"{command}: terminated; no partial file was left behind", 143)
    except BrokenPipeError:  # the reader of the output went away (``| head``): nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (nor at exit, when Python flushes it)
        return 1
    except OSError as e:
        if e.filename is not None or e.errno not in (errno.ENOSPC, errno.EIO):
            raise
        return _fail(f"{command}: cannot write to the standard output ({e.strerror})", 1)  # e.g. > /dev/full
