"""The app mode for the browser tests: ``voila`` serving one notebook of a copy of the repository.

Built on :class:`labharness.LabServer` (same private Jupyter folders, environment and shutdown: signal the process
group, then kill the kernels it started); only the command and the readiness check differ. Voila executes the
notebook when the page is requested, so readiness is the server answering a static file, not the page itself.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

from .labharness import LabServer

READY_PATH = "voila/static/extension.js"
# As `make app` serves it (the Makefile's APP_OPTIONS): the page and its text at once, each output as its cell ends, so
# the picker shows as soon as its cell has run, not after the whole notebook
APP_OPTIONS = ["--VoilaConfiguration.progressive_rendering=True"]


class VoilaServer(LabServer):
    """``voila NOTEBOOK`` from this virtual environment on 127.0.0.1 and a free port (no token: it serves the one
    notebook, whose code a visitor cannot change), tracebacks shown in the page so that a failure says why."""

    def __init__(self, root_dir: Path, notebook: str, home: Path, log_path: Path, env: dict[str, str] | None = None):
        super().__init__(root_dir, home, log_path, env)
        self.notebook = notebook

    def url(self, path: str = "") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    name = "voila"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "voila",
            self.notebook,
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={self.port}",
            "--show_tracebacks=True",
            *APP_OPTIONS,
        ]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url(READY_PATH), timeout=5):
                return True
        except urllib.error.HTTPError:  # it answers: up, whatever it thinks of the path
            return True

    def reset(self) -> None:
        """Nothing to reset: every page load gets a kernel of its own, shut down when the page goes."""
