"""toyflow.widgets.controller: a picker wired to a preference session, driven through its widgets (checkboxes,
picture clicks, buttons).

A small random model A and cheap method settings keep every round well under a second or two.
"""

from __future__ import annotations

import importlib
import threading
import time

import numpy as np
import pytest
import torch
from conftest import FAST, SMALL, make_flow, same_weights, weights

from toyflow.data import make_cloud
from toyflow.preference import PreferenceSession
from toyflow.preference import session as session_module
from toyflow.preference.heldout import HeldOut
from toyflow.preference.rehearsal import same_weights as same_networks
from toyflow.solver import SamplingStopped
from toyflow.widgets import (
    NEXT,
    NONE_OF_THESE,
    TEACH,
    PreferenceApp,
    ProposalPicker,
    connect,
    controller,
    find_by_class,
)
from toyflow.widgets.painter import ViewPainter


def make_app(soft: bool = False, seed: int = 0, background: bool = True) -> PreferenceApp:
    session = PreferenceSession(make_flow(SMALL, seed=3), seed=seed, sampler_steps=4, settings=FAST)
    return PreferenceApp(session, soft=soft, eval_n=8, background=background)


def make_picker(soft: bool = False, background: bool = True) -> ProposalPicker:
    return make_app(soft=soft, background=background).picker


def count(picker: ProposalPicker, css_class: str) -> int:
    return len(find_by_class(picker, css_class))


@pytest.fixture
def app() -> PreferenceApp:
    return make_app()


@pytest.fixture
def picker(app) -> ProposalPicker:
    return app.picker


def test_the_judge_s_grids_are_built_while_the_first_proposals_are_shown():
    """Before the first answer the worker builds what the judge's first call would (its nearest-point grids: 0.55 s
    on the 2-core CPU, which the first round's views waited for), and the first round draws every view."""
    judge_module = importlib.import_module("toyflow.judge")  # (``toyflow.judge`` is also the function's name)
    curves = importlib.import_module("toyflow.curves")
    judge_module._template_grids.cache_clear()
    curves._grid.cache_clear()
    app = make_app()
    assert app.picker.wait()
    assert len(judge_module._template_grids) == 1
    assert len(curves._grid) == 2  # both curves'
    app.picker.select([0])
    app.picker.submit()
    assert app.picker.wait()
    assert app.painter.timing.keys() >= {"decision", "motion", "flip_map"}  # every view drawn


def test_a_part_read_ahead_not_begun_when_the_answer_comes_is_left_to_the_views(monkeypatch):
    """Reading ahead must not slow the first tiles: the parts that have not begun when the person answers are not
    run (the views make what they need after the tiles)."""
    begun, release = threading.Event(), threading.Event()

    def slow_judge_preparation() -> None:
        begun.set()
        release.wait(30)

    drawn = []
    monkeypatch.setattr(controller, "prepare_judge", slow_judge_preparation)
    monkeypatch.setattr(ViewPainter, "prepare_drawing", lambda painter: drawn.append(painter))
    app = make_app()
    assert begun.wait(30)
    app.picker.select([0])
    app.picker.submit()  # the round, while the worker is still in the first part
    release.set()
    assert app.picker.wait()
    assert drawn == []  # the second part had not begun: left
    assert app.painter.timing.keys() >= {"decision", "motion", "flip_map"}  # and every view drawn all the same


def test_model_a_on_the_held_out_noises_is_read_while_the_first_proposals_are_shown(monkeypatch):
    """The first round's chart point and flip map read model A's clouds of the held-out noises, whatever the answer:
    the worker samples them before it (giving way to an answer), so the first round samples only B's."""
    reads = []
    read = HeldOut._read

    def spy(held_out, model, stop):
        reads.append(("A" if model is held_out.session.a else "B", stop is not None))
        return read(held_out, model, stop)

    monkeypatch.setattr(HeldOut, "_read", spy)
    app = make_app()
    assert app.picker.wait()
    assert reads == [("A", True)]  # read ahead, before any answer
    app.picker.select([0])
    app.picker.submit()
    assert app.picker.wait()
    assert reads == [("A", True), ("B", False)]
    assert app.painter.timing.keys() >= {"decision", "motion", "flip_map"}


def test_an_answer_stops_the_read_ahead_of_model_a_and_the_views_read_it_all_the_same(monkeypatch):
    """An answer that comes while model A is sampled ahead stops it before its next step (nothing kept); the views
    then sample it themselves, the same clouds."""
    begun, release, stopped = threading.Event(), threading.Event(), []
    read = HeldOut._read

    def held_back(held_out, model, stop):
        if stop is None:
            return read(held_out, model, stop)
        begun.set()
        release.wait(30)  # the person answers now, before the first step
        try:
            return read(held_out, model, stop)
        except SamplingStopped:
            stopped.append(model)
            raise

    monkeypatch.setattr(HeldOut, "_read", held_back)
    app = make_app()
    assert begun.wait(30)
    app.picker.select([0])
    app.picker.submit()
    release.set()
    assert app.picker.wait()
    assert stopped == [app.session.a]
    a = app.held_out.reading(app.session.a)
    assert torch.equal(a.clouds, app.session.sampler.sample(app.session.a, app.held_out.noise()).cpu())
    assert app.painter.timing.keys() >= {"decision", "motion", "flip_map"}


def test_a_reset_before_any_answer_does_not_wait_for_the_read_ahead(monkeypatch):
    """The read-ahead of model A waits for the session's own preparation (A's pool); a reset meanwhile (which waits
    for the worker) makes it give way at once, and nothing of A is sampled ahead."""
    from toyflow.preference.methods.reward_fm import RewardFM

    release, reads = threading.Event(), []
    prepare = RewardFM.prepare
    monkeypatch.setattr(RewardFM, "prepare", lambda method, bench: release.wait(30) and prepare(method, bench))
    read = HeldOut._read
    monkeypatch.setattr(
        HeldOut, "_read", lambda held_out, model, stop: reads.append(stop) or read(held_out, model, stop)
    )
    session = PreferenceSession(
        make_flow(SMALL, seed=3), seed=0, sampler_steps=4, settings=FAST, prepare_in_background=True
    )
    app = PreferenceApp(session, eval_n=8)
    try:
        start = time.perf_counter()
        app.reset()  # the pool is still being drawn (for 30 s)
        assert time.perf_counter() - start < 10, "the reset waited for the read-ahead"
    finally:
        release.set()
    assert app.picker.wait() and not any(reads)  # nothing was sampled ahead (the reset's chart read A itself)


# ------------------------------------------------------------------------------------ layout, DOM contract
def test_dom_contract_before_any_round(picker):
    assert find_by_class(picker, "toyflow-picker") == [picker]
    assert count(picker, "toyflow-tile") == 4
    assert count(picker, "toyflow-tile-picture") == 4
    assert count(picker, "toyflow-tile-selected") == 0
    assert count(picker, "toyflow-b-tile") == 0
    assert count(picker, "toyflow-b-fresh") == 0
    assert count(picker, "toyflow-status") == 1
    assert "labelled rounds: 0" in picker.status_text
    assert [b.description for b in (picker.teach_button, picker.skip_button, picker.next_button)] == [
        TEACH,
        NONE_OF_THESE,
        NEXT,
    ]
    assert (TEACH, NONE_OF_THESE, NEXT) == ("Teach model B", "None of these", "Next proposals")
    for tile in picker.tiles:
        # the clickable picture holds the PNG of the red proposal and the button that takes its clicks
        assert tile.image.value.tobytes().startswith(b"\x89PNG")
        assert tile.image in tile.picture.children and tile.hit in tile.picture.children
        assert tile.image.layout.grid_area == tile.hit.layout.grid_area  # the button lies over the image
    assert "application/vnd.jupyter.widget-view+json" in picker._repr_mimebundle_()


def test_picture_click_and_checkbox_toggle_the_selection(picker):
    tile = picker.tiles[1]
    tile.hit.click()  # exactly what a click on the picture runs
    assert picker.selected == [1]
    assert tile.checkbox.value is True
    assert "toyflow-tile-selected" in tile.box._dom_classes
    assert tile.box.layout.border != picker.tiles[0].box.layout.border
    assert count(picker, "toyflow-tile-selected") == 1
    tile.hit.click()
    assert picker.selected == []
    assert "toyflow-tile-selected" not in tile.box._dom_classes
    picker.tiles[3].checkbox.value = True  # the checkbox itself
    assert picker.selected == [3] and "toyflow-tile-selected" in picker.tiles[3].box._dom_classes
    picker.toggle(0)
    assert picker.state["selected"] == [0, 3]
    picker.select([2])
    assert picker.selected == [2] and count(picker, "toyflow-tile-selected") == 1


# ---------------------------------------------------------------------------------------------- a round
def test_teach_updates_b_and_draws_b_on_the_same_noise(app, picker, tilted_pool):
    session = app.session
    a_before, b_before = weights(session.a), weights(session.b)
    picker.tiles[0].checkbox.value = True
    picker.tiles[2].hit.click()
    picker.teach_button.click()

    assert not same_weights(weights(session.b), b_before), "model B did not learn"
    assert same_weights(weights(session.a), a_before), "model A must stay frozen"
    assert session.labelled_rounds == 1
    assert session.history[-1].labels == [0.5, 0.0, 0.5, 0.0]
    assert count(picker, "toyflow-b-tile") == 4
    assert count(picker, "toyflow-b-fresh") == 6
    for box in find_by_class(picker, "toyflow-b-tile") + find_by_class(picker, "toyflow-b-fresh"):
        assert box.children[0].value.tobytes().startswith(b"\x89PNG")
    # B was re-sampled from exactly the proposals' noise
    torch.testing.assert_close(picker.b_same, session.resample(picker.proposal.noise).cpu())
    state = picker.state
    assert state["labelled_rounds"] == 1 and state["round"] == 1
    assert state["answered"] and not state["busy"]
    assert "labelled rounds: 1" in picker.status_text
    assert "error" not in picker.status_text
    assert not picker.teach_button.disabled and not picker.next_button.disabled
    assert all(t.hit.disabled for t in picker.tiles), "answered proposals cannot be changed"
    assert set(state["timing"]) >= {"update", "sample", "draw", "total"}
    # the chart: round 0 (B = A) and round 1, measured by the judge on fixed noises after the round
    assert picker.wait(timeout=120)
    state = picker.state
    assert [p["round"] for p in state["chart"]] == [0, 1] and not state["chart_pending"]
    assert picker.chart.image.value.tobytes().startswith(b"\x89PNG")
    assert count(picker, "toyflow-chart") == 1
    assert "model B" in picker.chart.caption.value and "chart:" not in picker.chart.caption.value
    a, b = state["chart"][-1]["s_fraction_a"], state["chart"][-1]["s_fraction_b"]
    assert (state["s_fraction_a"], state["s_fraction_b"]) == (a, b) and "clean_b" in state["chart"][-1]  # clean too


def test_none_of_these_changes_nothing(app, picker):
    session = app.session
    before = weights(session.b)
    picker.tiles[1].checkbox.value = True  # ticked, then "None of these" all the same
    picker.skip_button.click()
    assert same_weights(weights(session.b), before)
    assert len(session.history) == 1 and session.history[-1].updated is False
    assert session.labelled_rounds == 0
    assert "labelled rounds: 0" in picker.status_text
    assert picker.state["answered"]
    # teaching the same proposals afterwards is ignored: they are answered
    picker.teach_button.click()
    assert same_weights(weights(session.b), before) and len(session.history) == 1


def test_a_second_submit_after_answering_is_ignored(app, picker):
    picker.select([0])
    first = picker.submit()
    assert first is not None and first.updated
    after_first = weights(app.session.b)
    picker.teach_button.click()  # a double click arrives after the first round finished
    assert picker.submit() is None
    assert picker.skip() is None
    assert len(app.session.history) == 1
    assert same_weights(weights(app.session.b), after_first)
    assert picker.state["ignored"] == 3
    assert "labelled rounds: 1" in picker.status_text


def test_a_submit_while_busy_is_ignored(app, picker, monkeypatch):
    session = app.session
    real_give = session.give
    calls, nested = [], []

    def give_and_press_again(*args, **kwargs):
        calls.append(1)
        assert picker.state["busy"]
        assert picker.teach_button.disabled and picker.skip_button.disabled and picker.next_button.disabled
        assert picker.progress.layout.visibility == "visible"
        nested.append(picker.submit())  # a second press while B is learning
        picker.teach_button.click()
        nested.append(picker.next())
        return real_give(*args, **kwargs)

    monkeypatch.setattr(session, "give", give_and_press_again)
    picker.select([1, 3])
    record = picker.submit()
    assert record is not None and record.updated
    assert len(calls) == 1 and nested == [None, None]
    assert session.labelled_rounds == 1 and len(session.history) == 1
    assert not picker.state["busy"] and picker.progress.layout.visibility == "hidden"


def test_next_proposals_draws_new_ones_and_reopens_the_round(app, picker):
    old = picker.proposal
    old_png = picker.tiles[0].image.value
    picker.select([0])
    picker.submit()
    picker.next_button.click()
    assert picker.proposal is not old
    assert not torch.equal(picker.proposal.noise, old.noise)
    assert picker.tiles[0].image.value != old_png
    assert picker.selected == [] and not picker.state["answered"]
    assert count(picker, "toyflow-b-tile") == 0, "B's tiles of the old noise are gone"
    assert count(picker, "toyflow-b-fresh") == 6
    assert not any(t.hit.disabled for t in picker.tiles)
    picker.select([2])
    assert picker.submit().updated
    assert app.session.labelled_rounds == 2
    assert picker.wait(timeout=120)
    assert [p["round"] for p in picker.state["chart"]] == [0, 1, 2]


def test_chart_without_a_worker_thread():
    picker = make_picker(background=False)
    picker.select([0])
    picker.submit()
    assert not picker.state["chart_pending"]
    assert [p["round"] for p in picker.state["chart"]] == [0, 1]
    picker.next()
    picker.skip()  # B unchanged: one more point, B's S-fraction carried over
    chart = picker.state["chart"]
    assert [p["round"] for p in chart] == [0, 1, 2] and chart[2]["s_fraction_b"] == chart[1]["s_fraction_b"]


def test_errors_show_in_the_status_line(app, picker, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the update blew up")

    before = weights(app.session.b)
    monkeypatch.setattr(app.session, "give", broken)
    picker.select([0])
    picker.teach_button.click()  # no traceback
    assert "error" in picker.status_text and "the update blew up" in picker.status_text
    assert "labelled rounds: 0" in picker.status_text
    state = picker.state
    assert not state["busy"] and not state["answered"] and state["error"]
    assert not picker.teach_button.disabled
    assert same_weights(weights(app.session.b), before)


@pytest.mark.parametrize("where", ["a folder", "a full disk"])
def test_a_session_that_cannot_be_saved_says_so_in_one_sentence_and_writes_nothing(
    app, picker, tmp_path, monkeypatch, where
):
    import errno

    import toyflow.atomic

    target = app.log_path = tmp_path / "session.json"
    if where == "a folder":
        target.mkdir()
        says = f"{target} is a folder; name a file to write"
    else:

        def full(tmp, mode):  # the log is written by then: the disk fills up before it is renamed
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(toyflow.atomic.os, "chmod", full)
        says = f"could not write {target}: No space left on device; nothing was written ({target} is unchanged)"
    picker.save_button.click()
    assert picker.last_error == says  # the sentence itself, not an exception's name before it
    assert sorted(p.name for p in tmp_path.iterdir()) == (["session.json"] if where == "a folder" else [])


# --------------------------------------------------------------------------------------------- soft mode
def test_soft_mode_invalid_probability_shows_an_error_and_changes_nothing(tilted_pool):
    app = make_app(soft=True)
    picker, session = app.picker, app.session
    before = weights(session.b)
    assert picker.tiles[0].slider in picker.tiles[0].box.children
    assert picker.set_probabilities([1.5, 0.0, 0.0, 0.0]) is False
    assert "error" in picker.status_text and "[0, 1]" in picker.status_text
    assert picker.probabilities == [0.0] * 4
    assert picker.set_probabilities([0.5, 0.5]) is False
    assert picker.set_probabilities([float("nan"), 0, 0, 0]) is False
    picker.teach_button.click()  # every probability 0: the session refuses, the status says why
    assert "positive sum" in picker.status_text
    assert same_weights(weights(session.b), before) and session.history == []
    assert not picker.state["answered"]

    assert picker.set_probabilities([0.9, 0.0, 0.3, 0.0]) is True
    assert picker.selected == [0, 2] and count(picker, "toyflow-tile-selected") == 2
    record = picker.submit()
    assert record is not None and record.updated
    assert record.labels == pytest.approx([0.75, 0.0, 0.25, 0.0])
    assert not same_weights(weights(session.b), before)
    assert "labelled rounds: 1" in picker.status_text


def test_soft_mode_picture_click_toggles_between_0_and_1():
    picker = make_picker(soft=True)
    picker.tiles[2].hit.click()
    assert picker.probabilities == [0.0, 0.0, 1.0, 0.0]
    assert "toyflow-tile-selected" in picker.tiles[2].box._dom_classes
    picker.tiles[2].hit.click()
    assert picker.probabilities == [0.0] * 4
    with pytest.raises(ValueError, match="soft=True"):
        ProposalPicker().set_probabilities([1, 0, 0, 0])


# ------------------------------------------------------------------------------------------------ oracle
def test_click_as_oracle_ticks_the_clean_s_curves(picker):
    kinds = ["s_curve", "swiss_roll", "s_curve", "swiss_roll"]
    clouds = torch.from_numpy(np.stack([make_cloud(kind, seed=i) for i, kind in enumerate(kinds)]))
    picker.proposal.samples, picker.proposal.trace = clouds, None  # the session's proposal, with other clouds
    ticks = picker.click_as_oracle()
    assert ticks == [0, 2] == picker.selected  # the two clean S curves, clicked
    record = picker.submit()
    assert record is not None and record.updated


def test_connect_wires_a_picker_built_apart(tmp_path):
    session = PreferenceSession(make_flow(SMALL, seed=3), seed=1, sampler_steps=4, settings=FAST)
    picker = ProposalPicker(n=3, fresh_n=2)
    assert picker.proposal is None and picker.submit() is None, "nothing to answer before proposals"
    app = connect(picker, session, eval_n=0, eval_seed=5, log_path=tmp_path / "log.json")
    assert app.picker is picker and picker.proposal is session.last_proposal
    assert (app.eval_n, app.eval_seed, app.log_path) == (0, 5, tmp_path / "log.json")
    assert picker.proposal.samples.shape == (3, 400, 2)
    picker.select([1])
    record = picker.submit()
    assert record.updated and picker.b_same.shape == (3, 400, 2) and picker.b_fresh.shape == (2, 400, 2)
    assert app.last_result.record is record and picker.chart_points == []  # eval_n=0: no chart


def test_soft_is_the_app_s_own_picker_s_and_refused_beside_another_picker():
    session = PreferenceSession(make_flow(SMALL, seed=3), sampler_steps=2, settings=FAST)
    assert PreferenceApp(session, soft=True, eval_n=0, views=False, propose=False).picker.soft
    with pytest.raises(ValueError, match="^soft=True builds the app's own picker"):
        PreferenceApp(session, picker=ProposalPicker(), soft=True, eval_n=0, views=False, propose=False)


@pytest.mark.parametrize("failure", [RuntimeError("out of memory"), KeyboardInterrupt()], ids=["error", "interrupt"])
def test_a_round_that_fails_after_b_learned_is_answered_and_never_taught_twice(monkeypatch, failure):
    app = make_app(background=False)
    picker, session = app.picker, app.session

    def broken(noise):
        raise failure

    monkeypatch.setattr(session, "resample_deciding", broken)  # B learned; showing it fails
    picker.select([0])
    assert picker.submit() is None
    assert session.rounds == 1 and picker.answered and not picker.busy
    assert picker.round == 1 and type(failure).__name__ in picker.status_text
    monkeypatch.undo()
    assert picker.submit() is None and session.rounds == 1  # the same answer is not taught again
    assert not picker.next_button.disabled  # Next proposals is the way on


def test_after_undo_the_picker_no_longer_reports_the_round_taken_back():
    app = make_app(background=False)
    picker = app.picker
    picker.select([0])
    picker.submit()
    assert picker.last_record is not None and app.last_result is not None
    picker.undo()
    assert picker.last_record is None and picker.last_timing == {} and app.last_result is None
    assert picker.state["last_record"] is None


def test_an_observer_that_raises_leaves_the_controls_usable():
    app = make_app(background=False)
    picker = app.picker

    def bad_observer(change):
        if change["new"] is False:
            raise RuntimeError("observer bug")

    picker.observe(bad_observer, names=["busy"])
    picker.select([0])
    with pytest.raises(RuntimeError, match="observer bug"):
        picker.submit()
    assert not picker.busy and not picker.next_button.disabled and not picker.undo_button.disabled
    assert picker.controls.progress.layout.visibility == "hidden"


def test_undo_is_off_while_there_is_nothing_to_undo():
    app = make_app(background=False)
    picker = app.picker
    assert picker.undo_button.disabled and not picker.next_button.disabled  # at the start
    picker.select([0])
    picker.submit()
    assert not picker.undo_button.disabled
    picker.undo()
    assert picker.undo_button.disabled and app.session.rounds == 0
    assert "the last round was taken back" in app.motion.caption.value
    picker.select([1])
    picker.submit()
    picker.reset()
    assert picker.undo_button.disabled  # a reset forgets every round: nothing to take back
    assert "new proposals" in app.motion.caption.value  # a reset shows the first proposals again


def test_a_stray_press_after_a_round_keeps_what_the_round_said():
    app = make_app(background=False)
    picker = app.picker
    picker.select([0])
    picker.submit()
    said = picker.status_text
    assert "round 1" in said
    picker.press("1")  # the proposals are answered: ignored
    assert said.split(" · ")[-1] in picker.status_text and "these proposals are answered" in picker.status_text
    picker.press("1")
    assert picker.status_text.count("these proposals are answered") == 1


def test_undo_says_what_it_waits_for_with_every_button_off():
    app = make_app(background=False)
    picker = app.picker
    picker.select([0])
    picker.submit()
    seen = []

    def waiting(timeout=120):  # the app waits for the last round's views: what does the picker show meanwhile?
        seen.append((picker.busy, picker.next_button.disabled, picker.undo_button.disabled, picker.status_text))
        return True

    picker.wait = waiting
    picker.undo()
    busy, next_off, undo_off, status = seen[0]
    assert busy and next_off and undo_off and "taking the last round back" in status
    assert not picker.busy and not picker.next_button.disabled and "round 1 undone" in picker.status_text


def spy_on_samplings(held_out: HeldOut, monkeypatch: pytest.MonkeyPatch) -> list:
    """The models ``held_out`` samples from now on, in order."""
    read, sampled = held_out._read, []
    monkeypatch.setattr(held_out, "_read", lambda model, stop: sampled.append(model) or read(model, stop))
    return sampled


@pytest.mark.parametrize("soft", [False, True], ids=["ticks", "probabilities"])
def test_b_as_the_ticks_stand_is_read_ahead_and_the_views_take_it(soft, monkeypatch, tilted_pool):
    app = make_app(soft=soft)
    picker = app.picker
    assert picker.wait()  # what is read ahead of the first answer (A's held-out clouds)
    sampled = spy_on_samplings(app.held_out, monkeypatch)
    if soft:
        picker.set_probabilities([0.9, 0.0, 0.3, 0.0])
    else:
        picker.toggle(0)
        picker.toggle(2)  # the reading for the first tick alone gives way (or is replaced)
    assert picker.wait()
    ahead_b, ahead = app.held_out._ahead
    read_ahead = len(sampled)
    assert read_ahead >= 1 and sampled[-1] is ahead_b and app.session._ahead[0] is ahead_b
    tiles = []
    sample = session_module.sample_deciding
    monkeypatch.setattr(session_module, "sample_deciding", lambda *args: tiles.append(1) or sample(*args))
    picker.submit()
    assert picker.wait() and picker.last_error is None
    assert tiles == [], "the round sampled nothing: it took B's tiles read ahead"
    assert torch.equal(app.last_result.b_same, app.session._ahead[2].trajectory[-1, :4])
    assert len(sampled) == read_ahead, "the views sampled nothing more: they took what was read ahead"
    b = app.held_out.snapshot()
    assert same_networks(b, ahead_b), "B as the round made it is B as it was read ahead, bit for bit"
    point = picker.chart_points[-1]
    assert (point.s_fraction_b, point.clean_b) == (ahead.verdict.s_fraction, ahead.verdict.clean_fraction)


def test_ticks_changed_after_the_reading_ahead_have_b_read_again(monkeypatch, tilted_pool):
    app = make_app()
    picker = app.picker
    assert picker.wait()
    sampled = spy_on_samplings(app.held_out, monkeypatch)
    picker.toggle(0)
    assert picker.wait() and len(sampled) == 1
    picker.toggle(0)  # nothing ticked: nothing to read ahead
    assert picker.wait() and len(sampled) == 1
    picker.select([1])
    picker.submit()  # at once: what is read ahead for [1] gives way, if it had begun
    assert picker.wait() and picker.last_error is None and app.ahead.error is None
    b = app.held_out.snapshot()
    assert sampled[-1] is b, "the views sampled B themselves"
    assert torch.equal(app.held_out.reading(b).clouds, app.held_out._read(b, None).clouds)


def reading_ahead_paused(monkeypatch: pytest.MonkeyPatch) -> tuple[PreferenceApp, list, threading.Event]:
    """An app whose B, read ahead for tile 1 ticked, has begun its sampling of the held-out noises and waits there
    for the returned event: ``(the app, the models the held-out noises were sampled from in order, the event)``."""
    app = make_app()
    assert app.picker.wait()
    read, sampled, begun, go = app.held_out._read, [], threading.Event(), threading.Event()

    def paused(model, stop):
        sampled.append(model)
        if not begun.is_set():
            begun.set()
            assert go.wait(30)
        return read(model, stop)

    monkeypatch.setattr(app.held_out, "_read", paused)
    app.picker.toggle(1)
    assert begun.wait(30) and app.ahead.latest.stage == "held-out clouds"
    return app, sampled, go


def test_an_answer_as_the_ticks_stand_keeps_the_reading_ahead_of_the_held_out_clouds(monkeypatch, tilted_pool):
    app, sampled, go = reading_ahead_paused(monkeypatch)
    picker = app.picker
    picker.submit()  # while B read ahead is being sampled on the held-out noises: the round takes its tiles
    assert app.ahead.kept is app.ahead.latest
    picker.next()  # the person goes on: the reading kept samples on
    go.set()
    assert picker.wait() and picker.last_error is None and app.ahead.error is None
    b = app.held_out.snapshot()
    assert len(sampled) == 1 and same_networks(sampled[0], b), "the views took it: B was sampled once"
    point = picker.chart_points[-1]
    verdict = app.held_out.reading(b).verdict
    assert (point.s_fraction_b, point.clean_b) == (verdict.s_fraction, verdict.clean_fraction)


def test_another_answer_gives_the_reading_ahead_up(monkeypatch, tilted_pool):
    app, sampled, go = reading_ahead_paused(monkeypatch)
    picker = app.picker
    picker.toggle(2)  # ticks [1, 2]: another answer (its own reading queues behind the paused one)
    picker.submit()
    assert app.ahead.kept is None
    go.set()
    assert picker.wait() and picker.last_error is None and app.ahead.error is None
    b = app.held_out.snapshot()
    assert sampled[-1] is b and not same_networks(sampled[0], b), "given up: the views sampled B themselves"


def test_a_reading_ahead_that_fails_is_told_and_the_round_goes_on(monkeypatch, tilted_pool):
    app = make_app()
    picker = app.picker
    assert picker.wait()

    def broken(bench, generator):
        raise RuntimeError("broken")

    monkeypatch.setattr(app.session.learner, "update", broken)
    picker.toggle(0)  # the rehearsal takes the method's update as it is now: broken
    assert picker.wait() and app.ahead.error == "RuntimeError: broken"
    monkeypatch.undo()
    picker.submit()
    assert picker.wait() and picker.last_error is None and picker.round == 1 and picker.chart_points
