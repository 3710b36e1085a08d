"""Sampling latency: 6 clouds of 400 points, Euler, midpoint, multistep and exponential at several step counts,
toyflow's network and the reference network, with the valid and clean fractions each setting reaches (so a sampler
can be chosen by measurement).

    python benchmarks/sample.py [--checkpoint PATH or NAME] [--device cpu] [--n-eval 1024]

Every setting is timed on both networks in turns, in one run (a slow spell of the machine falls on both alike); the
last column is toyflow's time over the reference method's own sampling (its network, 100 Euler steps in float32)
measured in the same run. Target: sample 6 clouds of 400 points in <= 0.10 s on a 2-core CPU with the default
sampler (the reference method as published: 0.60 s).
"""

from __future__ import annotations

import argparse

import torch
from common import add_checkpoint_argument, interleaved_median_seconds, machine, shown, table

from toyflow import load_checkpoint
from toyflow.data import draw_noise
from toyflow.device import autocast_dtype
from toyflow.evaluation import EVAL_SEED, generate
from toyflow.judge import judge
from toyflow.model import noise_radius
from toyflow.reference import ReferenceFlow, reference_noise
from toyflow.solver import Sampler

# (method, steps, precision of the network's evaluations); the reference network is always timed in float32
SETTINGS = [("euler", 100, "float32"), ("midpoint", 16, "float32"), ("midpoint", 8, "float32")]
SETTINGS += [("multistep", steps, "float32") for steps in (32, 24, 16)]
SETTINGS += [("multistep", steps, "auto") for steps in (48, 32, 24, 20, 16)]
SETTINGS += [("exponential", steps, "auto") for steps in (32, 20, 16, 14, 12)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-eval", type=int, default=1024, help="clouds judged per setting (0: latency only)")
    args = parser.parse_args()
    dev = torch.device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=dev)
    default = Sampler.from_meta(model, meta)
    reference = ReferenceFlow().to(dev).eval()  # untrained: its latency does not depend on its weights
    noise = draw_noise(6, 400, seed=0, device=dev, radius=noise_radius(model))
    ref_noise = reference_noise((6, 400, 2), torch.Generator().manual_seed(0)).to(dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    samplers = [Sampler(method, steps, precision) for method, steps, precision in SETTINGS]
    in_float32 = [s.with_(precision="float32") for s in samplers]  # the reference network's, built before timing
    # every latency first, timed in turns: judging clouds between two timings, or a slow spell of the machine
    # during one setting's runs, made the medians of neighbouring settings disagree by up to 2x
    timed = interleaved_median_seconds(
        [
            fn
            for s, r in zip(samplers, in_float32, strict=True)
            for fn in (
                lambda s=s: (s.sample(model, noise), sync()),
                lambda r=r: (r.sample(reference, ref_noise), sync()),
            )
        ]
    )
    ours, refs = timed[0::2], timed[1::2]
    original = refs[samplers.index(Sampler("euler", 100, "float32"))]  # the reference method's own sampling
    rows = []
    for sampler, t_ours, t_ref in zip(samplers, ours, refs, strict=True):
        quality = ("", "", "")
        if args.n_eval:
            v = judge(generate(model, args.n_eval, EVAL_SEED, sampler=sampler))
            quality = (v.valid_fraction, v.clean_fraction, v.s_fraction)
        mark = " (default)" if sampler == default else ""
        precision = {"float32": "", "auto": ", bfloat16" if autocast_dtype(dev) else ", float32 (auto)"}
        name = f"{sampler.method} {sampler.steps}{precision[sampler.precision]}{mark}"
        rows.append([name, t_ours, t_ref, *quality, f"{t_ours / original:.3f}"])
    print(
        f"sampling 6 clouds x 400 points; {machine()}; model A: {shown(args.checkpoint)}; median of 7 runs, both "
        "networks timed in turns"
    )
    heads = ["sampler", "toyflow (s)", "reference network, float32 (s)", "toyflow valid", "toyflow clean"]
    heads += ["toyflow S-fraction"]
    print(table([*heads, "toyflow / reference method"], rows))
    t_default = ours[samplers.index(default)] if default in samplers else float("nan")
    print(
        f"target: <= 0.10 s with the default sampler: {t_default:.3f} s; the reference method's 100 Euler steps in "
        f"this run: {original:.3f} s (ratio {t_default / original:.3f}; as published: 0.60 s)"
    )


if __name__ == "__main__":
    main()
