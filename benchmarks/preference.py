"""Does model B learn the person's taste? Every preference method against controls, over several seeds.

    python benchmarks/preference.py [--checkpoint PATH or NAME] [--methods reward-fm,dpo,reference] [--seeds 5]
                                    [--n-eval 1024] [--flip 0.1] [--device cpu] [--skip-quality] [--skip-latency]
                                    [--plot PATH] [--oracle-shape {s_curve,swiss_roll}] [--after 1,2,3,5]

For each method (and the controls: A itself, fine-tuning on fresh data with no preference, best-of-4 of A) and each
seed, the simulated annotator ticks the clean S curves among 4 proposals of
A, round after round; after 1, 2, 3 and 5 *labelled* rounds (rounds with at least one tick and not all four)
B is judged on fixed noises: S-fraction and clean fraction (every figure in the JSON dump). Then the same with an
annotator that flips each tick with probability ``--flip`` (0.1), and with the placebo: an annotator that ticks each
proposal with probability 1/2, blind to its shape (its row always gives the S-fraction: what B does with random
clicks is drift, not learning). Finally, in fresh processes (so that memory is that of one session), each
method's in turns with the original's, the latency of a round (update + 4 same-noise + 6 fresh samples + B's 10
tiles drawn) and the peak memory.

``--checkpoint`` (every benchmark's) takes a checkpoint's path or a shipped model A's name (``model_a``, the default,
``model_a_label_free``).

With ``--oracle-shape swiss_roll`` the annotator ticks the clean Swiss rolls instead (any preference is the
person's), and the table reports B's roll fraction beside its clean fraction.

Targets: after 3 and after 5 labelled rounds median preferred fraction >= 0.95 with clean >= 0.90 (S curves or Swiss
rolls preferred); the placebo's S-fraction within 0.05 of A's (median) and 0.15 (every seed); no figure after 5
rounds more than 0.05 below after 3; a round <= 0.3 s with the tiles drawn; peak memory <= 500 MiB (the original's
method: 5.25 s, 2.1 GB).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import OUT, add_checkpoint_argument, draw_b_tiles, machine, shown, table

from toyflow import load_checkpoint
from toyflow.evaluation import EVAL_SEED, evaluate_model, generate
from toyflow.judge import judge, oracle_ticks
from toyflow.preference import METHODS, PreferenceSession, oracle_answer, play_round, play_until, random_answer

CHECKPOINTS = (1, 2, 3, 5)
MAX_PROPOSALS = 40
CONTROL_FINETUNE = "fine-tune, no preference"
PLACEBO = "random ticks"  # the annotator's name in the flip column of the placebo's row


def run_rounds(
    model_a,
    meta,
    method: str,
    seed: int,
    flip: float | str,
    n_eval: int,
    shape: str = "s_curve",
    checkpoints: tuple[int, ...] = CHECKPOINTS,
) -> dict[int, dict]:
    """Annotated rounds until ``max(checkpoints)`` labelled ones; the judge's summary of B after each labelled round
    in ``checkpoints``. ``flip``: the oracle's flip probability, or :data:`PLACEBO` for random ticks.

    The control CONTROL_FINETUNE instead fine-tunes B's whole network on fresh mixture data with no ticks at all:
    ``settings.steps`` steps a round (8), never restarted from A, so after ``r`` rounds B has had ``8 r`` steps, at
    least as much training as any method's B (the default restarts from A and takes 8 in all; the gated B none).
    """
    if method == CONTROL_FINETUNE:
        session = PreferenceSession(model_a, seed=seed, meta=meta)
        results = {}
        for labelled in range(1, max(checkpoints) + 1):
            session.finetune_fresh(session.settings.steps)
            if labelled in checkpoints:
                results[labelled] = evaluate_model(session.b, n=n_eval, meta=meta)
        return results
    session = PreferenceSession(model_a, method=method, seed=seed, meta=meta)
    results = {}

    def annotate(session: PreferenceSession, proposal):
        if flip == PLACEBO:
            return random_answer(session, proposal)
        return oracle_answer(session, proposal, float(flip), shape=shape)

    def judge_b(result) -> None:
        if result.record.updated and session.labelled_rounds in checkpoints:
            results[session.labelled_rounds] = evaluate_model(session.b, n=n_eval, meta=meta)

    play_until(session, annotate, max(checkpoints), MAX_PROPOSALS, after=judge_b)
    return results


def best_of_4(model_a, meta, n_eval: int, shape: str = "s_curve") -> dict:
    """The control 'best-of-4 of A': of every 4 of A's samples on the fixed noises, the first the oracle ticks."""
    clouds = generate(model_a, n_eval, EVAL_SEED, meta=meta)
    picks = []
    for group in clouds.split(4):
        ticks = oracle_ticks(group, shape=shape)
        picks.append(group[ticks[0] if ticks else 0])
    return judge(torch.stack(picks)).summary()


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: VmHWM of /proc/self/status where there is one (Linux), else
    ru_maxrss. (Linux keeps ru_maxrss across exec, so a subprocess of a large parent would report the parent's.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


LATENCY_ROUNDS = 4  # timed rounds a process, after one untimed
LATENCY_PASSES = 3  # fresh processes a method, in turns with the others'


def latency(method: str, checkpoint: Path, device: str, rounds: int = LATENCY_ROUNDS) -> dict:
    """In this (fresh) process: median seconds of a round (:func:`play_round`: update, 4 same-noise + 6 fresh
    samples; then B's 10 tiles drawn as the picker draws them, 160 and 112 pixels) over ``rounds`` rounds after one
    untimed (every round one with 1 to 3 ticks of the simulated annotator), and peak RSS."""
    torch.manual_seed(0)
    model_a, meta = load_checkpoint(checkpoint, device=device)
    session = PreferenceSession(model_a, method=method, seed=0, meta=meta)
    times, compute, warm = [], [], False
    for _ in range(40):
        proposal = session.propose(4)
        answer = oracle_answer(session, proposal)
        if not 0 < len(answer.ticks) < 4:
            continue
        result = play_round(session, answer, proposal)
        start = time.perf_counter()
        draw_b_tiles(result.b_same, result.b_fresh)
        if not warm:  # the first round warms the caches (A's pool, the judge's tables) for the ones timed
            warm = True
            continue
        times.append(result.timing["total"] + time.perf_counter() - start)
        compute.append(result.record.seconds)
        if len(times) >= rounds:
            break
    if len(times) < rounds:
        raise RuntimeError(f"fewer than {rounds + 1} of 40 proposals had 1 to 3 ticks of the annotator ({method})")
    peak = peak_rss_mib()
    return {"round_s": statistics.median(times), "update_s": statistics.median(compute), "peak_mib": peak}


def median_of(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r is not None and r.get(key) == r.get(key)]
    return statistics.median(values) if values else float("nan")


def cell(shape: str, s_fraction: float, clean: float) -> str:
    """A table cell: "S-fraction / clean" when the annotator prefers S curves, "roll fraction / clean" for rolls."""
    return f"{s_fraction:.2f} / {clean:.2f}" if shape == "s_curve" else f"{1 - s_fraction:.2f} / {clean:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    parser.add_argument("--after", default="1,2,3,5", help="labelled rounds after which B is judged (comma-separated)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-eval", type=int, default=1024)
    parser.add_argument("--flip", type=float, default=0.1, help="flip probability of the noisy annotator")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--plot", default=str(OUT / "preference_rounds.png"), help="the rounds' plot ('': none)")
    parser.add_argument(
        "--oracle-shape",
        choices=["s_curve", "swiss_roll"],
        default="s_curve",
        help="the shape the simulated annotator prefers (default s_curve)",
    )
    parser.add_argument("--latency-only", default=None, help=argparse.SUPPRESS)  # internal: one fresh process
    args = parser.parse_args()
    if args.latency_only:
        print(json.dumps(latency(args.latency_only, args.checkpoint, args.device)))
        return

    methods = [m for m in args.methods.split(",") if m]
    checkpoints = tuple(int(c) for c in args.after.split(","))
    model_a, meta = load_checkpoint(args.checkpoint, device=args.device)
    model = shown(args.checkpoint)
    print(f"preference benchmark; {machine()}; model A: {model}; {args.seeds} seeds; {args.n_eval} clouds")
    curves: dict[str, list[float]] = {}
    if not args.skip_quality:
        shape = args.oracle_shape
        a = evaluate_model(model_a, n=args.n_eval, meta=meta)
        bo4 = best_of_4(model_a, meta, args.n_eval, shape)
        a_cell = cell(shape, a["s_fraction"], a["clean"])
        rows = [["A itself (no update)", "-", *[a_cell] * len(checkpoints)]]
        bo4_cell = cell(shape, bo4["s_fraction"], bo4["clean"])
        rows.append(["best-of-4 of A (oracle picks)", "-", *[bo4_cell] * len(checkpoints)])
        raw: dict = {"A": a, "best_of_4": bo4}
        placebo_seeds: dict[str, list[str]] = {}
        for method in [*methods, CONTROL_FINETUNE]:
            annotators = dict.fromkeys((0.0, args.flip, PLACEBO))  # --flip 0: the exact annotator once
            for flip in annotators if method != CONTROL_FINETUNE else (0.0,):
                t0 = time.perf_counter()
                per_seed = [
                    run_rounds(model_a, meta, method, s, flip, args.n_eval, shape, checkpoints)
                    for s in range(args.seeds)
                ]
                cells = []
                for c in checkpoints:
                    got = [r.get(c) for r in per_seed]
                    s_med, c_med = median_of(got, "s_fraction"), median_of(got, "clean")
                    if flip == PLACEBO:  # the placebo's row gives the S-fraction, whatever the oracle prefers
                        cells.append(f"{s_med:.2f} / {c_med:.2f}")
                        seeds = " ".join(f"{r['s_fraction']:.2f}" if r else "-" for r in got)
                        placebo_seeds.setdefault(method, []).append(f"after {c}: {seeds}")
                    else:
                        cells.append(cell(shape, s_med, c_med))
                    short = sum(r is None for r in got)  # seeds that never reached c labelled rounds
                    if short:
                        cells[-1] += f" ({len(got) - short} of {len(got)} seeds)"
                    if flip == 0.0:
                        curves.setdefault(method, []).append(s_med if shape == "s_curve" else 1 - s_med)
                rows.append([method, flip if flip == PLACEBO else f"{flip:g}", *cells])
                print("  row:", " | ".join(rows[-1]), flush=True)
                raw[f"{method} flip={flip}"] = per_seed
                print(f"  {method} ({flip}): {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        if shape == "s_curve":
            print("\nS-fraction / clean fraction of B on fixed noises, median over seeds, after N labelled rounds")
        else:
            print(
                "\nthe annotator prefers Swiss rolls: roll fraction / clean fraction of B on fixed noises, median over"
            )
            print("seeds, after N labelled rounds")
        print(table(["method", "annotator's flips", *[f"after {c}" for c in checkpoints]], rows))
        print(f"'{PLACEBO}' rows: S-fraction / clean of B whatever the preferred shape; per seed, S-fraction:")
        for method, lines in placebo_seeds.items():
            print(f"  {method}: " + "; ".join(lines))
        preferred = "S-fraction" if shape == "s_curve" else "roll fraction"
        print(f"targets: after 3 and after 5 rounds {preferred} >= 0.95 / clean >= 0.90; {PLACEBO}: S-fraction within")
        print(f"0.05 of A's {a['s_fraction']:.2f} (median), 0.15 (every seed); no figure after 5 over 0.05 below 3")
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "preference.json").write_text(json.dumps(raw, indent=1, default=float))
        if args.plot and shape == "s_curve":  # the plot is of S curves; rolls: the table says it
            plot(curves, a["s_fraction"], args.plot, checkpoints)
    if not args.skip_latency:
        # every method in fresh processes, in turns with the original's (always measured, in the same run), so that a
        # slow spell of the machine falls on all: the median of the passes' medians, the highest peak
        passes: dict[str, list[dict]] = {method: [] for method in dict.fromkeys([*methods, "reference"])}
        for _ in range(LATENCY_PASSES):
            for method, runs in passes.items():
                cmd = [sys.executable, __file__, "--latency-only", method, "--checkpoint", str(args.checkpoint)]
                out = subprocess.run([*cmd, "--device", args.device], capture_output=True, text=True, check=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        measured = {
            method: {
                "update_s": statistics.median(r["update_s"] for r in runs),
                "round_s": statistics.median(r["round_s"] for r in runs),
                "peak_mib": max(r["peak_mib"] for r in runs),
            }
            for method, runs in passes.items()
        }
        ref = measured["reference"]
        rows = [
            [
                method,
                r["update_s"],
                r["round_s"],
                f"{r['round_s'] / ref['round_s']:.3f}",
                f"{r['peak_mib']:.0f}",
                f"{r['peak_mib'] / ref['peak_mib']:.2f}",
            ]
            for method, r in measured.items()
        ]
        print(
            f"\none feedback round (median of {LATENCY_ROUNDS} after one untimed, median of {LATENCY_PASSES} fresh "
            "processes in turns): B's update, and update + 4 same-noise + 6 fresh samples + 10 tiles; the highest peak"
        )
        heads = ["method", "update (s)", "round (s)", "round / reference's", "peak memory (MiB)", "peak / reference's"]
        print(table(heads, rows))
        print("targets: round <= 0.3 s with drawing, peak <= 500 MiB (reference method as published: 5.25 s, 2.1 GB)")


def plot(curves: dict[str, list[float]], a_fraction: float, path: str, checkpoints: tuple[int, ...]) -> None:
    """S-fraction of B against labelled rounds, one line per method; A's level dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for method, ys in curves.items():
        ax.plot([0, *checkpoints], [a_fraction, *ys], marker="o", label=method)
    ax.axhline(a_fraction, color="grey", ls="--", lw=1, label="model A")
    ax.axhline(0.95, color="tab:green", ls=":", lw=1, label="target")
    ax.set_xlabel("labelled rounds")
    ax.set_ylabel("S-fraction of B (median)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {shown(path)}")


if __name__ == "__main__":
    main()
