"""Make the README's pictures from the shipped model A (and one oracle round of model B).

    python docs/make_figures.py

    python docs/make_figures.py --views     # only the teaching views' pictures

    python docs/make_figures.py --belief    # only what B believes

Writes docs/model_a_samples.png (12 samples of A, red) and docs/same_noise.png (4 proposals of A in red,
B on the same noise in green after three labelled rounds of the simulated annotator, 6 fresh samples of B),
docs/fidelity.png (real clouds, A's and B's on a canvas wider than the data's box, stray points marked), and
the teaching views after three rounds of the simulated annotator: docs/decision_over_time.png, docs/motion.png and
docs/flip_map.png, drawn by the same functions as the widgets, and what B believes (the preference model's reading
of A's pool, as the picker's view draws it) after those three rounds, docs/belief.png, and after three labelled
rounds of random ticks (the placebo), docs/belief_random.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

from toyflow import SHIPPED_CHECKPOINT, load_checkpoint  # noqa: E402
from toyflow.curves import curve_distances  # noqa: E402
from toyflow.data import sample_mixture  # noqa: E402
from toyflow.flips import CATEGORIES, DESCRIPTIONS  # noqa: E402
from toyflow.judge import calibrate, judge  # noqa: E402
from toyflow.plotting import GREEN, RED, draw_panel, plot_clouds, save_round_figure  # noqa: E402
from toyflow.preference import (  # noqa: E402
    Answer,
    PreferenceSession,
    ViewMeter,
    oracle_answer,
    play_round,
    play_until,
    random_answer,
)
from toyflow.widgets.belief import belief_png  # noqa: E402
from toyflow.widgets.flipview import COLORS, flip_map_png  # noqa: E402
from toyflow.widgets.motion import motion_frame  # noqa: E402

DOCS = Path(__file__).resolve().parent


def main() -> None:
    model, meta = load_checkpoint(SHIPPED_CHECKPOINT, device="cpu")
    session = PreferenceSession(model, meta=meta, seed=0)
    samples = session.sample_a(12, seed=0)
    v = judge(samples)
    titles = [("S" if s else "roll") + (", clean" if ok else "") for s, ok in zip(v.is_s, v.clean, strict=True)]
    fig = plot_clouds(samples, RED, titles=titles, ncols=6, suptitle="model A: 12 samples (seed 0)")
    fig.savefig(DOCS / "model_a_samples.png", dpi=100)
    print("wrote", DOCS / "model_a_samples.png")

    play_until(session, oracle_answer, 3)
    proposal = session.propose(4)  # fresh proposals, not taught on: "None of these" shows B on their noise
    shown = play_round(session, Answer(), proposal)
    rounds = session.labelled_rounds
    title = f"after {rounds} labelled rounds: A (red) and B on the same noise (green), 6 fresh samples of B"
    save_round_figure(DOCS / "same_noise.png", proposal.samples, shown.b_same, shown.b_fresh, title=title)
    print("wrote", DOCS / "same_noise.png")
    fidelity_figure(session)


def fidelity_figure(session: PreferenceSession, per_row: int = 6, seed: int = 7) -> None:
    """Real clouds, A's and B's (after the session's rounds) on [-1.6, 1.6]^2: the data's box [-1, 1] dashed, each
    stray point (farther from its class's noise-free curve than the judge's threshold) ringed in black."""
    import matplotlib.pyplot as plt

    real, _ = sample_mixture(per_row, 0.5, seed=seed)
    rows = [
        ("real", real, "0.4"),
        ("A", session.sample_a(per_row, seed), RED),
        ("B", session.sample_b(per_row, seed), GREEN),
    ]
    limits = calibrate().stray
    fig, axes = plt.subplots(3, per_row, figsize=(1.9 * per_row, 6.2))
    for (name, clouds, color), row in zip(rows, axes, strict=True):
        v = judge(clouds)
        dist = curve_distances(clouds, v.is_s)
        for k, ax in enumerate(row):
            stray = dist[k] > limits[0 if v.is_s[k] else 1]
            ax.set_xlim(-1.6, 1.6)
            ax.set_ylim(-1.6, 1.6)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.add_patch(plt.Rectangle((-1, -1), 2, 2, fill=False, ls="--", lw=0.6, ec="0.6"))
            ax.scatter(clouds[k, :, 0], clouds[k, :, 1], s=2, color=color, linewidths=0)
            ax.scatter(clouds[k, stray, 0], clouds[k, stray, 1], s=28, facecolors="none", edgecolors="k", lw=0.8)
            verdict = ("S" if v.is_s[k] else "roll") + (", clean" if v.clean[k] else f", {int(stray.sum())} stray")
            ax.set_title(f"{name}: {verdict}", fontsize=8)
    fig.suptitle("real clouds, model A, model B (after 3 labelled rounds) on a canvas wider than the data's box")
    fig.tight_layout()
    fig.savefig(DOCS / "fidelity.png", dpi=90)
    plt.close(fig)
    print("wrote", DOCS / "fidelity.png")


def s_curve_session() -> PreferenceSession:
    """A session of the shipped model A after 3 labelled rounds that ticked the S curves (the judge's reading)."""
    model, meta = load_checkpoint(SHIPPED_CHECKPOINT, device="cpu")
    session = PreferenceSession(model, meta=meta, seed=0)
    play_until(session, oracle_answer, 3)
    return session


def belief_views(session: PreferenceSession | None = None) -> None:
    """What B believes after 3 rounds that ticked the S curves (``session``, else a new one), and after 3 labelled
    rounds of random ticks on the same model A."""
    session = session or s_curve_session()
    random = PreferenceSession(session.a, meta=session.a_meta, seed=0)
    play_until(random, random_answer, 3)
    for name, taught in (("belief.png", session), ("belief_random.png", random)):
        reading = ViewMeter(taught).belief()
        (DOCS / name).write_bytes(belief_png(reading))
        print("wrote", DOCS / name, f"(certainty {reading.certainty:.2f}, evidence {reading.evidence:+.1f} nats)")


def teaching_views() -> None:
    """The decision over time, A and B in motion, and the flip map, after 3 rounds that ticked the S curves; then
    what B believes."""
    from matplotlib.figure import Figure
    from PIL import Image

    session = s_curve_session()
    rounds = session.labelled_rounds
    meter = ViewMeter(session)
    proposal = session.propose(4)  # fresh proposals, never taught on
    views = meter.same_noise(proposal)
    a_end, b_end = views.trajectory_a[-1], views.trajectory_b[-1]

    fig = Figure(figsize=(8.4, 6.0))
    axes = fig.subplots(3, 4, gridspec_kw={"height_ratios": [1, 1, 0.8]})
    for i in range(4):
        draw_panel(axes[0, i], a_end[i].numpy(), RED, f"A #{i}")
        draw_panel(axes[1, i], b_end[i].numpy(), GREEN, f"B, same noise #{i}")
        ax = axes[2, i]
        ax.plot(views.times, views.p_a[i], "o--", color=RED, ms=3, label="A")
        ax.plot(views.times, views.p_b[i], "o-", color=GREEN, ms=3, label="B")
        ax.axhline(0.5, color="#bbbbbb", lw=0.8, ls=":")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("t (noise → shape)", fontsize=8)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.set_ylabel("P(S | x_t, t)", fontsize=8)
            ax.legend(fontsize=7)
    fig.suptitle(f"The decision over time after {rounds} labelled rounds: new proposals, never taught on", fontsize=10)
    fig.tight_layout()
    fig.savefig(DOCS / "decision_over_time.png", dpi=100)
    print("wrote", DOCS / "decision_over_time.png")

    steps = views.trajectory_a.shape[0] - 1
    picks = sorted({round(steps * f) for f in (0, 0.25, 0.5, 0.75, 1.0)})
    frames = [motion_frame(views.trajectory_a[k], views.trajectory_b[k], size=96) for k in picks]
    gap = np.full((frames[0].shape[0], 16, 3), 255, dtype=np.uint8)
    strip = np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1)
    Image.fromarray(strip).save(DOCS / "motion.png")
    at = ", ".join(f"{float(views.times[k]):.2f}" for k in picks)
    print("wrote", DOCS / "motion.png", f"(frames at t = {at})")

    bank = meter.bank()
    (DOCS / "flip_map.png").write_bytes(flip_map_png(bank.a_clouds, bank.b_clouds, bank.flips, size=40, columns=8))
    print("wrote", DOCS / "flip_map.png:", bank.flips.summary())
    legend = {DESCRIPTIONS[c]: COLORS[c] for c in CATEGORIES}
    print("frame colours:", legend)
    belief_views(session)


if __name__ == "__main__":
    if "--belief" in sys.argv[1:]:
        belief_views()
    else:
        if "--views" not in sys.argv[1:]:
            main()
        teaching_views()
