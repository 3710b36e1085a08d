"""The shipped model A: loads, is small, and still draws what the tutorial needs (a fast regression guard)."""

from __future__ import annotations

import pytest

from toyflow import SHIPPED_CHECKPOINT, load_checkpoint
from toyflow.checkpoint import read_metadata


def test_shipped_checkpoint_is_small_and_documented():
    assert SHIPPED_CHECKPOINT.stat().st_size < 5 * 1024 * 1024
    meta = read_metadata(SHIPPED_CHECKPOINT)
    assert meta["mixture"]["s_fraction"] == pytest.approx(0.2)
    assert meta["recipe"]["seed"] == meta["seed"] == 0
    assert meta["steps"] == meta["recipe"]["steps"]
    for key in ("s_fraction", "valid", "valid_s", "valid_roll", "clean", "clean_s", "clean_roll"):
        assert 0.0 <= meta["evaluation"][key] <= 1.0
    assert set(meta["sampler"]) == {"method", "steps", "precision"}


@pytest.mark.slow
def test_shipped_model_a_draws_mostly_swiss_rolls_inside_the_box_nearly_all_clean():
    from toyflow.evaluation import generate
    from toyflow.judge import judge

    model, meta = load_checkpoint(SHIPPED_CHECKPOINT, device="cpu")
    clouds = generate(model, 256, seed=1234, meta=meta)
    summary = judge(clouds).summary()
    assert abs(summary["s_fraction"] - 0.2) <= 0.08, summary
    assert summary["valid"] >= 0.95, summary
    assert summary["valid_s"] >= 0.9, summary
    # measured at 1024 clouds: clean 0.911 (S curves 0.969, rolls 0.898); issue 10's target: 0.90, 0.85 per class.
    # 256 clouds leave a sampling error of about 0.02, so the bounds sit three of them below the measured figures
    assert summary["clean"] >= 0.85, summary
    assert summary["clean_s"] >= 0.85 and summary["clean_roll"] >= 0.82, summary
    assert float(clouds.abs().max()) <= 1.1  # no point far outside the data's box [-1, 1]


@pytest.mark.slow
def test_two_oracle_rounds_raise_the_s_fraction_on_fixed_noises():
    from toyflow.judge import judge
    from toyflow.preference import PreferenceSession, oracle_answer, play_round

    model, meta = load_checkpoint(SHIPPED_CHECKPOINT, device="cpu")
    session = PreferenceSession(model, meta=meta, seed=0)
    while session.labelled_rounds < 2 and session.proposals_drawn < 20:
        proposal = session.propose(4)
        play_round(session, oracle_answer(session, proposal), proposal)
    assert session.labelled_rounds == 2
    a, b = judge(session.sample_a(64, seed=99)), judge(session.sample_b(64, seed=99))
    assert b.s_fraction >= a.s_fraction + 0.3, (a.summary(), b.summary())
    assert b.valid_fraction >= 0.8, b.summary()


@pytest.mark.slow
def test_preferring_swiss_rolls_drives_b_to_swiss_rolls_as_clean_as_a():
    """Any preference is the person's: the simulated annotator that ticks clean Swiss rolls drives B to rolls after
    3 labelled rounds, and B draws them as well as A draws its own rolls (valid and clean fractions kept within 0.05
    of those of A's rolls: A's S curves are cleaner than its rolls, so its overall fraction is not B's yardstick)."""
    from toyflow.judge import judge
    from toyflow.preference import PreferenceSession, oracle_answer, play_round

    model, meta = load_checkpoint(SHIPPED_CHECKPOINT, device="cpu")
    session = PreferenceSession(model, meta=meta, seed=0)
    while session.labelled_rounds < 3 and session.proposals_drawn < 30:
        proposal = session.propose(4)
        play_round(session, oracle_answer(session, proposal, shape="swiss_roll"), proposal)
    assert session.labelled_rounds == 3
    a, b = judge(session.sample_a(256, seed=99)), judge(session.sample_b(256, seed=99))
    assert 1 - b.s_fraction >= 0.95, b.summary()
    assert b.valid_fraction >= a.valid_fraction_of(s_curves=False) - 0.05, (a.summary(), b.summary())
    assert b.clean_fraction >= a.clean_fraction_of(s_curves=False) - 0.05, (a.summary(), b.summary())
