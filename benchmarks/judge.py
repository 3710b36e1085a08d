"""How fast the judge reads clouds: toyflow's judge against the judge as first written, in turns, same clouds.

    python benchmarks/judge.py [--clouds 1024] [--repeats 5] [--checkpoint PATH or NAME]

The clouds are the shipped model A's, from the evaluation's fixed noises. The judge as first written (every Chamfer
term of both templates from k-d trees, one tree per cloud and template) is kept with the test that freezes the
judge's verdicts (tests/test_judge_verdicts.py); the verdicts of both are checked to be the same. Medians of the
repeats, timed in turns after one warm-up (the calibration is cached before either is timed).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from common import REPO, add_checkpoint_argument, interleaved_median_seconds, machine, shown, table

from toyflow import load_checkpoint
from toyflow.evaluation import EVAL_SEED, generate
from toyflow.judge import calibrate, judge

sys.path.insert(0, str(REPO / "tests"))
from test_judge_verdicts import reference_judge, reference_limits  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    parser.add_argument("--clouds", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model_a, meta = load_checkpoint(args.checkpoint)
    clouds = generate(model_a, args.clouds, EVAL_SEED, meta=meta)
    calibrate(clouds.shape[1]), reference_limits(clouds.shape[1])
    new, ref = judge(clouds), reference_judge(clouds)
    same = all(np.array_equal(getattr(new, f).numpy(), getattr(ref, f)) for f in ("is_s", "valid", "clean"))
    before, after = interleaved_median_seconds([lambda: reference_judge(clouds), lambda: judge(clouds)], args.repeats)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    what = f"{args.clouds} clouds of A, median of {args.repeats}"
    print(f"judge benchmark; {machine()}; model A: {shown(args.checkpoint)}; load average {load}; {what}")
    rows = [
        ["the judge as first written", before, 1.0],
        ["toyflow's judge", after, before / after],
    ]
    print(table(["judge", "seconds", "speed-up"], rows))
    print(f"same verdicts (class, valid, clean) on every cloud: {same}; target: >= 10x")


if __name__ == "__main__":
    main()
