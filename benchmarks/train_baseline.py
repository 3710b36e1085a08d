"""Training model A: the time to the clean target, in seconds and in the reference recipe's training steps, one run.

    python benchmarks/train_baseline.py [--models gated,label-free] [--budgets 60,120] [--device cpu] [--n-eval 1024]
                                        [--n-eval-reference 256] [--reference-steps 10] [--seed 0]

Each shipped model A's recipe (the gated one, and the label-free one that never sees a label) is trained to its end
(the wall time of the whole call: the network built and the data pool drawn included), then judged on 1024 fixed
noises at 400 points with the sampler its checkpoint names, the default one (S-fraction, valid and clean fractions
overall and per class). The reference recipe's training step is timed in the same run, in turns with the training
(before each model A's and after the last; the median of those timings, each the median of ``--reference-steps``
steps after a few untimed ones), so that the time to the target is also given in that step's time, a figure that
holds across machines of different speeds. With ``--budgets``, toyflow's recipe and the reference recipe are also
trained under those wall-clock budgets.

Target: clean >= 0.90 overall and >= 0.85 in each class, S-fraction within 0.05 of the mixture's, in no more than
200 of the reference recipe's training steps' time. Reference: 150k steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import machine, table

from toyflow.evaluation import evaluate_model
from toyflow.reference_training import REFERENCE_HOOKS, reference_recipe
from toyflow.training import Recipe, TrainingHooks, TrainResult, label_free_recipe, train

TARGET_REFERENCE_STEPS = 200
MODELS = ("gated", "label-free")


def meets_target(summary: dict, mixture: float) -> bool:
    """The target for model A's samples."""
    return (
        summary["clean"] >= 0.90
        and min(summary["clean_s"], summary["clean_roll"]) >= 0.85
        and abs(summary["s_fraction"] - mixture) <= 0.05
    )


def model_recipe(model: str, seed: int) -> Recipe:
    """The recipe of a shipped model A: ``"gated"`` (class heads, trained with the mixture's labels) or
    ``"label-free"`` (one velocity field, never shown a label)."""
    if model not in MODELS:
        raise ValueError(f"unknown model A {model!r}; expected one of {MODELS}")
    return label_free_recipe(seed) if model == "label-free" else Recipe(seed=seed)


def reference_step_seconds(steps: int, device: str, seed: int, warmup: int = 3) -> float:
    """The median wall time of one training step of the reference recipe, after ``warmup`` untimed steps."""
    stamps: list[float] = []
    start = time.perf_counter()
    train(
        recipe=reference_recipe(seed=seed),
        steps=warmup + steps,
        device=device,
        progress=False,
        callback=lambda step, loss: stamps.append(time.perf_counter()),
        hooks=REFERENCE_HOOKS,
    )
    times = [b - a for a, b in zip([start, *stamps[:-1]], stamps, strict=True)]
    return statistics.median(times[warmup:])


def timed_train(**kwargs: object) -> tuple[TrainResult, float]:
    """``train(**kwargs)`` and its wall time, set-up included (the network built, the data pool drawn)."""
    start = time.perf_counter()
    result = train(**kwargs)
    return result, time.perf_counter() - start


def row(label: str, budget: str, result: TrainResult, wall: float, summary: dict, mixture: float, ref_step: float):
    """One table row: the run, its wall time in seconds and in reference steps, its judge's figures."""
    loss = sum(result.losses[-50:]) / max(1, len(result.losses[-50:]))
    ok = meets_target(summary, mixture)
    return [
        label, budget, result.steps, f"{wall:.0f}", f"{wall / ref_step:.0f}", f"{loss:.4f}",
        summary["s_fraction"], summary["valid"], summary["clean"], summary["clean_s"], summary["clean_roll"],
        "yes" if ok else "no",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="the shipped model A's recipes to train")
    parser.add_argument("--budgets", default="", help="also train under these wall-clock budgets, in seconds")
    parser.add_argument("--reference-steps", type=int, default=10, help="reference steps timed")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-eval", type=int, default=1024)
    parser.add_argument("--n-eval-reference", type=int, default=256, help="clouds judged for the reference (slow)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    budgets = [float(b) for b in args.budgets.split(",") if b]

    # the reference step is timed before each model's training and after the last, in turns with them, so that a
    # slow spell of the machine falls on both sides; the median of those timings is the unit
    ref_steps, trained, reached = [], [], {}
    for model in models:
        ref_steps.append(reference_step_seconds(args.reference_steps, args.device, args.seed))
        print(f"  reference recipe: {ref_steps[-1]:.3f} s a step", flush=True)
        recipe = model_recipe(model, args.seed)
        result, wall = timed_train(recipe=recipe, device=args.device, progress=False)
        summary = evaluate_model(result.model, n=args.n_eval)
        trained.append((model, recipe, result, wall, summary))
        if meets_target(summary, recipe.s_fraction):
            reached[model] = wall
        print(f"  {model}: {result.steps} steps in {wall:.0f} s", flush=True)
    ref_steps.append(reference_step_seconds(args.reference_steps, args.device, args.seed))
    ref_step = statistics.median(ref_steps)
    rows = [
        row(f"toyflow, {model}", "to its end", result, wall, summary, recipe.s_fraction, ref_step)
        for model, recipe, result, wall, summary in trained
    ]
    for seconds in budgets:
        for label, recipe, hooks, n in [
            ("toyflow, gated", model_recipe("gated", args.seed), TrainingHooks(), args.n_eval),
            ("reference", reference_recipe(seed=args.seed), REFERENCE_HOOKS, args.n_eval_reference),
        ]:
            result, wall = timed_train(recipe=recipe, seconds=seconds, device=args.device, progress=False, hooks=hooks)
            summary = evaluate_model(result.model, n=n)
            rows.append(row(label, f"{seconds:.0f} s", result, wall, summary, recipe.s_fraction, ref_step))
            print(f"  {label}, {seconds:.0f} s: {result.steps} steps", flush=True)

    n_evals = f"{args.n_eval} (toyflow) / {args.n_eval_reference} (reference)"
    print(f"\ntraining model A; {machine()}; judged on {n_evals} fixed noises")
    timings = ", ".join(f"{t:.3f}" for t in ref_steps)
    print(
        f"the reference recipe's training step: {ref_step:.3f} s (the median of {len(ref_steps)} timings in turns with "
        f"the training, each the median of {args.reference_steps} steps: {timings})"
    )
    headers = ["recipe", "budget", "steps", "wall (s)", "wall (reference steps)", "loss", "S-fraction", "valid"]
    print(table([*headers, "clean", "clean S", "clean roll", "target met"], rows))
    for model in models:
        if model in reached:
            seconds = reached[model]
            verdict = "met" if seconds / ref_step <= TARGET_REFERENCE_STEPS else "missed"
            at = f"{seconds:.0f} s = {seconds / ref_step:.0f} reference steps ({verdict})"
        else:
            at = "the target's quality not reached"
        print(f"time to target, {model}: {at}")
    print(
        "target: clean >= 0.90 (>= 0.85 per class), S-fraction within 0.05 of the mixture, "
        f"in <= {TARGET_REFERENCE_STEPS} reference steps' time"
    )


if __name__ == "__main__":
    main()
