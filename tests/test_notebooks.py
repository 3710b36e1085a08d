"""The tutorial notebooks: stored without outputs, and each runs top to bottom headless (no click).

The run uses ``TOYFLOW_QUICK=1`` (the kernel inherits this process's environment), under which the
notebooks pick tiny settings, and a scratch working directory, so that they must find the shipped model A
by themselves (``toyflow.SHIPPED_CHECKPOINT``).
"""

from __future__ import annotations

import nbformat
import pytest
from conftest import REPO

from toyflow import SHIPPED_CHECKPOINT

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NEEDS_MODEL_A = {"00_flow.ipynb", "02_preference.ipynb"}
CELL_TIMEOUT = 300  # seconds per cell; the quick settings need a few


def test_the_tutorial_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_baseline.ipynb", "02_preference.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown"
    assert "What you will see, and how long it takes on a CPU" in nb.cells[0].source
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}, cell {i} has stored outputs"
            assert cell.execution_count is None, f"{path.name}, cell {i} has an execution count"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_headless(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    if path.name in NEEDS_MODEL_A and not SHIPPED_CHECKPOINT.is_file():
        pytest.skip(f"{path.name} needs the shipped model A, {SHIPPED_CHECKPOINT}, which is missing")
    monkeypatch.setenv("TOYFLOW_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(tmp_path)}},  # not notebooks/: the checkpoint must be found anyway
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    if path.name == "02_preference.ipynb":
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert "Widgets OK" in text
        assert "labelled rounds: " in text


EXPERIMENTS = ("s_curves", "swiss_rolls", "placebo", "label_free", "soft", "undo")


@pytest.mark.slow
def test_the_hands_free_cell_runs_every_experiment_of_try_this(tmp_path, monkeypatch):
    """The preference notebook's hands-free cell, once per ``EXPERIMENT`` (quick settings, one kernel): each one
    teaches B and says what it gave."""
    nbclient = pytest.importorskip("nbclient")
    if not SHIPPED_CHECKPOINT.is_file():
        pytest.skip(f"the preference notebook needs the shipped model A, {SHIPPED_CHECKPOINT}, which is missing")
    monkeypatch.setenv("TOYFLOW_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    source = nbformat.read(REPO / "notebooks" / "02_preference.ipynb", as_version=4)
    code = [c.source for c in source.cells if c.cell_type == "code"]
    setup = [s for s in code if s.startswith("import os") or s.startswith("from pathlib import Path")]
    (hands_free,) = [s for s in code if 'EXPERIMENT = "s_curves"' in s]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in setup] + [
        nbformat.v4.new_code_cell(hands_free.replace('EXPERIMENT = "s_curves"', f'EXPERIMENT = "{name}"'))
        for name in EXPERIMENTS
    ]
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = {
        name: "".join(o.get("text", "") for o in cell.outputs)
        for name, cell in zip(EXPERIMENTS, nb.cells[len(setup) :], strict=True)
    }
    for name, text in outputs.items():
        assert "labelled rounds: 1" in text and "error" not in text, (name, text)
    assert "random ticks [" in outputs["placebo"] and "probabilities [" in outputs["soft"]
    assert "undone, then ticked" in outputs["undo"] and "before the undo" in outputs["undo"]
