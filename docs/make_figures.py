"""Make the README's pictures from the shipped model A (and one oracle round of model B).

    python docs/make_figures.py

Writes docs/model_a_samples.png (12 samples of A, red) and docs/same_noise.png (4 proposals of A in red,
B on the same noise in green after three labelled rounds of the simulated annotator, 6 fresh samples of B).
The picker's picture, docs/picker.png, is a screenshot taken by the browser tests
(tests/artifacts/browser/02_preference-5-taught-element.png), copied here by hand.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from toyflow import SHIPPED_CHECKPOINT, load_checkpoint  # noqa: E402
from toyflow.judge import judge  # noqa: E402
from toyflow.plotting import RED, plot_clouds, save_round_figure  # noqa: E402
from toyflow.preference import Answer, PreferenceSession, oracle_answer, play_round  # noqa: E402

DOCS = Path(__file__).resolve().parent


def main() -> None:
    model, meta = load_checkpoint(SHIPPED_CHECKPOINT, device="cpu")
    session = PreferenceSession(model, meta=meta, seed=0)
    samples = session.sample_a(12, seed=0)
    v = judge(samples)
    titles = [("S" if s else "roll") + ("" if ok else " (unclean)") for s, ok in zip(v.is_s, v.valid, strict=True)]
    fig = plot_clouds(samples, RED, titles=titles, ncols=6, suptitle="model A: 12 samples (seed 0)")
    fig.savefig(DOCS / "model_a_samples.png", dpi=100)
    print("wrote", DOCS / "model_a_samples.png")

    while session.labelled_rounds < 3 and session.proposals_drawn < 40:
        proposal = session.propose(4)
        play_round(session, oracle_answer(session, proposal), proposal)
    proposal = session.propose(4)  # fresh proposals, not taught on: "None of these" shows B on their noise
    shown = play_round(session, Answer(), proposal)
    rounds = session.labelled_rounds
    title = f"after {rounds} labelled rounds: A (red) and B on the same noise (green), 6 fresh samples of B"
    save_round_figure(DOCS / "same_noise.png", proposal.samples, shown.b_same, shown.b_fresh, title=title)
    print("wrote", DOCS / "same_noise.png")


if __name__ == "__main__":
    main()
