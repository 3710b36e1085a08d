"""The teaching views as widgets, and labelling like a person: keys, undo, reset, save; driven through the picker
and the app (a small random model A, cheap settings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import FAST, SMALL, make_flow, same_weights, weights

from toyflow.data import make_cloud
from toyflow.flips import flip_map
from toyflow.plotting import GREEN, RED, cloud_png, dot_mask, rasterize, rgb_bytes
from toyflow.preference import PreferenceSession, replay
from toyflow.preference.belief import PoolReading, Rates
from toyflow.widgets import PreferenceApp, ProposalPicker, find_by_class, motion
from toyflow.widgets.belief import FADED_RED, GAP, HEADER, HEADING, MIN_WIDTH, PAD, UNDER, BeliefView, belief_png
from toyflow.widgets.decision import _decision_figure, decision_png
from toyflow.widgets.flipview import COLORS, FRAME, INNER, FlipMapView, flip_map_png
from toyflow.widgets.flipview import GAP as CELL_GAP
from toyflow.widgets.keys import Keyboard
from toyflow.widgets.motion import GAP as FRAME_GAP
from toyflow.widgets.motion import MotionView, frames_indices, motion_frame, motion_pngs

PNG = b"\x89PNG"


def make_app(background: bool = True, method: str | None = None, **options) -> PreferenceApp:
    session = PreferenceSession(make_flow(SMALL, seed=3), method=method, seed=0, sampler_steps=4, settings=FAST)
    return PreferenceApp(session, eval_n=8, background=background, **options)


def count(widget, css_class: str) -> int:
    return len(find_by_class(widget, css_class))


def real(kinds: str) -> torch.Tensor:
    names = {"s": "s_curve", "r": "swiss_roll"}
    return torch.from_numpy(np.stack([make_cloud(names[k], seed=i) for i, k in enumerate(kinds)]))


# ------------------------------------------------------------------------------------------------ drawing
def test_a_decision_plot_is_the_whole_figure_drawn_again_pixel_for_pixel():
    import io

    from PIL import Image

    times = torch.linspace(0, 1, 17)
    p_a = torch.tensor([0.0] * 8 + [1.0] * 9)  # at the axes' limits: the markers must stay inside the margins
    p_b = torch.rand(17, generator=torch.Generator().manual_seed(0))
    for a, b in ((p_a, p_b), (p_b, None), (None, p_a)):
        quick = np.asarray(Image.open(io.BytesIO(decision_png(times, a, b))).convert("RGB"))
        plot = _decision_figure(2.0, 1.2)
        for line, p in ((plot.line_a, a), (plot.line_b, b)):
            line.set_visible(p is not None)
            line.set_data(times.numpy(), [] if p is None else p.numpy())
        plot.figure.canvas.draw()  # everything drawn again, as a whole figure
        whole = np.asarray(plot.figure.canvas.buffer_rgba())[..., :3]
        assert quick.shape == (96, 160, 3) and np.array_equal(quick, whole)
    assert len({decision_png(times, p_a, p_b), decision_png(times, p_b, p_a)}) == 2, "the lines are drawn"


def test_every_frame_of_the_motion_draws_each_cloud_as_its_own_tile_would():
    trajectory_a = torch.stack([real("srsr") * s for s in (3.0, 1.0, 0.5)])  # (3 steps, 4 clouds, 400, 2)
    trajectory_b = torch.stack([real("rrss") * s for s in (2.0, 1.05, 0.2)])
    trajectory_b[1, 2, :5] = float("nan")  # left out, as points outside [-1.1, 1.1]^2 are
    frames = frames_indices(trajectory_a, trajectory_b, size=50)
    assert frames.shape == (3, 2 * 50 + FRAME_GAP, 4 * 50 + 3 * FRAME_GAP) and frames.dtype == np.uint8
    for step in range(3):
        for r, trajectory in enumerate((trajectory_a, trajectory_b)):
            for i in range(4):
                top, left = r * (50 + FRAME_GAP), i * (50 + FRAME_GAP)
                tile = frames[step, top : top + 50, left : left + 50]
                expected = dot_mask(trajectory[step, i], 50, drop_outside=True).astype(np.uint8) * (r + 1)
                assert np.array_equal(tile, expected), (step, r, i)
    assert frames[0].max() > 0 and (frames[:, 50 : 50 + FRAME_GAP] == 0).all(), "the gaps stay white"


def test_the_flip_map_draws_each_noise_as_a_framed_pair_of_tiles():
    import io

    from PIL import Image

    a, b = real("srsrs"), real("ssrrr")
    b[4] *= 1.5  # points beyond the square: drawn on its edge
    b[3, :3] = float("nan")  # left out
    flips = flip_map(a, b)
    assert flips.b_clean.any() and not flips.b_clean.all(), "solid and dashed frames both drawn"
    size, columns = 20, 3
    image = np.asarray(Image.open(io.BytesIO(flip_map_png(a, b, flips, size, columns))).convert("RGB"))
    h, w = size + 2 * FRAME + 2, 2 * size + INNER + 2 * FRAME + 2
    assert image.shape == (2 * h + CELL_GAP, 3 * w + 2 * CELL_GAP, 3)
    for i, category in enumerate(flips.categories):
        r, c = divmod(i, columns)
        cell = image[r * (h + CELL_GAP) : r * (h + CELL_GAP) + h, c * (w + CELL_GAP) : c * (w + CELL_GAP) + w]
        top = FRAME + 1
        assert np.array_equal(cell[top : top + size, top : top + size], rasterize(a[i], size, RED, dot=1))
        left = top + size + INNER
        assert np.array_equal(cell[top : top + size, left : left + size], rasterize(b[i], size, GREEN, dot=1))
        ring = np.zeros((h, w), dtype=bool)
        ring[:FRAME], ring[-FRAME:], ring[:, :FRAME], ring[:, -FRAME:] = True, True, True, True
        framed = (cell == COLORS[category]).all(axis=-1)
        assert not framed[~ring].any() and (cell[ring & ~framed] == 255).all(), "a frame, white where it breaks"
        assert framed[ring].all() == bool(flips.b_clean[i]), "solid when B's cloud is clean, else dashed"
    assert (image[h : h + CELL_GAP] == 255).all() and (image[2 * h + CELL_GAP - h :, 2 * w + CELL_GAP :] == 255).all()


def test_the_pictures_are_pngs_of_the_expected_size():
    from PIL import Image

    times = torch.linspace(0, 1, 9)
    assert decision_png(times, torch.rand(9), torch.rand(9)).startswith(PNG)
    assert decision_png(times, torch.rand(9)).startswith(PNG)  # A alone (00_flow)
    trajectory = torch.stack([real("srsr")] * 3)  # (3 steps, 4 clouds, 400, 2)
    frames = motion_pngs(trajectory, trajectory, size=50)
    assert len(frames) == 3 and all(f.startswith(PNG) for f in frames)
    import io

    decoded = np.asarray(Image.open(io.BytesIO(frames[0])).convert("RGB"))
    assert np.array_equal(decoded, motion_frame(trajectory[0], trajectory[0], size=50)), "an indexed PNG of the frame"
    colours = {tuple(c) for c in decoded.reshape(-1, 3)}
    assert colours == {(255, 255, 255), tuple(rgb_bytes(RED)), tuple(rgb_bytes(GREEN))}
    assert motion_frame(trajectory[0], trajectory[0], size=50).shape == (2 * 50 + 6, 4 * 50 + 3 * 6, 3)
    assert motion_frame(trajectory[0], None, size=50).shape == (50, 4 * 50 + 3 * 6, 3)
    tile = np.asarray(Image.open(io.BytesIO(cloud_png(real("s")[0], 60, GREEN))).convert("RGB"))
    assert np.array_equal(tile, rasterize(real("s")[0], 60, GREEN)), "a tile: the rasterized cloud, as an indexed PNG"
    a, b = real("srsr" * 4), real("ssrr" * 4)
    png = flip_map_png(a, b, flip_map(a, b), size=20, columns=8)
    width, height = Image.open(io.BytesIO(png)).size
    assert (width, height) == (8 * 50 + 7 * 5, 2 * 28 + 5)  # cells: A and B of 20 px, a frame; 8 a row


def test_the_motion_frames_shared_between_the_cores_are_the_frames_of_one(monkeypatch, two_threads):
    trajectory = torch.stack([real("srsr") * (1 - t) for t in torch.linspace(0, 1, 7).tolist()])  # 7 different steps
    shared = motion_pngs(trajectory, trajectory.flip(1), size=40)
    monkeypatch.setattr(motion, "cores", lambda: 1)
    assert shared == motion_pngs(trajectory, trajectory.flip(1), size=40)
    assert len(set(shared)) == 7


def test_the_motion_view_swaps_precomputed_frames():
    view = MotionView()
    assert view.children == (view.caption,)
    frames = [bytes([0x89]) + b"PNG" + bytes([k]) for k in range(5)]
    view.show(frames, torch.linspace(0, 1, 5), "proposals #1")
    assert view.slider.max == view.play.max == 4 and view.slider.value == 4 and view.image.value == frames[4]
    assert view.image in view.children and "finished shapes" in view.caption.value
    view.slider.value = 0
    assert view.image.value == frames[0] and "t = 0.00 (noise)" in view.caption.value
    view.slider.value = 2
    assert view.image.value == frames[2] and "step 2 of 4" in view.caption.value
    assert view._link.source == (view.play, "value") and view._link.target == (view.slider, "value")
    view.clear("gone")
    assert view.frames == [] and view.children == (view.caption,) and "gone" in view.caption.value


def test_the_flip_map_view_shows_the_counts():
    a, b = real("rrrrsr"), real("srrrss")
    view = FlipMapView(size=20)
    view.show(a, b, flip_map(a, b), "after round 1")
    assert count(view, "toyflow-flipmap") == 1 and view.image.value.tobytes().startswith(PNG)
    text = view.counts.value
    assert "stayed a Swiss roll: <b>3</b>" in text and "flipped: roll → S curve: <b>2</b>" in text
    assert "stayed an S curve: <b>1</b>" in text and "flipped: S curve → roll: <b>0</b>" in text
    assert "6 held-out noises" in view.caption.value and "after round 1" in view.caption.value


def reading(certainty: float, weights: bool = True, k: int = 3) -> PoolReading:
    """A preference model's reading of a pool of S curves and rolls, as sure as ``certainty``."""
    top, bottom = real("s" * k), real("r" * k)
    rates = (Rates(torch.full((k,), 0.8), torch.full((k,), 0.1)), Rates(torch.full((k,), 0.1), torch.full((k,), 0.05)))
    w = (torch.full((k,), 4.0), torch.full((k,), 0.1)) if weights else (None, None)
    return PoolReading(top, rates[0], bottom, rates[1], certainty, 3.0, 12, 128, *w, 20.0 if weights else None)


def pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_what_b_believes_is_drawn_in_red_when_sure_and_faded_when_not():
    sure, unsure = pixels(belief_png(reading(0.95), size=64)), pixels(belief_png(reading(0.1), size=64))
    rows = HEADER + 2 * HEADING + 2 * (64 + UNDER) + PAD
    assert sure.shape == unsure.shape == (rows, MIN_WIDTH, 3)  # 3 tiles: the header's width
    assert pixels(belief_png(reading(0.95, k=6), size=96)).shape[1] == 2 * PAD + 6 * 96 + 5 * GAP

    def count(image: np.ndarray, rgb: tuple[float, float, float]) -> int:
        return int((np.abs(image.astype(int) - np.array([round(255 * c) for c in rgb])).sum(axis=2) <= 3).sum())

    from toyflow.plotting import RED

    assert count(sure, RED) > 500 and count(sure, FADED_RED) == 0
    assert count(unsure, RED) < 50 < 500 < count(unsure, FADED_RED), "not sure: A's clouds fade"


@pytest.mark.parametrize(
    ("certainty", "verdict", "says"),
    [(0.1, "not sure", "B stays close to A"), (0.7, "fairly sure", "part of its"), (0.95, "sure", "nearly its full")],
)
def test_the_belief_view_says_how_sure_it_is(certainty, verdict, says):
    view = BeliefView(size=48)
    assert view.children == (view.caption,)
    view.show(reading(certainty), "after round 3")
    assert count(view, "toyflow-belief") == 1 and view.image.value.tobytes().startswith(PNG)
    assert f'data-verdict="{verdict}"' in view.caption.value and says in view.caption.value
    assert "after round 3" in view.caption.value and "12 labelled" in view.caption.value
    assert view.image.layout.width == f"{MIN_WIDTH}px", "drawn at its own size, never stretched"
    view.show(reading(certainty, weights=False), weighs=False)
    assert "does not learn from this belief" in view.caption.value
    view.clear("gone")
    assert view.reading is None and view.children == (view.caption,) and "gone" in view.caption.value


# --------------------------------------------------------------------------------------------------- keys
def test_the_keyboard_maps_keys_to_actions():
    done = []
    keys = Keyboard(
        {"1": lambda: done.append("one"), "Enter": lambda: done.append("enter"), "N": lambda: done.append("n")}
    )
    assert keys.press("1") and keys.press("Enter") and keys.press("n") and keys.press("N")
    assert not keys.press("x") and not keys.press("F5")
    keys.handle({"event": "keydown", "key": "1", "ctrlKey": True})  # Ctrl+1 belongs to the browser
    keys.handle({"event": "keyup", "key": "1"})
    keys.handle({"event": "keydown", "key": "1"})
    assert done == ["one", "enter", "n", "n", "one"] and keys.pressed == ["1", "Enter", "n", "n", "1"]
    done.clear()
    keys.handle({"event": "keydown", "key": "n", "repeat": True})  # a key held down: pressed once, not again and again
    keys.handle({"event": "keydown", "key": "Enter", "shiftKey": True})  # Shift+Enter runs the cell
    keys.handle({"event": "keydown", "key": "1", "target": {"tagName": "input"}})  # typed into a slider's readout
    assert done == []
    keys.handle({"event": "keydown", "key": "1", "shiftKey": True, "target": {"tagName": "DIV"}})  # AZERTY's 1
    keys.handle({"event": "keydown", "key": "Enter", "target": {"tagName": "BUTTON"}})  # after clicking a tile
    assert done == ["one", "enter"]


def test_keys_label_like_clicks():
    app = make_app()
    picker = app.picker
    assert picker.keyboard.event is not None and picker.keyboard.event.source is picker
    assert picker.keyboard.event.watched_events == ["keydown"]
    assert picker.press("1") and picker.press("2")
    assert picker.selected == [0, 1] and count(picker, "toyflow-tile-selected") == 2
    picker.press("2")
    assert picker.selected == [0]
    picker.press("3")
    picker.press("Enter")  # teach
    assert app.session.labelled_rounds == 1 and app.session.history[-1].labels == [0.5, 0.0, 0.5, 0.0]
    assert count(picker, "toyflow-b-tile") == 4 and picker.answered
    picker.press("1")  # answered: ignored, like a click
    assert picker.selected == [0, 2]
    picker.press("n")  # next proposals
    assert not picker.answered and picker.selected == [] and count(picker, "toyflow-b-tile") == 0
    picker.press("0")  # none of these
    assert app.session.rounds == 2 and app.session.labelled_rounds == 1 and picker.answered
    assert picker.state["keys"] == ["1", "2", "2", "3", "Enter", "1", "n", "0"]
    assert picker.wait(timeout=120)


def test_soft_mode_has_no_digit_keys():
    picker = ProposalPicker(soft=True)
    assert not picker.press("1") and picker.probabilities == [0.0] * 4
    assert picker.keyboard.event is None, "the sliders' readouts take typed numbers: no key capture"


# --------------------------------------------------------------------------------------- the views drawn
def test_a_round_draws_every_view_after_the_tiles():
    app = make_app()
    picker = app.picker
    assert count(picker, "toyflow-decision") == 0 and app.motion.frames == []
    picker.select([0, 3])
    picker.submit()
    assert count(picker, "toyflow-b-tile") == 4
    assert picker.wait(timeout=120)
    state = picker.state
    assert state["decision_plots"] == 4
    assert all(img.value.tobytes().startswith(PNG) for img in picker.results.decision.images)
    assert "P(S curve)" in picker.results.decision.caption.value
    assert (
        len(app.motion.frames) == app.session.sampler.steps + 1 == 5 and app.motion.image.value == app.motion.frames[-1]
    )
    assert "after round 1" in app.motion.caption.value
    flips = app.flip_map.flips
    assert flips is not None and sum(flips.counts.values()) == 32 and app.flip_map.image.value.tobytes().startswith(PNG)
    assert {"decision", "motion", "flip_map", "chart"} <= set(state["timing"])
    picker.next()  # the views of the old proposals go; the flip map (about B) stays
    assert count(picker, "toyflow-decision") == 0 and app.motion.frames == [] and app.flip_map.flips is flips


def test_what_b_believes_follows_the_labelled_rounds():
    app = make_app()
    picker = app.picker
    assert "no ticks yet" in app.belief.caption.value and app.belief.reading is None
    picker.skip()  # none of these: nothing to believe yet
    assert picker.wait(timeout=120) and app.belief.reading is None and "no ticks yet" in app.belief.caption.value
    picker.next()
    picker.select([0, 3])
    picker.submit()
    assert picker.wait(timeout=120)
    shown = app.belief.reading
    assert shown is not None and shown.labelled == 4 and shown.pool_size == FAST.pool_size
    assert shown.top.shape == (4, 400, 2) and shown.top_weights is not None  # the default method weighs A's pool
    assert shown.certainty == app.session.history[-1].stats.certainty
    assert "after round 2" in app.belief.caption.value and 'data-verdict="' in app.belief.caption.value
    assert app.belief.image.value.tobytes().startswith(PNG) and "belief" in picker.state["timing"]
    picker.undo()
    assert picker.wait(timeout=120) and app.belief.reading is None and "no ticks yet" in app.belief.caption.value


def test_what_b_believes_under_a_method_that_does_not_use_it():
    app = make_app(method="reference")
    app.picker.select([1])
    app.picker.submit()
    assert app.picker.wait(timeout=120)
    assert app.belief.reading is not None and app.belief.reading.top_weights is None
    assert "does not learn from this belief" in app.belief.caption.value


def test_views_of_replaced_proposals_are_never_drawn():
    app = make_app(background=False)
    picker = app.picker
    picker.select([1])
    picker.submit()
    proposal, generation = picker.proposal, app.painter.generation
    picker.next()
    app.painter._same_noise(generation, proposal, 1, app.painter.meter.snapshot())  # a late job of the old round
    assert count(picker, "toyflow-decision") == 0 and app.motion.frames == []


def test_a_late_drawing_never_lands_after_new_proposals_clear_the_views(monkeypatch):
    import threading

    app = make_app()
    painter, shown, go_on = app.painter, threading.Event(), threading.Event()
    show = painter.motion.show

    def slow_show(*args, **kwargs):  # the worker, past its generation check, drawing slowly
        show(*args, **kwargs)
        shown.set()
        assert go_on.wait(timeout=60)

    monkeypatch.setattr(painter.motion, "show", slow_show)
    app.picker.select([1])
    app.picker.submit()
    assert shown.wait(timeout=120)
    mover = threading.Thread(target=painter.new_proposals)  # Next, pressed while the worker draws
    mover.start()
    mover.join(timeout=0.3)
    assert mover.is_alive(), "new proposals wait for the drawing under way"
    go_on.set()
    mover.join(timeout=60)
    assert app.picker.wait(timeout=120)
    assert app.motion.frames == [] and "new proposals" in app.motion.caption.value  # the clearing came last


def test_views_can_be_switched_off():
    app = make_app(views=False)
    app.picker.select([0])
    app.picker.submit()
    assert app.picker.wait(timeout=120)
    assert count(app.picker, "toyflow-decision") == 0 and app.motion.frames == [] and app.flip_map.flips is None
    assert app.belief.reading is None and "views are off" in app.belief.caption.value


# ------------------------------------------------------------------------------------- undo, reset, save
def test_undo_restores_b_and_the_tiles(tilted_pool):
    app = make_app()
    picker, session = app.picker, app.session
    picker.select([0])
    picker.submit()
    assert picker.wait(timeout=120)
    after_one = weights(session.b)
    picker.next()
    proposal = picker.proposal
    picker.select([1, 2])
    picker.teach_button.click()
    assert picker.wait(timeout=120) and [p["round"] for p in picker.state["chart"]] == [0, 1, 2]
    assert not same_weights(weights(session.b), after_one)

    picker.undo_button.click()
    assert same_weights(weights(session.b), after_one), "B is exactly as before round 2"
    assert picker.proposal is proposal and picker.selected == [1, 2] and not picker.answered
    assert count(picker, "toyflow-tile-selected") == 2 and count(picker, "toyflow-b-tile") == 0
    assert not any(t.hit.disabled for t in picker.tiles), "the tiles are open again"
    assert "round 2 undone" in picker.status_text and "labelled rounds: 1" in picker.status_text
    assert [p["round"] for p in picker.state["chart"]] == [0, 1]
    assert picker.wait(timeout=120) and app.flip_map.flips is not None
    picker.press("u")
    assert same_weights(weights(session.b), weights(session.a)) and "labelled rounds: 0" in picker.status_text
    assert picker.undo_button.disabled, "nothing left to undo: the button is off"
    picker.press("u")
    assert "nothing to undo" in picker.status_text and "error" not in picker.status_text  # ignored, not failed
    picker.select([3])
    picker.press("Enter")  # teach again after the undo
    assert session.labelled_rounds == 1 and session.history[-1].round == 1


def test_reset_and_save(tmp_path):
    app = make_app(log_path=tmp_path / "session.json")
    picker, session = app.picker, app.session
    first = picker.proposal
    picker.select([2])
    picker.submit()
    assert picker.wait(timeout=120)
    picker.save_button.click()
    saved = tmp_path / "session.json"
    assert saved.is_file() and str(saved) in picker.status_text
    data = json.loads(saved.read_text())
    assert [e["event"] for e in data["events"]] == ["propose", "answer"]
    replayed = replay(make_flow(SMALL, seed=3), saved)
    assert replayed.exact and same_weights(weights(replayed.session.b), weights(session.b))

    picker.reset_button.click()
    assert same_weights(weights(session.b), weights(session.a)) and session.history == []
    assert torch.equal(picker.proposal.noise, first.noise), "the session starts over from its first proposals"
    assert "reset" in picker.status_text and "labelled rounds: 0" in picker.status_text
    assert picker.state["chart"] == [] and count(picker, "toyflow-b-fresh") == 0
    assert picker.wait(timeout=120)
    assert app.save().is_file() and json.loads(saved.read_text())["events"][-2]["event"] == "reset"


@pytest.mark.parametrize("button", ["undo_button", "reset_button", "save_button"])
def test_session_buttons_are_ignored_while_busy(button):
    app = make_app()
    picker = app.picker
    seen = []

    def busy_give(*args, **kwargs):
        getattr(picker, button).click()
        seen.append(picker.state["ignored"])
        raise RuntimeError("stop here")

    app.session.give = busy_give
    picker.select([0])
    picker.submit()
    assert seen == [1] and app.session.log.events[-1]["event"] == "propose"


def test_undo_in_soft_mode_brings_the_probabilities_back():
    app = make_app(soft=True)
    picker = app.picker
    assert picker.set_probabilities([0.2, 0.0, 0.7, 0.0])
    picker.submit()
    assert app.session.labelled_rounds == 1
    picker.undo()
    assert picker.probabilities == [0.2, 0.0, 0.7, 0.0] and not picker.answered
    assert app.session.labelled_rounds == 0 and picker.wait(timeout=120)


@pytest.mark.parametrize("action", ["Undo", "Reset"])
def test_an_undo_or_a_reset_waits_for_the_views_and_changes_nothing_if_they_do_not_finish(monkeypatch, action):
    app = make_app(background=False)
    picker = app.picker
    press = picker.undo if action == "Undo" else picker.reset
    picker.select([0])
    picker.submit()
    before, events, shown = weights(app.session.b), len(app.session.log.events), picker.proposal
    monkeypatch.setattr(picker, "wait", lambda timeout=120: False)  # the views still being drawn, in vain
    assert press() is None
    says = f"TimeoutError: the views of the last round are still being drawn: press {action} again"
    assert says in picker.status_text
    assert same_weights(before, weights(app.session.b)) and app.session.rounds == 1
    assert len(app.session.log.events) == events and picker.proposal is shown
    monkeypatch.undo()
    assert press() is not None and app.session.rounds == 0


def test_views_that_fail_say_so_and_a_failure_about_replaced_proposals_says_nothing(monkeypatch):
    app = make_app(background=False)
    picker, painter = app.picker, app.painter

    def broken(*args, **kwargs):
        raise RuntimeError("sampler failed")

    monkeypatch.setattr(painter.meter, "same_noise", broken)
    picker.select([0])
    picker.submit()
    assert "the decision over time: RuntimeError: sampler failed" in picker.results.decision.caption.value
    assert "A and B in motion: RuntimeError: sampler failed" in app.motion.caption.value
    picker.next()  # the failure was about the old proposals: it goes with them
    assert "new proposals" in app.motion.caption.value and "failed" not in picker.results.decision.caption.value
    generation, proposal = painter.generation - 1, picker.proposal
    painter._same_noise(generation, proposal, 1, painter.meter.snapshot())  # a late failing job of the old round
    assert "new proposals" in app.motion.caption.value


def test_next_clears_a_motion_view_still_being_drawn():
    app = make_app(background=False)
    app.motion.pending()  # the view marked as being drawn (no frame yet)...
    app.picker.next()  # ...and its proposals replaced before it was
    assert "new proposals" in app.motion.caption.value and "drawing" not in app.motion.caption.value
