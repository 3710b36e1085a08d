"""How much a few rounds of ticks say: the preference model's evidence that the ticks follow the clouds.

    python benchmarks/evidence.py [--checkpoint model_a] [--sessions 400] [--flip 0.1] [--after 3,5]

B moves as far as the preference model's certainty warrants, and the certainty is the posterior probability that
the ticks follow the clouds: the evidence (a log Bayes factor, in nats) plus the prior log odds. This benchmark
draws many simulated sessions of model A's proposals (4 clouds a round, rounds with no tick or four ticks skipped,
as in a session) and prints the evidence after a few labelled rounds for three annotators: the exact one (ticks the
clean S curves), one that flips each decision with a probability (a person who slips), and the placebo (ticks
each cloud with probability 1/2, blind to its shape). Beside toyflow's preference model, the **ideal** row is the
Bayes factor of a model that knows which clouds the exact annotator would tick (two groups, each with its own
tick rate, against one tick rate for all): no preference model that reads the clouds can expect more evidence from
the same ticks. Where the noisy annotator's evidence overlaps the placebo's, no method can move B for the one and
keep B still for the other.

No model is trained: the proposals are A's, whatever B does.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from common import machine, table

from toyflow import load_checkpoint
from toyflow.evaluation import generate
from toyflow.judge import oracle_ticks
from toyflow.preference.belief import fit_belief
from toyflow.preference.labels import labels_from
from toyflow.preference.records import PROPOSALS
from toyflow.preference.settings import MethodSettings
from toyflow.shipped import SHIPPED_MODELS, shipped_checkpoint

BANK_SEED = 4242  # the noises of the bank of A's clouds the sessions draw their proposals from
RANDOM = "random ticks"


def log_beta(a: float, b: float) -> float:
    """``log B(a, b)``."""
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def ideal_evidence(groups: torch.Tensor, ticks: torch.Tensor) -> float:
    """Log Bayes factor (nats) of "each group has its own tick rate" against "one tick rate", uniform priors on
    the rates: ``groups (n,)`` bool (the clouds the exact annotator would tick), ``ticks (n,)`` in {0, 1}."""
    total = 0.0
    for mask in (groups, ~groups):
        k, n = float(ticks[mask].sum()), int(mask.sum())
        total += log_beta(k + 1, n - k + 1)
    k, n = float(ticks.sum()), int(ticks.numel())
    return total - log_beta(k + 1, n - k + 1)


def session(
    bank: torch.Tensor, wanted: torch.Tensor, annotator: str, flip: float, after: tuple[int, ...], seed: int
) -> dict[int, tuple[float, float, float]]:
    """One simulated session on proposals of 4 clouds drawn from ``bank (m, num_points, 2)``: ``{labelled rounds:
    (evidence, certainty, ideal evidence)}`` after each count in ``after``."""
    gen = torch.Generator().manual_seed(seed)
    settings = MethodSettings().belief_settings()
    labelled: list[tuple[torch.Tensor, torch.Tensor]] = []
    groups, ticks_all = [], []
    out: dict[int, tuple[float, float, float]] = {}
    while len(labelled) < max(after):
        pick = torch.randperm(bank.shape[0], generator=gen)[:PROPOSALS]
        clouds = bank[pick]
        if annotator == RANDOM:
            ticks = (torch.rand(PROPOSALS, generator=gen) < 0.5).nonzero().flatten().tolist()
        else:
            ticks = oracle_ticks(clouds, flip, gen)
        labels = labels_from(PROPOSALS, ticks)
        if labels is None or len(ticks) == PROPOSALS:  # nothing ticked, or all alike: a session skips the round
            continue
        labelled.append((clouds, labels))
        groups.append(wanted[pick])
        ticks_all.append((labels > 0).float())
        if len(labelled) in after:
            belief = fit_belief(labelled, settings)
            ideal = ideal_evidence(torch.cat(groups), torch.cat(ticks_all))
            out[len(labelled)] = (belief.evidence, belief.certainty, ideal)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="model_a", help=f"a path, or {' / '.join(SHIPPED_MODELS)}")
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--bank", type=int, default=1024, help="A's clouds the proposals are drawn from")
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--after", default="3,5")
    args = parser.parse_args()
    path = shipped_checkpoint(args.checkpoint) if args.checkpoint in SHIPPED_MODELS else args.checkpoint
    model_a, meta = load_checkpoint(path)
    bank = generate(model_a, args.bank, BANK_SEED, meta=meta)
    wanted = torch.zeros(args.bank, dtype=torch.bool)
    wanted[oracle_ticks(bank)] = True
    after = tuple(int(c) for c in args.after.split(","))
    prior = MethodSettings().prior_log_odds
    print(f"evidence benchmark; {machine()}; model A: {args.checkpoint}; {args.sessions} sessions per annotator")
    print(f"A's clean S curves: {float(wanted.float().mean()):.2f}; prior log odds {prior}")
    rows = []
    for annotator, flip in (("exact", 0.0), (f"flips {args.flip}", args.flip), (RANDOM, 0.0)):
        runs = [session(bank, wanted, annotator, flip, after, seed) for seed in range(args.sessions)]
        for c in after:
            evidence = np.array([r[c][0] for r in runs])
            certainty = np.array([r[c][1] for r in runs])
            ideal = np.array([r[c][2] for r in runs])
            for model, e in (("toyflow", evidence), ("ideal", ideal)):
                q10, q50, q90 = np.quantile(e, [0.1, 0.5, 0.9])
                sure = (certainty >= 0.5).mean() if model == "toyflow" else (e + prior >= 0).mean()
                rows.append([annotator, c, model, q10, q50, q90, float(e.max()), float(sure)])
    headers = ["annotator", "labelled rounds", "model", "evidence q10", "median", "q90", "max", "certainty >= 0.5"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
