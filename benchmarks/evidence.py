"""How much a few rounds of ticks say: the preference model's evidence that the ticks follow the clouds.

    python benchmarks/evidence.py [--checkpoint model_a] [--sessions 400] [--bank 1024] [--flip 0.1] [--after 3,5]
                                  [--shape s_curve|swiss_roll]

B moves as far as the preference model's certainty warrants, and the certainty is the posterior probability that the
ticks follow the clouds: the evidence (a log Bayes factor, in nats) plus the prior log odds. This benchmark draws
many simulated sessions of model A's proposals (4 clouds a round, rounds with no tick or four ticks skipped, as in a
session; session ``k`` shows every annotator the same proposals in the same order) and prints the evidence after a
few labelled rounds for three annotators: the exact one (ticks the clean clouds of ``--shape``, S curves by default),
one that flips each decision with a probability (a person who slips), and the placebo (ticks each cloud with
probability 1/2, blind to its shape). Beside toyflow's preference model, the
**ideal** row is the Bayes factor of a model that knows which clouds the exact annotator would tick (two groups,
each with its own tick rate, against one tick rate for all): no preference model that reads the clouds can expect
more evidence from the same ticks. The **shape known** row is the same Bayes factor for a model told only each
cloud's shape, not whether it is clean: the annotator ticks only clean clouds, but the Chamfer distances toyflow's
model reads tell a clean cloud from a broken one of the same shape no better than chance (printed: the share of
clean clouds among a cloud's 5 nearest tells the two apart with an area under the curve near 0.5), so that row is
what a model that reads the clouds' shapes can at best expect. Where the noisy annotator's evidence overlaps the
placebo's, no method can move B for the one and keep B still for the other.

No model is trained: the proposals are A's, whatever B does.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import torch
from common import add_checkpoint_argument, machine, shown, table

from toyflow import load_checkpoint
from toyflow.data import KINDS
from toyflow.evaluation import generate
from toyflow.judge import judge, oracle_ticks, pairwise_chamfer
from toyflow.preference.belief import fit_belief
from toyflow.preference.labels import labels_from
from toyflow.preference.records import PROPOSALS
from toyflow.preference.settings import MethodSettings
from toyflow.seeds import stream

BANK_SEED = 4242  # the noises of the bank of A's clouds the sessions draw their proposals from
MAX_PROPOSALS = 1000  # proposals a simulated session may show before it gives up on its labelled rounds
RANDOM = "random ticks"
# the preference models compared, by the field of Reading that holds their evidence
MODELS = {"toyflow": "evidence", "ideal": "ideal", "shape known": "by_shape"}


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


@dataclass(frozen=True)
class BankGroups:
    """What the reference models are told of each cloud of the bank: ``wanted (m,)``, the clouds the exact annotator
    ticks (clean clouds of the preferred shape), and ``preferred_shape (m,)``, the clouds of that shape, clean or
    not."""

    wanted: torch.Tensor
    preferred_shape: torch.Tensor

    @classmethod
    def of(cls, bank: torch.Tensor, shape: str) -> BankGroups:
        """The groups of ``bank (m, num_points, 2)`` for an annotator preferring ``shape``, by the judge."""
        verdict = judge(bank)
        is_shape = verdict.of_shape(shape)
        return cls(is_shape & verdict.clean, is_shape)


def clean_separation(bank: torch.Tensor, groups: BankGroups, k: int = 5, points: int | None = None) -> float:
    """How well the Chamfer distances (on the first ``points`` of each cloud, default the preference model's
    ``kernel_points``: as it reads them) tell the clean clouds of the preferred shape in ``bank (m, num_points, 2)``
    from its broken ones: the area under the curve of the share of clean clouds among each cloud's ``k`` nearest of
    that shape (0.5: no better than chance)."""
    points = MethodSettings().kernel_points if points is None else points
    clouds = bank[groups.preferred_shape][:, :points]
    clean = groups.wanted[groups.preferred_shape].float()
    distances = pairwise_chamfer(clouds, clouds)
    distances.fill_diagonal_(float("inf"))
    score = clean[distances.topk(k, largest=False).indices].mean(dim=1)
    positive, negative = score[clean == 1], score[clean == 0]
    if positive.numel() == 0 or negative.numel() == 0:
        return float("nan")
    above = (positive[:, None] > negative[None, :]).float() + 0.5 * (positive[:, None] == negative[None, :]).float()
    return float(above.mean())


@dataclass(frozen=True)
class Reading:
    """A simulated session's evidence (nats) after some labelled rounds: toyflow's preference model's (and its
    certainty), the ideal model's (told which clouds the exact annotator ticks: the preferred shape's clean clouds)
    and the shape model's (told only each cloud's shape)."""

    evidence: float
    certainty: float
    ideal: float
    by_shape: float


def session(
    bank: torch.Tensor,
    groups: BankGroups,
    annotator: str,
    flip: float,
    after: tuple[int, ...],
    seed: int,
    shape: str = "s_curve",
) -> dict[int, Reading]:
    """One simulated session on proposals of 4 clouds drawn from ``bank (m, num_points, 2)`` (``groups``: what the
    ideal and the shape models are told of each): ``{labelled rounds: Reading}`` after each count in ``after``
    (each at least 1). Session ``seed`` shows every annotator the same proposals in the same order (drawn from a
    generator of their own; the ticks and flips from another); ``ValueError`` if ``MAX_PROPOSALS`` of them do not
    give the labelled rounds asked for (an annotator that never ticks)."""
    if min(after) < 1:
        raise ValueError(f"labelled rounds must be counted from 1, got {min(after)}")
    proposals = torch.Generator().manual_seed(seed)
    answers = stream(seed, "evidence-ticks")
    settings = MethodSettings().belief_settings()
    labelled: list[tuple[torch.Tensor, torch.Tensor]] = []
    picks, ticks_all = [], []
    out: dict[int, Reading] = {}
    for _ in range(MAX_PROPOSALS):
        if len(labelled) >= max(after):
            return out
        pick = torch.randperm(bank.shape[0], generator=proposals)[:PROPOSALS]
        clouds = bank[pick]
        if annotator == RANDOM:
            ticks = (torch.rand(PROPOSALS, generator=answers) < 0.5).nonzero().flatten().tolist()
        else:
            ticks = oracle_ticks(clouds, flip, answers, shape=shape)
        labels = labels_from(PROPOSALS, ticks)
        if labels is None or len(ticks) == PROPOSALS:  # nothing ticked, or all alike: a session skips the round
            continue
        labelled.append((clouds, labels))
        picks.append(pick)
        ticks_all.append((labels > 0).float())
        if len(labelled) in after:
            belief = fit_belief(labelled, settings)
            seen, ticked = torch.cat(picks), torch.cat(ticks_all)
            out[len(labelled)] = Reading(
                belief.evidence,
                belief.certainty,
                ideal_evidence(groups.wanted[seen], ticked),
                ideal_evidence(groups.preferred_shape[seen], ticked),
            )
    if len(labelled) >= max(after):
        return out
    raise ValueError(f"{MAX_PROPOSALS} proposals gave {len(labelled)} labelled rounds of {max(after)} ({annotator})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--bank", type=int, default=1024, help="A's clouds the proposals are drawn from")
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--after", default="3,5")
    parser.add_argument("--shape", default="s_curve", choices=KINDS, help="the shape the annotators prefer")
    args = parser.parse_args()
    model_a, meta = load_checkpoint(args.checkpoint)
    bank = generate(model_a, args.bank, BANK_SEED, meta=meta)
    groups = BankGroups.of(bank, args.shape)
    after = tuple(int(c) for c in args.after.split(","))
    prior = MethodSettings().prior_log_odds
    print(f"evidence benchmark; {machine()}; model A: {shown(args.checkpoint)}; {args.sessions} sessions per annotator")
    share = float(groups.wanted.float().mean())
    print(f"preferred shape: {args.shape}; A's clean clouds of it: {share:.2f}; prior log odds {prior}")
    separation = clean_separation(bank, groups)
    print(f"clean or broken, among A's clouds of that shape, told by their 5 nearest: AUC {separation:.2f}")
    rows, quantiles = [], {}
    for annotator, flip in (("exact", 0.0), (f"flips {args.flip}", args.flip), (RANDOM, 0.0)):
        runs = [session(bank, groups, annotator, flip, after, seed, args.shape) for seed in range(args.sessions)]
        for c in after:
            certainty = np.array([r[c].certainty for r in runs])
            for model in MODELS:
                e = np.array([getattr(r[c], MODELS[model]) for r in runs])
                q10, q50, q90 = np.quantile(e, [0.1, 0.5, 0.9])
                quantiles[annotator, c, model] = (q50, q90)
                sure = (certainty >= 0.5).mean() if model == "toyflow" else (e + prior >= 0).mean()
                rows.append([annotator, c, model, q10, q50, q90, float(e.max()), float(sure)])
    headers = ["annotator", "labelled rounds", "model", "evidence q10", "median", "q90", "max", "certainty >= 0.5"]
    print(table(headers, rows))
    noisy = f"flips {args.flip}"
    for c in after:
        gaps = ", ".join(
            f"{model} {quantiles[noisy, c, model][0] - quantiles[RANDOM, c, model][1]:.2f}" for model in MODELS
        )
        print(f"after {c}: the noisy annotator's median above the placebo's q90, nats: {gaps}")


if __name__ == "__main__":
    main()
