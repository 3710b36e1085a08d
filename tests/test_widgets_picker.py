"""toyflow.widgets.picker: the picker alone, a VBox that renders and forwards answers (no session, no learning)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import traitlets

from toyflow.data import make_cloud
from toyflow.preference import Answer, Proposal
from toyflow.preference.records import ChartPoint, RoundRecord, UpdateStats
from toyflow.widgets import ProposalPicker, find_by_class
from toyflow.widgets.picker import ANSWERED


def clouds(n: int) -> torch.Tensor:
    kinds = ["s_curve", "swiss_roll"] * n
    return torch.from_numpy(np.stack([make_cloud(kinds[i], seed=i) for i in range(n)]))


def shown(n: int = 4, soft: bool = False) -> ProposalPicker:
    picker = ProposalPicker(n=n, soft=soft, fresh_n=2)
    picker.show_proposal(Proposal(noise=torch.zeros(n, 400, 2), samples=clouds(n), seed=7))
    return picker


def test_the_picker_is_the_displayed_vbox():
    import ipywidgets

    picker = ProposalPicker()
    assert isinstance(picker, ipywidgets.VBox)
    assert find_by_class(picker, "toyflow-picker") == [picker]
    assert "application/vnd.jupyter.widget-view+json" in picker._repr_mimebundle_()
    assert len(find_by_class(picker, "toyflow-tile")) == 4 and "labelled rounds: 0" in picker.status_text


def test_traitlets_follow_the_clicks_and_can_be_observed():
    picker = shown()
    seen = []
    picker.observe(lambda change: seen.append((change["name"], change["new"])), names=["selected", "answered"])
    assert picker.selected == [] and picker.probabilities == [0.0] * 4
    picker.tiles[2].hit.click()
    picker.tiles[0].checkbox.value = True
    assert picker.selected == [0, 2] and picker.probabilities == [1.0, 0.0, 1.0, 0.0]
    assert ("selected", [2]) in seen and ("selected", [0, 2]) in seen
    picker.toggle(2)
    assert picker.selected == [0]
    with pytest.raises(traitlets.TraitError, match="read-only"):
        picker.selected = [1]  # the state is the picker's: change it with select() or a click
    picker.submit()
    assert picker.answered and ("answered", True) in seen
    picker.show_proposal(Proposal(noise=torch.zeros(4, 400, 2), samples=clouds(4)))
    assert not picker.answered and picker.selected == []


def test_on_round_callbacks_get_the_answer_and_their_result_is_returned():
    picker = shown()
    answers = []
    picker.on_round(lambda answer: answers.append(answer) or "first")
    picker.on_round(lambda answer: answers.append(answer) or "second")
    picker.select([1, 3])
    assert picker.submit() == "second"
    assert answers == [Answer(ticks=[1, 3])] * 2
    assert picker.answered and not picker.busy and picker.state["answered"]
    assert all(t.hit.disabled for t in picker.tiles)
    assert picker.submit() is None and picker.skip() is None, "answered: nothing is forwarded again"
    assert len(answers) == 2 and picker.ignored == 2 and ANSWERED in picker.status_text
    picker.show_proposal(Proposal(noise=torch.zeros(4, 400, 2), samples=clouds(4)))
    picker.skip()
    assert answers[-1] == Answer() and answers[-1].skipped


def test_busy_while_a_callback_runs_and_a_second_press_is_ignored():
    picker = shown()
    during = []

    def slow(answer):
        during.append((picker.busy, picker.teach_button.disabled, picker.progress.layout.visibility))
        during.append(picker.submit())  # a double click arrives while the first is handled
        picker.teach_button.click()
        return "done"

    picker.on_round(slow)
    assert picker.submit() == "done"
    assert during == [(True, True, "visible"), None]
    assert not picker.busy and picker.progress.layout.visibility == "hidden" and picker.ignored == 2


def test_a_failing_callback_shows_its_error_and_leaves_the_proposals_open():
    picker = shown(soft=True)
    picker.on_round(lambda answer: (_ for _ in ()).throw(ValueError("probabilities must have a positive sum")))
    assert picker.submit() is None
    assert "positive sum" in picker.status_text and "error" in picker.status_text
    assert not picker.answered and not picker.busy and not picker.teach_button.disabled
    picker.on_next(lambda seed: (_ for _ in ()).throw(RuntimeError(f"no proposals for seed {seed}")))
    assert picker.next(seed=3) is None and "RuntimeError: no proposals for seed 3" in picker.status_text


def test_soft_probabilities_are_checked_before_they_are_taken():
    picker = shown(soft=True)
    answers = []
    picker.on_round(answers.append)
    assert picker.set_probabilities([0.5, 2.0, 0, 0]) is False and "[0, 1]" in picker.status_text
    assert picker.set_probabilities(["x", 0, 0, 0]) is False and "numbers" in picker.status_text
    assert picker.set_probabilities([0.5]) is False and "1 probabilities for 4" in picker.status_text
    assert picker.probabilities == [0.0] * 4
    assert picker.set_probabilities([0.5, 0.0, 1.0, 0.0]) is True
    assert picker.selected == [0, 2] and picker.probabilities == [0.5, 0.0, 1.0, 0.0]
    picker.submit()
    assert answers == [Answer(probabilities=[0.5, 0.0, 1.0, 0.0])]


def test_show_round_and_show_chart_draw_what_they_are_given():
    picker = shown()
    picker.on_round(lambda answer: None)
    picker.submit()
    record = RoundRecord(round=1, labels=[1.0, 0, 0, 0], updated=True, stats=UpdateStats(flow_loss=0.25), seconds=0.1)
    picker.show_counts(1, 1)
    picker.show_round(record, clouds(4), clouds(2), {"update": 0.1, "sample": 0.05, "total": 0.2})
    assert len(find_by_class(picker, "toyflow-b-tile")) == 4 and len(find_by_class(picker, "toyflow-b-fresh")) == 2
    assert torch.equal(picker.b_same, clouds(4)) and picker.b_fresh.shape == (2, 400, 2)
    text = picker.status_text
    assert "labelled rounds: 1" in text and "ticks [0]" in text and "flow loss 0.250" in text
    assert picker.state["timing"]["total"] >= 0.2 and "draw" in picker.state["timing"]
    picker.show_chart([ChartPoint(0, 0.2, 0.2, 0.9, 0.9), ChartPoint(1, 0.2, 0.75, 0.9, 0.8)], eval_n=16, seconds=1.5)
    assert picker.chart_points[-1] == ChartPoint(1, 0.2, 0.75, 0.9, 0.8) and picker.state["s_fraction_b"] == 0.75
    assert "16 clouds" in picker.chart.caption.value and "clean" in picker.chart.caption.value
    assert picker.state["timing"]["chart"] == 1.5
    picker.show_proposal(Proposal(noise=torch.zeros(4, 400, 2), samples=clouds(4)))
    assert len(find_by_class(picker, "toyflow-b-tile")) == 0 and len(find_by_class(picker, "toyflow-b-fresh")) == 2


def test_bad_tile_indices_are_errors_not_exceptions():
    picker = shown()
    picker.select([0, 9])
    assert "no tile #9" in picker.status_text and picker.selected == []
    picker.toggle(-1)
    assert "no tile #-1" in picker.state["error"]


def test_the_status_line_speaks_the_method_s_language():
    from toyflow.widgets.status import describe_record

    stats = UpdateStats(certainty=0.69, evidence=2.8, effective_samples=23.7)
    reward_fm = RoundRecord(2, [0.5, 0.0, 0.5, 0.0], True, stats=stats)
    line = describe_record(reward_fm, soft=False, total_seconds=0.3)
    assert "certainty 0.69" in line and "evidence 2.8 nats" in line and "B learned from 24 of A's clouds" in line
    assert "—" not in line and "flow loss" not in line and "barrier" not in line and "preference loss" not in line
    no_value = RoundRecord(2, [0.5, 0.0, 0.5, 0.0], True, stats=replace(stats, flow_loss=float("nan")))
    assert describe_record(no_value, soft=False, total_seconds=0.3) == line  # left out, never a dash
    stats = UpdateStats(preference_loss=1.2, flow_loss=0.04, barrier=0.5)
    line = describe_record(RoundRecord(2, [1.0, 0.0, 0.0, 0.0], True, stats=stats), soft=False, total_seconds=5.0)
    assert "preference loss 1.200" in line and "flow loss 0.040" in line and "barrier λ 0.500" in line
    assert "certainty" not in line and "—" not in line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n": 0}, "^n must be at least 1, got 0$"),
        ({"fresh_n": 0}, "^fresh_n must be at least 1, got 0$"),
        ({"tile_size": -5}, "^tile_size must be at least 1, got -5$"),
    ],
)
def test_a_picker_of_no_tiles_is_refused(options, message):
    with pytest.raises(ValueError, match=message):
        ProposalPicker(**options)


def test_waiting_for_pending_work_counts_failed_and_cancelled_work_as_done():
    from concurrent.futures import Future

    from toyflow.widgets.status import Pending

    pending, failed, cancelled, running = Pending(), Future(), Future(), Future()
    failed.set_exception(RuntimeError("the chart could not be measured"))
    cancelled.cancel()
    for future in (failed, cancelled):
        pending.add(future)
    assert pending.wait(timeout=1) is True and pending.futures == []  # no error raised at the waiter
    pending.add(running)
    assert pending.any and pending.wait(timeout=0.05) is False
    running.set_result(None)
    assert pending.wait(timeout=1) is True and not pending.any
