"""toyflow.environment: whether widgets can render, and what to install when they cannot."""

from __future__ import annotations

from toyflow.environment import check_environment, widget_problems


def test_environment_check_reports_a_version_mismatch():
    lines: list[str] = []
    problems = check_environment({"ipywidgets": "8.1.2", "jupyterlab_widgets": "1.1.7"}, out=lines.append)
    assert problems and "jupyterlab_widgets 3" in problems[0]
    text = "\n".join(lines)
    assert "will NOT render" in text and "pip install" in text and "jupyterlab_widgets>=3,<4" in text

    assert "not installed" in widget_problems({"ipywidgets": "8.0.0", "jupyterlab_widgets": None})[0]
    assert "not installed" in widget_problems({"ipywidgets": None, "jupyterlab_widgets": "3.0.0"})[0]
    assert "too old" in widget_problems({"ipywidgets": "7.8.1", "jupyterlab_widgets": "1.1.0"})[0]
    assert "extension" in widget_problems({"ipywidgets": "8.1.0", "jupyterlab_widgets": "3.0.9"}, False)[0]
    assert widget_problems({"ipywidgets": "8.1.0", "jupyterlab_widgets": "3.0.9"}, True) == []

    lines.clear()
    assert check_environment({"ipywidgets": "8.1.2", "jupyterlab_widgets": "3.0.10"}, out=lines.append) == []
    assert lines and lines[0].startswith("Widgets OK")


def test_environment_check_passes_in_this_environment(capsys):
    assert check_environment() == []
    assert "Widgets OK" in capsys.readouterr().out


def test_the_check_is_still_reachable_from_the_widgets_package():
    import toyflow.widgets

    assert toyflow.widgets.check_environment is check_environment
