"""Can widgets render here? The versions of ipywidgets and its JupyterLab extension must match; say what to fix.

The preference notebook runs it first; it imports no widget, so it works where widgets do not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

WIDGET_PAIRS = {7: 1, 8: 3}  # ipywidgets major -> the jupyterlab_widgets major it needs


def _installed(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _major(v: str | None) -> int | None:
    try:
        return int(str(v).split(".")[0])
    except ValueError:
        return None


def _labextension_found() -> bool | None:
    """Whether the ipywidgets JupyterLab extension lies in a labextensions folder (``None``: cannot tell)."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return None
    return any(
        (Path(p) / "@jupyter-widgets" / "jupyterlab-manager" / "package.json").is_file()
        for p in jupyter_path("labextensions")
    )


def widget_problems(versions: Mapping[str, str | None], extension_found: bool | None = None) -> list[str]:
    """What keeps widgets from rendering, given installed ``versions`` (``{"ipywidgets": "8.1.2", ...}``).

    ``jupyterlab_widgets`` (the JupyterLab side) must match ipywidgets' major version: ipywidgets 8
    needs jupyterlab_widgets 3, ipywidgets 7 needs 1. Returns one line per problem, each with the fix.
    """
    problems = []
    ipw, jlw = versions.get("ipywidgets"), versions.get("jupyterlab_widgets")
    fix = "pip install -U 'ipywidgets>=8' 'jupyterlab_widgets>=3,<4'"
    if ipw is None:
        problems.append(f"ipywidgets is not installed: {fix}")
        return problems
    major = _major(ipw)
    if major is not None and major < 8:
        problems.append(f"ipywidgets {ipw} is too old for toyflow (it needs 8): {fix}")
    want = WIDGET_PAIRS.get(major)
    if jlw is None:
        problems.append(
            f"jupyterlab_widgets (the JupyterLab side of ipywidgets) is not installed: "
            f"pip install 'jupyterlab_widgets>={want or 3},<{(want or 3) + 1}'"
        )
    elif want is not None and _major(jlw) != want:
        problems.append(
            f"ipywidgets {ipw} needs jupyterlab_widgets {want}.x, but {jlw} is installed "
            f"(widgets would show 'Error displaying widget' or nothing): {fix}"
        )
    elif extension_found is False:
        problems.append(
            "jupyterlab_widgets is installed but its JupyterLab extension was not found in any labextensions "
            "folder: pip install --force-reinstall 'jupyterlab_widgets>=3,<4'"
        )
    return problems


def check_environment(
    versions: Mapping[str, str | None] | None = None,
    extension_found: bool | None = None,
    out: Callable[[str], object] = print,
) -> list[str]:
    """Check that ipywidgets can render here; print what to install if not. Returns the problems (empty: fine).

    ``versions`` and ``extension_found`` default to what is installed in this kernel's environment
    (pass them to simulate another one). JupyterLab must run from an environment with the same pair.
    """
    if versions is None:
        versions = {name: _installed(name) for name in ("ipywidgets", "jupyterlab_widgets", "jupyterlab")}
        if extension_found is None and versions.get("jupyterlab_widgets") is not None:
            extension_found = _labextension_found()
    problems = widget_problems(versions, extension_found)
    found = ", ".join(f"{k} {v}" for k, v in versions.items() if v is not None) or "no widget packages"
    if problems:
        out(
            "The clickable tiles will NOT render in this environment.\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nFound: {found}.\nAfter installing, restart JupyterLab (from the same environment) and reload "
            "the page. The static figures of this notebook work without widgets."
        )
    else:
        out(f"Widgets OK ({found}).")
    return problems
