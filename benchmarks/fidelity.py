"""Stray points: real clouds, model A and model B side by side, as a person would check them on a wide canvas.

    python benchmarks/fidelity.py [--checkpoint PATH or NAME] [--n-eval 1024] [--seeds 5] [--rounds 3] [--device cpu]

Real clouds of the training mixture, model A on fixed noises, and model B after ``--rounds`` labelled rounds of
the simulated annotator (the default method, ``--seeds`` sessions, each judged on its share of the same fixed
noises). For each: rolls with a point farther than 0.1 from the roll curve, the median over rolls of the farthest
point's distance, the 99th percentile of point-to-curve distances per class, clouds with a point outside
[-1.1, 1.1], points beyond 1.05, and the judge's clean fractions. Then whether B copies its training pool: the
median Chamfer distance from B's S curves to the nearest cloud of the pool beside that of A's own S curves.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import add_checkpoint_argument, machine, shown, table

from toyflow import load_checkpoint
from toyflow.data import draw_noise, sample_mixture
from toyflow.evaluation import EVAL_SEED, generate
from toyflow.fidelity import nearest_pool_distance, stray_figures
from toyflow.judge import judge
from toyflow.model import noise_radius
from toyflow.preference import PreferenceSession, oracle_answer, play_round
from toyflow.solver import Sampler

ROWS = [
    ("rolls with a point > 0.1 from the roll curve", "rolls_far", "{:.0%}"),
    ("median over rolls of the farthest point's distance", "roll_max_median", "{:.3f}"),
    ("99th percentile of point-to-curve distance, rolls", "roll_p99", "{:.3f}"),
    ("99th percentile of point-to-curve distance, S curves", "s_p99", "{:.3f}"),
    ("clouds with a point outside [-1.1, 1.1]", "outside_box", "{:.1%}"),
    ("points beyond 1.05 in x or y", "beyond_105", "{:.3%}"),
    ("clean (judge)", "clean", "{:.3f}"),
    ("clean S curves", "clean_s", "{:.3f}"),
    ("clean rolls", "clean_roll", "{:.3f}"),
]


def model_b_clouds(model_a, meta, seeds: int, rounds: int, n_eval: int) -> tuple[torch.Tensor, list[float]]:
    """B's clouds after ``rounds`` labelled oracle rounds on the ``n_eval`` fixed noises A is judged on, each seed's
    B on its share of them (the first ``n_eval % seeds`` seeds one more), pooled in the noises' order; and per seed
    the median distance of B's S curves to the nearest cloud of the session's pool."""
    clouds, copy_distances = [], []
    noise = draw_noise(n_eval, seed=EVAL_SEED, radius=noise_radius(model_a))  # A's: generate(model_a, n_eval, ...)
    sampler = Sampler.from_meta(model_a, meta)
    for seed, share in enumerate(noise.tensor_split(seeds)):
        session = PreferenceSession(model_a, seed=seed, meta=meta)
        for _ in range(40):
            if session.labelled_rounds >= rounds:
                break
            proposal = session.propose(4)
            play_round(session, oracle_answer(session, proposal), proposal)
        if session.labelled_rounds < rounds:
            raise RuntimeError(f"seed {seed}: {session.labelled_rounds} labelled rounds in 40 proposals, not {rounds}")
        b = sampler.sample(session.b, share).cpu()
        clouds.append(b)
        s_curves = b[judge(b).is_s]
        pool = session.pool().samples
        if len(s_curves):
            copy_distances.append(float(nearest_pool_distance(s_curves, pool).median()))
    return torch.cat(clouds), copy_distances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    parser.add_argument("--n-eval", type=int, default=1024)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    model_a, meta = load_checkpoint(args.checkpoint, device=args.device)
    mixture = meta.get("mixture", {}).get("s_fraction", 0.2)
    real, _ = sample_mixture(args.n_eval, mixture, seed=EVAL_SEED)
    a = generate(model_a, args.n_eval, EVAL_SEED, meta=meta)
    b, copies = model_b_clouds(model_a, meta, args.seeds, args.rounds, args.n_eval)
    figures = [stray_figures(x) for x in (real, a, b)]
    rows = [[label, *(fmt.format(f[key]) if f[key] == f[key] else "n/a" for f in figures)] for label, key, fmt in ROWS]
    print(f"stray points; {machine()}; model A: {shown(args.checkpoint)}; {args.n_eval} clouds each")
    heads = ["figure", "real clouds", "model A", f"model B ({args.rounds} oracle rounds, {args.seeds} seeds)"]
    print(table(heads, rows))

    # copies: A's S curves drawn from other noises than the pool's, against the pool of session 0
    session = PreferenceSession(model_a, seed=0, meta=meta)
    pool = session.pool().samples
    a_s = a[judge(a).is_s]
    fresh = float(nearest_pool_distance(a_s, pool).median()) if len(a_s) else float("nan")
    print(
        "\nB's S curves against its training pool (median Chamfer distance to the nearest pool cloud): "
        f"B {statistics.median(copies) if copies else float('nan'):.4f} (median over seeds), "
        f"fresh S curves of A {fresh:.4f}; a copy would be near 0"
    )


if __name__ == "__main__":
    main()
