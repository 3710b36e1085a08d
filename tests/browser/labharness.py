"""Helpers for the browser tests: find Chromium, run JupyterLab on a copy of the repository, drive it.

Kept apart from ``conftest.py`` so that the gate logic (skip or fail when Chromium is missing) can be
unit-tested without a browser (see ``test_browser_gate.py``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
SHOTS = ARTIFACTS / "browser"

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# What the temporary copy of the repository leaves out (names matched anywhere in the tree).
COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    "*.egg-info",
    "artifacts",
    "build",
    "dist",
    "out",
)

_TRUE = {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------------------------------
# The gate: run, skip or fail


@dataclass(frozen=True)
class BrowserGate:
    """What to do with the browser tests: ``action`` is "run", "skip" or "fail"."""

    action: str
    chromium: str
    reason: str = ""


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _has_playwright() -> bool:
    return importlib.util.find_spec("playwright") is not None


def browser_gate(env=None, is_executable=_is_executable, has_playwright=_has_playwright) -> BrowserGate:
    """Decide whether the browser tests can run.

    Chromium is ``$TOYFLOW_CHROMIUM`` if set, else ``/usr/bin/chromium``. When it (or the playwright
    package) is missing the tests are skipped, unless ``TOYFLOW_REQUIRE_BROWSER`` is set to 1/true/yes,
    as ``.ci/run`` does: then a missing browser is a failure, so CI cannot pass without running them.
    """
    env = os.environ if env is None else env
    chromium = env.get("TOYFLOW_CHROMIUM") or DEFAULT_CHROMIUM
    missing = []
    if not is_executable(chromium):
        where = "$TOYFLOW_CHROMIUM" if env.get("TOYFLOW_CHROMIUM") else "the default path"
        missing.append(f"no Chromium executable at {chromium} ({where}; `apt-get install chromium`)")
    if not has_playwright():
        missing.append("the playwright package is not installed (`pip install -e '.[test]'`)")
    if not missing:
        return BrowserGate("run", chromium)
    required = env.get("TOYFLOW_REQUIRE_BROWSER", "").strip().lower() in _TRUE
    reason = "browser tests cannot run: " + "; ".join(missing)
    if required:
        return BrowserGate("fail", chromium, reason + " [TOYFLOW_REQUIRE_BROWSER is set, so this is a failure]")
    return BrowserGate("skip", chromium, reason + " [set TOYFLOW_REQUIRE_BROWSER=1 to make this a failure]")


def enforce(gate: BrowserGate) -> str:
    """Skip or fail the current test as ``gate`` says; return the Chromium path when it may run."""
    import pytest

    if gate.action == "fail":
        pytest.fail(gate.reason, pytrace=False)
    if gate.action == "skip":
        pytest.skip(gate.reason)
    return gate.chromium


# --------------------------------------------------------------------------------------------------
# JupyterLab on a temporary copy of the repository


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_repo(dest: Path) -> Path:
    """Copy the working tree (without environments, git data and caches) to ``dest``."""
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE, symlinks=True)
    return dest


HANDS_FREE_LINE = 'HANDS_FREE = not os.environ.get("TOYFLOW_APP")'


def without_hands_free(notebook: Path) -> Path:
    """Set the preference notebook's ``HANDS_FREE`` parameter to False in ``notebook`` (a copy), as a person may: the
    browser tests use the picker by hand, and the headless run (tests/test_notebooks.py) runs the hands-free cells.
    Fails if the parameter is not where it was."""
    nb = json.loads(notebook.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and HANDS_FREE_LINE in "".join(c["source"])]
    if len(cells) != 1:
        raise AssertionError(f"{notebook.name}: no single parameter cell with {HANDS_FREE_LINE!r}")
    source = "".join(cells[0]["source"]).replace(HANDS_FREE_LINE, "HANDS_FREE = False")
    cells[0]["source"] = source.splitlines(keepends=True)
    notebook.write_text(json.dumps(nb, indent=1) + "\n")
    return notebook


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _descendants(pid: int) -> list[int]:
    """PIDs of every live descendant of ``pid`` (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_if_kernel(pid: int) -> None:
    """SIGKILL ``pid`` if it is still a kernel (an ipykernel process); a reused PID is left alone."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"ipykernel" in cmdline:
            os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


class LabServer:
    """``jupyter lab`` from this virtual environment, on 127.0.0.1, a free port and a random token.

    Its configuration, runtime, settings and workspace folders live in a private temporary folder,
    so nothing from the user's own JupyterLab (saved layouts, settings) leaks in, and nothing of
    the test leaks out. News and update checks are off. ``env`` is added to the server's (and so the
    kernels') environment.
    """

    def __init__(self, root_dir: Path, home: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.root_dir = root_dir
        self.home = home
        self.log_path = log_path
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        dirs = {
            "JUPYTER_CONFIG_DIR": self.home / "config",
            "JUPYTER_RUNTIME_DIR": self.home / "runtime",
            "JUPYTERLAB_SETTINGS_DIR": self.home / "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": self.home / "lab-workspaces",
            "IPYTHONDIR": self.home / "ipython",
            "MPLCONFIGDIR": self.home / "matplotlib",
        }
        for key, path in dirs.items():
            path.mkdir(parents=True, exist_ok=True)
            env[key] = str(path)
        # No "would you like news?" toast, no update check.
        _write_json(
            dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )
        # The kernel imports toyflow from the copy (ahead of the editable install of the working tree).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.root_dir), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("JUPYTER_TOKEN", None)
        env.update(self.extra_env)
        return env

    name = "jupyter lab"

    def command(self) -> list[str]:
        """The server's command line."""
        return [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]

    def ready(self) -> bool:
        """Whether the server answers yet (raises ``URLError`` or ``OSError`` while it does not)."""
        with urllib.request.urlopen(self.url("api/status"), timeout=5) as resp:
            return resp.status == 200

    def start(self, timeout: float = 90.0) -> None:
        """Start :meth:`command` in its own process group, logging to ``log_path``; return once :meth:`ready`."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.root_dir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.ready():
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}")

    def api(self, method: str, path: str, timeout: float = 10) -> object:
        """Call the server's REST API; return the decoded JSON answer (None when empty)."""
        req = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def reset(self) -> None:
        """Shut down every session and kernel and forget the saved workspaces (the server keeps running),
        so that the next page starts from a clean JupyterLab and no earlier kernel slows it down."""
        try:
            for session in self.api("GET", "api/sessions") or []:
                self.api("DELETE", f"api/sessions/{session['id']}", timeout=30)
            for kernel in self.api("GET", "api/kernels") or []:
                self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=30)
            workspaces = self.api("GET", "lab/api/workspaces") or {}
            for ws in workspaces.get("workspaces", {}).get("ids", []):
                self.api("DELETE", f"lab/api/workspaces/{ws}")
        except (urllib.error.URLError, OSError) as exc:
            print(f"could not reset JupyterLab: {exc}")

    def kill(self) -> None:
        """SIGKILL the server's process group and its kernels at once (the watchdog's last resort)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        kernels = _descendants(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in kernels:
            _kill_if_kernel(pid)

    def stop(self) -> None:
        """Stop the server and its kernels: shut down politely, then signal, then kill."""
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                # Kernels run in sessions of their own, so note them before the server goes.
                kernels = _descendants(proc.pid)
                try:
                    req = urllib.request.Request(self.url("api/shutdown"), method="POST")
                    urllib.request.urlopen(req, timeout=5).close()
                    proc.wait(timeout=15)
                except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
                    pass
                for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                    if proc.poll() is not None:
                        break
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        proc.wait(timeout=wait)
                    except subprocess.TimeoutExpired:
                        pass
                for pid in kernels:
                    _kill_if_kernel(pid)
            # Anything left in the server's own process group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        finally:
            if self._log is not None:
                self._log.close()
            self.proc = None


# --------------------------------------------------------------------------------------------------
# Time limits: every wait is bounded, and the suite as a whole too


class Budget:
    """The time the browser tests may spend waiting, shared by every wait of the session.

    ``ms(want)`` gives a Playwright timeout: ``want`` milliseconds, but never more than what is left.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def ms(self, want_ms: float) -> float:
        left_ms = self.left() * 1000
        if left_ms <= 0:
            raise AssertionError(f"the browser tests' time budget ({self.seconds:.0f} s) is spent")
        return max(1_000.0, min(want_ms, left_ms))


def budget_seconds(env=None, default: float = 300.0) -> float:
    """Seconds of waiting allowed to the browser tests: ``$TOYFLOW_BROWSER_BUDGET_S`` or ``default``."""
    env = os.environ if env is None else env
    try:
        return float(env.get("TOYFLOW_BROWSER_BUDGET_S") or default)
    except ValueError:
        return default


# After the waiting budget, this much more before the watchdog kills Chromium and the server, which turns any wait
# that still hangs into an error (a bound for waits Playwright cannot time out).
WATCHDOG_GRACE_S = 60.0


@contextlib.contextmanager
def served(server: LabServer, budget: Budget, chromium_path: str, what: str):
    """Start ``server`` within ``budget`` and yield it; stop it after. A watchdog kills the server and Chromium's
    children if the tests are still running ``WATCHDOG_GRACE_S`` after the budget ran out."""

    def kill_everything() -> None:
        print(f"\n{what}: watchdog fired after {budget.seconds + WATCHDOG_GRACE_S:.0f} s, killing")
        kill_chromium_children(chromium_path)
        server.kill()

    watchdog = threading.Timer(max(budget.left(), 0) + WATCHDOG_GRACE_S, kill_everything)
    watchdog.daemon = True
    watchdog.start()
    try:
        server.start(timeout=min(90.0, max(budget.left(), 1.0)))
        yield server
    finally:
        watchdog.cancel()
        server.stop()


def kill_chromium_children(executable: str) -> int:
    """SIGKILL every Chromium started (through Playwright) by this process; return how many."""
    killed = 0
    for pid in _descendants(os.getpid()):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if "chrom" in exe or executable.encode() in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed


# --------------------------------------------------------------------------------------------------
# Driving a notebook in JupyterLab (Playwright; imported lazily so the gate works without it)

# The notebook panel in front (JupyterLab hides the others with lm-mod-hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# What a broken output looks like in JupyterLab and in the ipywidgets manager.
ERROR_CHECKS_JS = """
(panelSel) => {
  const panel = document.querySelector(panelSel);
  if (!panel) return ['no notebook panel'];
  const problems = [];
  const snippet = (e) => {  // a traceback's end says what went wrong: keep its head and its tail
    const t = (e.innerText || e.textContent || '').trim();
    return t.length <= 1500 ? t : t.slice(0, 300) + '\\n[...]\\n' + t.slice(-1200);
  };
  for (const e of panel.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]'))
    problems.push('error output: ' + snippet(e));
  for (const e of panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
    const t = snippet(e);
    if (/Error|Traceback/.test(t)) problems.push('stderr output: ' + t);
  }
  for (const e of panel.querySelectorAll('.jupyter-widgets-error-widget'))
    problems.push('widget error: ' + snippet(e));
  for (const e of panel.querySelectorAll('.jp-OutputArea-output')) {
    const t = (e.textContent || '').trim();
    if (t.startsWith('Error displaying widget')) problems.push('widget not displayed: ' + t.slice(0, 200));
    if (t === 'Loading widget...') problems.push('widget still loading');
  }
  return problems;
}
"""

# True once "Run All" has finished: nothing queued or running, kernel idle, and every non-empty code
# cell has an execution count, or an error stopped the run (the cells after it never run).
RUN_FINISHED_JS = """
(panelSel) => {
  const panel = document.querySelector(panelSel);
  if (!panel) return false;
  const status = panel.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
  const cells = [...panel.querySelectorAll('.jp-CodeCell')].filter(
    (c) => ((c.querySelector('.cm-content') || {}).textContent || '').trim() !== '');
  const prompts = cells.map((c) => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
  if (prompts.some((p) => p.includes('*'))) return false;
  const done = prompts.filter((p) => /\\[\\d+\\]/.test(p)).length;
  // JupyterLab 4 shows a traceback as stderr text; older versions as an error output.
  const failed = panel.querySelector('[data-mime-type="application/vnd.jupyter.error"]') !== null
    || [...panel.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')].some(
      (e) => /Traceback|Error/.test(e.textContent || ''));
  return status === 'idle' && (done === cells.length || failed);
}
"""

RUN_STARTED_JS = """
(panelSel) => {
  const panel = document.querySelector(panelSel);
  const prompts = [...(panel ? panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt') : [])];
  return prompts.some((p) => /\\[(\\*|\\d+)\\]/.test(p.textContent || ''));
}
"""


class NotebookPage:
    """One notebook open in JupyterLab, driven the way a person would: menus, clicks, buttons.

    Every wait is bounded by its own timeout and by the shared :class:`Budget`.
    """

    def __init__(self, page, lab: LabServer, path: str, shots: Path, budget: Budget) -> None:
        self.page = page
        self.lab = lab
        self.path = path
        self.shots = shots
        self.budget = budget
        self.name = Path(path).stem
        self.panel = page.locator(PANEL)

    def t(self, want_ms: float) -> float:
        """A timeout of ``want_ms`` milliseconds, cut to what is left of the budget."""
        return self.budget.ms(want_ms)

    # ---- opening and running

    def open(self, timeout_ms: float = 90_000) -> None:
        """Open the notebook from its /lab/tree URL and wait until its kernel is idle."""
        from playwright.sync_api import expect

        self.page.goto(self.lab.url(f"lab/tree/{self.path}"), timeout=self.t(timeout_ms))
        expect(self.panel).to_have_count(1, timeout=self.t(timeout_ms))
        tab = self.page.locator(".lm-TabBar-tab.lm-mod-current", has_text=Path(self.path).name)
        expect(tab.first).to_be_visible(timeout=self.t(timeout_ms))
        self._accept_kernel_dialog()
        self.wait_kernel_idle(timeout_ms)

    def _accept_kernel_dialog(self) -> None:
        """A notebook without kernel metadata asks which kernel to use: take the default one."""
        dialog = self.page.locator(".jp-Dialog")
        try:
            dialog.wait_for(state="visible", timeout=1_500)
        except Exception:
            return
        self.page.locator(".jp-Dialog .jp-mod-accept").click(timeout=self.t(10_000))

    def wait_kernel_idle(self, timeout_ms: float = 90_000) -> None:
        from playwright.sync_api import expect

        indicator = self.page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator")
        expect(indicator).to_have_attribute("data-status", "idle", timeout=self.t(timeout_ms))

    def run_all(self, timeout_ms: float = 300_000) -> None:
        """Menu "Run" > "Run All Cells" (the command palette as a fallback); wait until the run ends."""
        self.panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5}, timeout=self.t(10_000))
        if not self._run_all_from_menu():
            self._run_all_from_palette()
        self.page.wait_for_function(RUN_STARTED_JS, arg=PANEL, timeout=self.t(30_000))
        self.page.wait_for_function(RUN_FINISHED_JS, arg=PANEL, timeout=self.t(timeout_ms), polling=500)

    def _run_all_from_menu(self) -> bool:
        try:
            self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click(timeout=self.t(10_000))
            item = self.page.locator(".lm-Menu-item:not(.lm-mod-disabled)", has_text=re.compile(r"^Run All Cells"))
            item.first.click(timeout=self.t(10_000))
            return True
        except AssertionError:
            raise
        except Exception:
            self.page.keyboard.press("Escape")
            return False

    def _run_all_from_palette(self) -> None:
        self.page.keyboard.press("Control+Shift+C")
        self.page.locator(".lm-CommandPalette-input").fill("Run All Cells", timeout=self.t(10_000))
        self.page.locator(".lm-CommandPalette-item", has_text="Run All Cells").first.click(timeout=self.t(10_000))

    # ---- looking

    def problems(self) -> list[str]:
        """Errors shown in the notebook: error outputs, tracebacks on stderr, broken or loading widgets."""
        return self.page.evaluate(ERROR_CHECKS_JS, PANEL)

    def assert_no_problems(self, settle_ms: float = 15_000) -> None:
        """No error output anywhere, and every widget rendered (waits a little for late widgets)."""
        deadline = time.monotonic() + self.t(settle_ms) / 1000
        problems = self.problems()
        while problems and all(p == "widget still loading" for p in problems) and time.monotonic() < deadline:
            time.sleep(0.5)
            problems = self.problems()
        assert not problems, f"{self.path} shows problems:\n" + "\n".join(problems)

    def shot(self, step: str, element=None) -> Path:
        """A screenshot of the page into the artifacts folder, ``element`` (if given) scrolled into view
        first and also saved on its own as ``...-element.png``."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{self.name}-{step}.png"
        if element is not None:
            try:
                element.scroll_into_view_if_needed(timeout=5_000)
                element.screenshot(path=str(self.shots / f"{self.name}-{step}-element.png"), timeout=10_000)
            except Exception as exc:  # a picture is a bonus, never the reason a test fails
                print(f"no element screenshot for {step}: {exc}")
        self.page.screenshot(path=str(path), full_page=True, timeout=15_000)
        return path

    def button(self, text: str):
        """The widget button whose label is exactly ``text``."""
        pattern = re.compile(rf"^\s*{re.escape(text)}\s*$")
        return self.panel.locator("button.jupyter-button", has_text=pattern)


@contextlib.contextmanager
def launched_chromium(chromium_path: str):
    """Headless Chromium at ``chromium_path`` with :data:`CHROMIUM_ARGS`, driven by Playwright; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()
