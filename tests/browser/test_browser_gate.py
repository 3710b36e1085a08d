"""The skip/fail logic of the browser tests (no browser needed; not marked ``browser``)."""

from __future__ import annotations

import pytest

from .labharness import DEFAULT_CHROMIUM, BrowserGate, Budget, browser_gate, budget_seconds, enforce


def gate(env, present=(DEFAULT_CHROMIUM,), playwright=True) -> BrowserGate:
    return browser_gate(env, is_executable=lambda path: path in present, has_playwright=lambda: playwright)


def test_runs_with_default_chromium():
    assert gate({}) == BrowserGate("run", DEFAULT_CHROMIUM)


def test_toyflow_chromium_overrides_the_default():
    result = gate({"TOYFLOW_CHROMIUM": "/opt/chrome/chrome"}, present=("/opt/chrome/chrome",))
    assert result == BrowserGate("run", "/opt/chrome/chrome")
    # A TOYFLOW_CHROMIUM that does not exist is not silently replaced by /usr/bin/chromium.
    result = gate({"TOYFLOW_CHROMIUM": "/nowhere/chromium"})
    assert result.action == "skip"
    assert "/nowhere/chromium" in result.reason and "TOYFLOW_CHROMIUM" in result.reason


def test_missing_chromium_skips_with_a_reason():
    result = gate({}, present=())
    assert result.action == "skip"
    assert DEFAULT_CHROMIUM in result.reason and "TOYFLOW_REQUIRE_BROWSER=1" in result.reason


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_missing_chromium_fails_when_required(value):
    result = gate({"TOYFLOW_REQUIRE_BROWSER": value}, present=())
    assert result.action == "fail"
    assert DEFAULT_CHROMIUM in result.reason and "TOYFLOW_REQUIRE_BROWSER" in result.reason


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_require_browser_off_values_skip(value):
    assert gate({"TOYFLOW_REQUIRE_BROWSER": value}, present=()).action == "skip"


def test_required_and_present_runs():
    assert gate({"TOYFLOW_REQUIRE_BROWSER": "1"}).action == "run"


def test_missing_playwright_counts_as_missing_browser():
    assert gate({}, playwright=False).action == "skip"
    result = gate({"TOYFLOW_REQUIRE_BROWSER": "1"}, playwright=False)
    assert result.action == "fail" and "playwright" in result.reason


def test_enforce_skips_fails_or_returns_the_path():
    assert enforce(BrowserGate("run", "/usr/bin/chromium")) == "/usr/bin/chromium"
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        enforce(BrowserGate("skip", "/x", "no Chromium here"))
    with pytest.raises(pytest.fail.Exception, match="no Chromium"):
        enforce(BrowserGate("fail", "/x", "no Chromium here"))


def test_budget_cuts_timeouts_and_runs_out():
    budget = Budget(60)
    assert budget.ms(5_000) == 5_000
    assert 55_000 < budget.ms(10**9) <= 60_000
    spent = Budget(0)
    with pytest.raises(AssertionError, match="budget"):
        spent.ms(1_000)
    assert budget_seconds({}) == 300 and budget_seconds({"TOYFLOW_BROWSER_BUDGET_S": "90"}) == 90
    assert budget_seconds({"TOYFLOW_BROWSER_BUDGET_S": "soon"}) == 300
