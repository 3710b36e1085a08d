"""Training model A: toyflow's recipe against the reference recipe, under the same wall-clock budgets, in one run.

    python benchmarks/train_baseline.py [--budgets 60,120,180] [--device cpu] [--n-eval 1024]

For each budget and recipe: steps done, final loss, and the judge's figures on 1024 fixed noises at 400 points
(S-fraction, valid and clean fractions overall and per class). Target: clean >= 0.90 overall and >= 0.85
in each class, S-fraction within 0.05 of the mixture's, in <= 180 s on a 2-core CPU. Reference: 150k steps x 0.67 s.
"""

from __future__ import annotations

import argparse
import time

from common import machine, table

from toyflow.evaluation import evaluate_model
from toyflow.reference_training import reference_plug, reference_recipe
from toyflow.training import Recipe, train


def meets_target(summary: dict, mixture: float) -> bool:
    """The target for model A."""
    return (
        summary["clean"] >= 0.90
        and min(summary["clean_s"], summary["clean_roll"]) >= 0.85
        and abs(summary["s_fraction"] - mixture) <= 0.05
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="60,120,180", help="wall-clock budgets in seconds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-eval", type=int, default=1024)
    parser.add_argument("--n-eval-reference", type=int, default=256, help="clouds judged for the reference (slow)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    recipes = {
        "toyflow": (Recipe(seed=args.seed), {}),
        "reference": (reference_recipe(seed=args.seed), reference_plug()),
    }
    rows, reached = [], {}
    for seconds in budgets:
        for name, (recipe, extra) in recipes.items():
            start = time.perf_counter()
            result = train(recipe=recipe, seconds=seconds, device=args.device, progress=False, **extra)
            wall = time.perf_counter() - start
            s = evaluate_model(result.model, n=args.n_eval if name == "toyflow" else args.n_eval_reference)
            ok = meets_target(s, recipe.s_fraction)
            if ok and name not in reached:
                reached[name] = seconds
            loss = sum(result.losses[-50:]) / max(1, len(result.losses[-50:]))
            rows.append(
                [f"{seconds:.0f}", name, result.steps, f"{wall:.0f}", f"{loss:.4f}", s["s_fraction"], s["valid"],
                 s["clean"], s["clean_s"], s["clean_roll"], "yes" if ok else "no"]
            )  # fmt: skip
            print(f"  {name} {seconds:.0f} s: {result.steps} steps", flush=True)
    n_evals = f"{args.n_eval} (toyflow) / {args.n_eval_reference} (reference)"
    print(f"\ntraining model A under wall-clock budgets; {machine()}; judged on {n_evals} fixed noises")
    headers = ["budget (s)", "recipe", "steps", "wall (s)", "loss", "S-fraction", "valid", "clean", "clean S"]
    headers.append("clean roll")
    print(table([*headers, "target met"], rows))
    for name in recipes:
        at = f"{reached[name]:.0f} s" if name in reached else f"not within {max(budgets):.0f} s"
        print(f"time to target, {name}: {at}")
    print("target: clean >= 0.90 (>= 0.85 per class), S-fraction within 0.05 of the mixture, <= 180 s")


if __name__ == "__main__":
    main()
