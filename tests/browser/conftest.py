"""Fixtures of the browser tests: JupyterLab on a copy of the repository, driven by headless Chromium.

Chromium is ``$TOYFLOW_CHROMIUM`` or ``/usr/bin/chromium``. Without it the browser tests are skipped,
or fail when ``TOYFLOW_REQUIRE_BROWSER=1`` (as in ``.ci/run``): see ``labharness.browser_gate``.
Screenshots, console logs and the server log go to ``tests/artifacts/browser/``.
"""

from __future__ import annotations

import re

import pytest

from .labharness import (
    SHOTS,
    Budget,
    LabServer,
    browser_gate,
    budget_seconds,
    copy_repo,
    enforce,
    launched_chromium,
    served,
    without_hands_free,
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the Chromium executable; skips (or fails, under TOYFLOW_REQUIRE_BROWSER=1) without one."""
    return enforce(browser_gate())


@pytest.fixture(scope="session")
def budget(chromium_path) -> Budget:
    """The time every wait of the browser tests shares (``$TOYFLOW_BROWSER_BUDGET_S``, default 300 s)."""
    return Budget(budget_seconds())


@pytest.fixture(scope="session")
def lab(chromium_path, budget, tmp_path_factory):
    """``jupyter lab`` serving a temporary copy of the repository, with ``TOYFLOW_QUICK=1``; in the copy the preference
    notebook's hands-free cells are off (``HANDS_FREE = False``): they run headless in tests/test_notebooks.py."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = copy_repo(tmp / "repo")
    without_hands_free(root / "notebooks" / "02_preference.ipynb")  # the headless run covers the hands-free cells
    server = LabServer(root, tmp / "home", SHOTS / "jupyterlab.log", env={"TOYFLOW_QUICK": "1"})
    with served(server, budget, chromium_path, "browser tests"):
        yield server


@pytest.fixture(scope="session")
def browser(chromium_path, lab):
    with launched_chromium(chromium_path) as browser:
        yield browser


def _failed(node) -> bool:
    return any(getattr(getattr(node, f"rep_{when}", None), "failed", False) for when in ("setup", "call"))


@pytest.fixture
def page(request, browser, lab):
    """A fresh browser page (1400x1000). Its console goes to ``<test>-console.log``, and on failure a
    screenshot and the page's DOM to ``FAILED-<test>.png/.html``. Afterwards every
    kernel is shut down and the saved workspace forgotten."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        yield page
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{name}-console.log").write_text("\n".join(console) + "\n")
        if _failed(request.node):
            try:
                page.screenshot(path=str(SHOTS / f"FAILED-{name}.png"), full_page=True, timeout=15_000)
                (SHOTS / f"FAILED-{name}.html").write_text(page.content())
            except Exception as exc:  # the page may be gone; the report has the failure anyway
                print(f"could not save the failure screenshot: {exc}")
        try:
            context.close()
        finally:
            lab.reset()
