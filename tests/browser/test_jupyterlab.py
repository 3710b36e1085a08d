"""The notebooks as a person uses them: JupyterLab in headless Chromium, clicking tiles and buttons.

Runs on a temporary copy of the repository with ``TOYFLOW_QUICK=1`` (the notebooks use tiny settings).
The widgets follow a DOM contract (CSS classes added with ipywidgets' ``add_class``):

- ``.toyflow-picker``: the whole picker; ``.toyflow-tile``: a proposal tile, ``.toyflow-tile-selected``
  when ticked; ``.toyflow-tile-picture``: the clickable picture in a tile;
- buttons labelled exactly "Teach model B", "None of these", "Next proposals";
- ``.toyflow-b-tile``: B's 4 same-noise tiles; ``.toyflow-b-fresh``: B's 6 fresh samples;
- ``.toyflow-status``: a status line containing ``labelled rounds: N``;
- ``.toyflow-belief-view``: what B believes (``img.toyflow-belief``, ``.toyflow-belief-verdict``).

Every wait is bounded (see ``labharness.Budget``); screenshots of every step go to ``tests/artifacts/browser/``.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from .labharness import SHOTS, NotebookPage

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium_path fixture skips these tests (or fails them, when required) and says why
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SELECTED = re.compile(r"(^|\s)toyflow-tile-selected(\s|$)")

# Every progress bar of the widget library (horizontal or vertical), inside cell outputs.
PROGRESS_BARS_JS = """
(panelSel) => [...document.querySelectorAll(panelSel + ' .jp-OutputArea :is(.widget-hprogress, .widget-vprogress,'
    + ' .widget-progress)')].map((bar) => {
  const fill = bar.querySelector('.progress-bar');
  const vertical = bar.classList.contains('widget-vprogress');
  return fill ? (vertical ? fill.style.height : fill.style.width) : '';
})
"""


def status_counts(status_text: str) -> tuple[int | None, int]:
    """(round, labelled rounds) read from the status line ("round 2 · labelled rounds: 1 · ...").

    The contract only promises "labelled rounds: N"; the round is None where the line does not say it.
    """
    labelled = re.search(r"labelled rounds:\s*(\d+)", status_text)
    assert labelled, f"the status line has no 'labelled rounds: N': {status_text!r}"
    answered = re.search(r"\bround\s+(\d+)\b", status_text)
    return (int(answered.group(1)) if answered else None), int(labelled.group(1))


def notebook(page, lab, budget, path: str) -> NotebookPage:
    if not (lab.root_dir / path).is_file():
        pytest.fail(f"{path} does not exist in the repository", pytrace=False)
    return NotebookPage(page, lab, path, SHOTS, budget)


def test_jupyterlab_renders_widgets(page, lab, budget):
    """The harness itself: a throwaway notebook's ipywidgets render and answer clicks in this JupyterLab."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os\nimport ipywidgets as w\n\nprint('quick', os.environ.get('TOYFLOW_QUICK'))"
        ),
        nbformat.v4.new_code_cell(
            "box = w.Checkbox(description='tick me')\n"
            "button = w.Button(description='Press me')\n"
            "status = w.Label('presses: 0')\n"
            "status.add_class('probe-status')\n"
            "button.on_click(lambda _: setattr(status, 'value', f'presses: {1 + int(status.value.split()[-1])}'))\n"
            "w.VBox([box, button, status])"
        ),
    ]
    path = lab.root_dir / "browser-probe" / "probe.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)

    page_ = NotebookPage(page, lab, "browser-probe/probe.ipynb", SHOTS, budget)
    page_.open()
    page_.run_all(timeout_ms=60_000)
    expect(page_.panel.locator(".jp-OutputArea-output", has_text="quick 1")).to_have_count(1)
    page_.panel.locator(".widget-checkbox input").click()
    expect(page_.panel.locator(".widget-checkbox input")).to_be_checked()
    page_.button("Press me").click()
    expect(page_.panel.locator(".probe-status")).to_have_text("presses: 1", timeout=page_.t(20_000))
    page_.assert_no_problems()
    page_.shot("done")


def open_and_run(page, lab, budget, path: str, timeout_ms: int):
    """Open the notebook at ``path``, run all its cells, check that no cell shows an error; the page driver."""
    nb = notebook(page, lab, budget, path)
    nb.open()
    nb.shot("1-opened")
    nb.run_all(timeout_ms=timeout_ms)
    nb.shot("2-ran")
    nb.assert_no_problems()
    return nb


def test_preference_notebook(page, lab, budget):
    """Tick two S curves on the pictures, teach B, see B's green tiles; on new proposals "None of these"
    leaves B untrained; a double click on "Teach model B" teaches once."""
    nb = open_and_run(page, lab, budget, "notebooks/02_preference.ipynb", timeout_ms=240_000)

    tiles = nb.panel.locator(".toyflow-tile")
    expect(tiles).to_have_count(4, timeout=nb.t(30_000))
    picker = nb.panel.locator(".toyflow-picker")
    expect(picker).to_have_count(1)
    status = nb.panel.locator(".toyflow-status")
    expect(status).to_have_count(1)
    expect(status).to_contain_text(re.compile(r"labelled rounds:\s*0\b"))
    selected = nb.panel.locator(".toyflow-tile-selected")
    expect(selected).to_have_count(0)
    nb.shot("3-proposals", picker)

    # Click on the pictures of tiles 0 and 1. Tile 2: on and off again by its picture, then by its checkbox.
    for i in (0, 1):
        tiles.nth(i).locator(".toyflow-tile-picture").first.click()
        expect(tiles.nth(i)).to_have_class(SELECTED, timeout=nb.t(15_000))
    expect(selected).to_have_count(2)
    tiles.nth(2).locator(".toyflow-tile-picture").first.click()
    expect(selected).to_have_count(3, timeout=nb.t(15_000))
    tiles.nth(2).locator(".toyflow-tile-picture").first.click()
    expect(selected).to_have_count(2, timeout=nb.t(15_000))
    checkbox = tiles.nth(2).locator("input[type=checkbox]")
    expect(checkbox).to_have_count(1)
    checkbox.click()
    expect(selected).to_have_count(3, timeout=nb.t(15_000))
    checkbox.click()
    expect(selected).to_have_count(2, timeout=nb.t(15_000))
    expect(tiles.nth(0)).to_have_class(SELECTED)
    expect(tiles.nth(1)).to_have_class(SELECTED)
    nb.shot("4-ticked", picker)

    teach = nb.button("Teach model B")
    expect(teach).to_have_count(1)
    teach.click()
    expect(nb.panel.locator(".toyflow-b-tile")).to_have_count(4, timeout=nb.t(120_000))
    expect(nb.panel.locator(".toyflow-b-fresh")).to_have_count(6, timeout=nb.t(60_000))
    expect(status).to_contain_text(re.compile(r"labelled rounds:\s*1\b"), timeout=nb.t(30_000))
    expect(teach).to_be_enabled(timeout=nb.t(60_000))
    nb.assert_no_problems()
    nb.shot("5-taught", picker)

    # "Next proposals": 4 new, unticked proposals.
    b_tiles = nb.panel.locator(".toyflow-b-tile")
    next_button = nb.button("Next proposals")
    expect(next_button).to_have_count(1)
    next_button.click()
    expect(selected).to_have_count(0, timeout=nb.t(30_000))
    settle(nb)
    expect(status).to_contain_text(re.compile(r"labelled rounds:\s*1\b"))

    # "None of these": a round is answered (B re-drawn on the new noise) but B is not trained.
    none = nb.button("None of these")
    expect(none).to_have_count(1)
    none.click()
    expect(b_tiles).to_have_count(4, timeout=nb.t(60_000))
    expect(none).to_be_enabled(timeout=nb.t(60_000))
    settle(nb)
    answered, labelled = status_counts(status.inner_text())
    assert labelled == 1 and answered in (None, 2), f"after 'None of these': {status.inner_text()!r}"
    nb.assert_no_problems()
    nb.shot("6-none-of-these", picker)

    # A double click on "Teach model B" teaches once (the spec: a double click never runs two updates).
    next_button.click()
    settle(nb)
    tiles.nth(3).locator(".toyflow-tile-picture").first.click()
    expect(tiles.nth(3)).to_have_class(SELECTED, timeout=nb.t(15_000))
    teach.dblclick()
    expect(status).to_contain_text(re.compile(r"labelled rounds:\s*2\b"), timeout=nb.t(60_000))
    expect(teach).to_be_enabled(timeout=nb.t(60_000))
    settle(nb)
    text = status.inner_text()
    answered, labelled = status_counts(text)
    assert labelled == 2 and answered in (None, 3), f"a double click on 'Teach model B' did not teach once: {text!r}"
    nb.assert_no_problems()
    nb.shot("7-double-click", picker)

    label_with_keys_then_undo(nb, picker, tiles, selected, status)


def label_with_keys_then_undo(nb: NotebookPage, picker, tiles, selected, status) -> None:
    """Keys over the picker (ipyevents): N for new proposals, 1 and 2 tick, Enter teaches; the decision over time
    appears under the tiles, what B believes, A and B in motion and the flip map in their cells; U undoes: B's tiles
    go, the ticks come back, what B believes is drawn again."""
    keys = nb.page.keyboard
    code_cells = nb.panel.locator(".jp-CodeCell").count()
    picker.locator(".toyflow-status").hover()  # ipyevents takes the keys while the mouse is over the picker
    keys.press("n")
    expect(selected).to_have_count(0, timeout=nb.t(30_000))
    expect(nb.panel.locator(".toyflow-b-tile")).to_have_count(0, timeout=nb.t(30_000))
    settle(nb)
    picker.locator(".toyflow-status").hover()
    keys.press("1")
    expect(tiles.nth(0)).to_have_class(SELECTED, timeout=nb.t(15_000))
    keys.press("2")
    expect(tiles.nth(1)).to_have_class(SELECTED, timeout=nb.t(15_000))
    expect(selected).to_have_count(2)
    # JupyterLab never saw the keys (in command mode 1 would turn a cell into a heading, 0 0 restart the kernel)
    assert nb.panel.locator(".jp-CodeCell").count() == code_cells, "a key reached JupyterLab's shortcuts"
    assert nb.page.locator(".jp-Dialog").count() == 0
    nb.shot("8-keys-ticked", picker)
    keys.press("Enter")
    expect(status).to_contain_text(re.compile(r"labelled rounds:\s*3\b"), timeout=nb.t(60_000))
    expect(nb.panel.locator(".toyflow-b-tile")).to_have_count(4, timeout=nb.t(60_000))
    expect(tiles.nth(0)).to_have_class(SELECTED)
    expect(tiles.nth(1)).to_have_class(SELECTED)

    decision = picker.locator(".toyflow-decision")  # under the picker's tiles
    expect(decision).to_have_count(4, timeout=nb.t(60_000))
    expect(decision.first.locator("img")).to_have_attribute("src", re.compile(r"^blob:|^data:"), timeout=nb.t(30_000))
    # The person's views, in their own cells (the hands-free annotator's views are displayed further down).
    motion_cell = nb.panel.locator(".jp-CodeCell", has_text="motion_box  # filled")
    flip_cell = nb.panel.locator(".jp-CodeCell", has_text="flips_box  # filled")
    motion = motion_cell.locator("img.toyflow-motion")
    expect(motion).to_have_count(1, timeout=nb.t(60_000))
    expect(motion_cell).to_contain_text("after round 4", timeout=nb.t(30_000))
    flipmap = flip_cell.locator("img.toyflow-flipmap")
    expect(flipmap).to_have_count(1, timeout=nb.t(60_000))
    expect(flip_cell.locator(".toyflow-flip-counts")).to_contain_text("stayed", timeout=nb.t(30_000))
    belief_cell = nb.panel.locator(".jp-CodeCell", has_text="belief_box  # filled")
    expect(belief_cell.locator("img.toyflow-belief")).to_have_count(1, timeout=nb.t(60_000))
    expect(belief_cell).to_contain_text("after round 4", timeout=nb.t(30_000))
    verdict = belief_cell.locator(".toyflow-belief-verdict")
    expect(verdict).to_have_count(1)
    assert verdict.get_attribute("data-verdict") in ("not sure", "fairly sure", "sure")
    settle(nb)
    nb.assert_no_problems()
    nb.shot("9-decision", picker)
    # The slider moves the frames: step 0 is the noise.
    first_frame = motion.get_attribute("src")
    slider = motion_cell.locator(".toyflow-motion-slider")
    readout = slider.locator(".widget-readout")
    readout.fill("0")
    readout.press("Enter")
    expect(motion_cell).to_contain_text("(noise)", timeout=nb.t(30_000))
    assert motion.get_attribute("src") != first_frame
    nb.shot("10-motion", motion_cell.locator(".jp-OutputArea"))
    nb.shot("11-flipmap", flip_cell.locator(".jp-OutputArea"))
    nb.shot("11-belief", belief_cell.locator(".jp-OutputArea"))

    picker.locator(".toyflow-status").hover()
    keys.press("u")
    expect(nb.panel.locator(".toyflow-b-tile")).to_have_count(0, timeout=nb.t(60_000))
    expect(status).to_contain_text(re.compile(r"labelled rounds:\s*2\b"), timeout=nb.t(30_000))
    expect(status).to_contain_text("undone")
    expect(selected).to_have_count(2, timeout=nb.t(15_000))
    expect(tiles.nth(0)).to_have_class(SELECTED)
    expect(tiles.nth(1)).to_have_class(SELECTED)
    expect(belief_cell).to_contain_text("as it is now", timeout=nb.t(30_000))  # drawn again for B after the undo
    settle(nb)
    nb.assert_no_problems()
    nb.shot("12-undone", picker)


def settle(nb: NotebookPage) -> None:
    """Let every message a click sent reach the kernel and come back: kernel idle, then a short pause for a message
    still on its way to show the kernel busy, then idle again. The kernel handles the page's messages in the order
    they were sent, so a click after this one is handled after it whatever the pause (1.5 s took 7 s of this file)."""
    nb.wait_kernel_idle(60_000)
    nb.page.wait_for_timeout(500)
    nb.wait_kernel_idle(60_000)


def test_baseline_notebook(page, lab, budget):
    """Run the training notebook: the tqdm progress bar reaches its end and no cell fails."""
    nb = open_and_run(page, lab, budget, "notebooks/01_baseline.ipynb", timeout_ms=300_000)

    bars = nb.page.evaluate(PROGRESS_BARS_JS, ".jp-NotebookPanel:not(.lm-mod-hidden)")
    text_bar = nb.panel.locator(".jp-OutputArea-output", has_text=re.compile(r"100%\|"))
    assert bars or text_bar.count(), "no progress bar in the outputs (neither a widget nor tqdm's text bar)"
    if bars:
        # A finished bar is drawn full; give the last update a moment to arrive.
        nb.page.wait_for_function(
            f"(sel) => ({PROGRESS_BARS_JS})(sel).every((size) => size === '100%')",
            arg=".jp-NotebookPanel:not(.lm-mod-hidden)",
            timeout=nb.t(15_000),
        )
    last_bar = nb.panel.locator(".jp-OutputArea :is(.widget-hprogress, .widget-vprogress, .widget-progress)").last
    nb.shot("3-finished", last_bar if bars else None)
