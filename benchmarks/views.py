"""How long each part of a round takes, the teaching views included: what the picker waits for, and what follows.

    python benchmarks/views.py [--rounds 5] [--threads N] [--checkpoint PATH or NAME] [--device cpu]

Per round (model A's proposals ticked [0] or [0, 1] alternately, so that every round teaches B): B's update, the
re-sampling of B (4 same-noise + 6 fresh), drawing B's 10 tiles, then B's frozen copy for the views and what the
picker draws after the tiles on its worker thread: the decision over time (B's trajectory, P(S) along it, 4 small
plots; A's is read while the proposals are shown, before the answer, as are the preference model's distances to
them, which no answer changes: ``ViewMeter.while_shown``), A and B in motion (one frame per sampler step), B on the
64 held-out noises (sampled and judged once, for both views below), the flip map (the picture of the first 32) and the
chart (the figures of all 64). Medians over the rounds; the machine's load average is printed beside them.

Each round is played twice in turns: answered at once, and answered once B as the ticks make it was sampled from the
round's noise and the held-out noises while the ticks stood (``rehearse_round``, as the picker does while the person
ticks; the round and the views then take those samplings), and how long that reading takes: the pause after the last
tick it needs. Beside them, in turns with them, a round of the original's method (``reference``: its update, the same
sampling and tiles), and the ratio of everything on screen (the round and every view) to it: the target is <= 1/3, the
tiles first and <= 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from common import add_checkpoint_argument, draw_b_tiles, machine, shown, table

from toyflow import load_checkpoint
from toyflow.preference import Answer, ChartMeter, HeldOut, PreferenceSession, Proposal, ViewMeter, play_round
from toyflow.preference.round import CHART_CLOUDS, FRESH_N, RoundResult, rehearse_round
from toyflow.widgets.decision import decision_png
from toyflow.widgets.flipview import flip_map_png
from toyflow.widgets.motion import motion_pngs
from toyflow.worker import TorchWorker

READ_AHEAD = "reading ahead, from the tick (not on screen: the person's pause)"


def timed(fn):
    """``(result, seconds)`` of ``fn()``."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def one_round(
    session: PreferenceSession,
    views: ViewMeter,
    chart: ChartMeter,
    ticks: list[int],
    worker: TorchWorker,
    ahead: bool = False,
) -> dict[str, float]:
    """The seconds of each part of one round: the round on this thread, the views on ``worker``, as the picker
    does; with ``ahead``, B as the ticks make it read on the held-out noises before the answer, as the picker does
    while the person ticks (answered once the worker is done with it)."""
    proposal = session.propose(4)
    worker.submit(views.while_shown, proposal).result()  # while the proposals are shown, as the picker does
    reading = {}
    if ahead:  # while the ticks stand, as the picker does: how long the person must pause for all of it
        start = time.perf_counter()
        rehearsal = session.rehearsal(Answer(ticks=ticks), proposal)
        worker.submit(rehearse_round, session, rehearsal, FRESH_N, views.held_out).result()
        reading = {READ_AHEAD: time.perf_counter() - start}
    result = play_round(session, Answer(ticks=ticks), proposal)
    _, tiles = timed(lambda: draw_b_tiles(result.b_same, result.b_fresh))
    b_model, frozen = timed(views.snapshot)  # the painter's frozen copy of B, taken where the round ran
    after = worker.submit(after_tiles, proposal, views, chart, b_model, result).result()
    return {
        "update": result.timing["update"],
        "re-sampling B": result.timing["sample"],
        "B's tiles": tiles,
        "round (the picker waits for it)": result.timing["total"] + tiles,
        "B's frozen copy for the views": frozen,
        **after,
        **reading,
    }


def after_tiles(
    proposal: Proposal, views: ViewMeter, chart: ChartMeter, b_model: torch.nn.Module, result: RoundResult
) -> dict[str, float]:
    """The seconds of each view drawn after B's tiles."""
    same, measured = timed(lambda: views.same_noise(proposal, b_model, result.b_trace))
    _, plots = timed(lambda: [decision_png(same.times, same.p_a[i], same.p_b[i]) for i in range(4)])
    _, motion = timed(lambda: motion_pngs(same.trajectory_a, same.trajectory_b))
    _, held_out = timed(lambda: views.held_out.reading(b_model))
    bank, bank_s = timed(lambda: views.bank(b_model))
    _, picture = timed(lambda: flip_map_png(bank.a_clouds, bank.b_clouds, bank.flips))
    _, chart_s = timed(lambda: chart.measure(result.record.round, chart.snapshot()))
    return {
        "decision over time": measured + plots,
        "A and B in motion": motion,
        "B on the held-out noises (sampled, judged)": held_out,
        "flip map (from them)": bank_s + picture,
        "chart (from them)": chart_s,
    }


def reference_round(session: PreferenceSession, ticks: list[int]) -> float:
    """The seconds of one round of the original's method, its tiles drawn."""
    proposal = session.propose(4)
    result = play_round(session, Answer(ticks=ticks), proposal)
    _, tiles = timed(lambda: draw_b_tiles(result.b_same, result.b_fresh))
    return result.timing["total"] + tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model_a, meta = load_checkpoint(args.checkpoint, device=args.device)
    session = PreferenceSession(model_a, meta=meta, seed=0)
    held_out = HeldOut(session, CHART_CLOUDS)  # as the picker does: the chart and the flip map read one sampling
    views, chart = ViewMeter(session, held_out=held_out), ChartMeter(session, held_out=held_out)
    reference = PreferenceSession(model_a, meta=meta, seed=0, method="reference")
    worker = TorchWorker()  # the picker's worker thread
    one_round(
        session, views, chart, [0], worker
    )  # warm-up: the judge's calibration, matplotlib's first figure, A's bank
    reference_round(reference, [0])
    rows: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    reference_s = []
    for r in range(args.rounds):  # in turns, so that a slow spell of the machine falls on all alike
        ticks = [0] if r % 2 else [0, 1]
        for ahead in (False, True):
            rows[ahead].append(one_round(session, views, chart, ticks, worker, ahead))
        reference_s.append(reference_round(reference, ticks))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    model = shown(args.checkpoint)
    print(f"views benchmark; {machine()}; model A: {model}; load average {load}; {args.rounds} rounds, median seconds")
    parts = list(rows[False][0])
    columns = ["part of a round", "answered at once", "answered once the ticks were read ahead"]
    print(table(columns, [[p, *(statistics.median(r[p] for r in rows[a]) for a in (False, True))] for p in parts]))
    original = statistics.median(reference_s)
    read = statistics.median(r[READ_AHEAD] for r in rows[True])
    print(f"reading B ahead (the copy, its update, its tiles and its held-out clouds, on the worker): {read:.3f} s")
    for ahead, how in ((False, "answered at once"), (True, "answered once the ticks were read ahead")):
        after = statistics.median(sum(r[p] for p in parts[4:]) for r in rows[ahead])  # a median of rounds
        on_screen = statistics.median(sum(r[p] for p in parts[3:]) for r in rows[ahead])
        print(
            f"{how}: after the tiles (B's frozen copy, then the views on the worker thread) {after:.3f} s; everything "
            f"on screen (the round, then every view) {on_screen:.3f} s; the original's round (reference method, same "
            f"run) {original:.3f} s; ratio {on_screen / original:.2f}"
        )
    print("targets: everything on screen <= 1/3 of the original's round; the round itself (tiles first) <= 0.3 s")


if __name__ == "__main__":
    main()
