"""The README and docs/ cite only files the repository has, and no path of somebody's machine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![picture](target)
QUOTED_PATH = re.compile(r"`((?:toyflow|tests|docs|benchmarks|notebooks|checkpoints|\.ci)/[^`\s]*)`")
ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:[\w.-]+/)+[\w.-]*")
GENERATED = ("tests/artifacts/", "benchmarks/out/")  # written by the tests and benchmarks, never committed
# the system's own places (where Debian installs the browser, the examples of a place nobody can write into)
SYSTEM_ROOTS = ("/usr/", "/dev/", "/proc/", "/sys/", "/etc/")


def cited_files(path: Path, text: str) -> list[tuple[str, Path]]:
    """Every file ``text`` (the document at ``path``) cites: its links relative to the document, and the repository
    paths it quotes in backticks, relative to the repository; each with the path it resolves to."""
    found = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor of the same page
        found.append((target, (path.parent / target.split("#")[0]).resolve()))
    for quoted in QUOTED_PATH.findall(text):
        if not any(c in quoted for c in "<>*{}[]") and not quoted.startswith(GENERATED):
            found.append((quoted, (REPO / quoted.split(":")[0]).resolve()))
    return found


def absolute_paths(text: str) -> list[str]:
    """The absolute file paths in ``text`` (not web addresses), but for the system's own places."""
    return [p for p in ABSOLUTE.findall(text) if not p.startswith(SYSTEM_ROOTS)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_cited_file_exists(document):
    missing = [cited for cited, resolved in cited_files(document, document.read_text()) if not resolved.exists()]
    assert not missing, f"{document.name} cites files the repository does not have: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_no_absolute_path(document):
    found = absolute_paths(document.read_text())
    assert not found, f"{document.name} holds absolute paths: {found}"


def test_the_checks_see_a_missing_file_and_an_absolute_path(tmp_path):
    doc = tmp_path / "x.md"
    text = "see [this](missing.md), ![a picture](x.md), `docs/nothing.py` and https://example.org/a/b"
    cited = dict(cited_files(doc, text))
    assert set(cited) == {"missing.md", "x.md", "docs/nothing.py"}
    assert cited["x.md"] == doc.resolve()
    assert absolute_paths("model A: /work/main/checkpoints/a.safetensors, http://127.0.0.1:8866/ ok") == [
        "/work/main/checkpoints/a.safetensors"
    ]
    assert absolute_paths("apt-get gives /usr/bin/chromium; --out /proc/x is refused") == []
    assert absolute_paths("see /home/me/toyflow/README.md") == ["/home/me/toyflow/README.md"]


def test_the_readme_is_a_front_door():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: measurements and design notes belong in docs/"


@pytest.mark.slow
def test_the_readme_short_tour_runs_as_written(tmp_path, monkeypatch, capsys):
    readme = (REPO / "README.md").read_text()
    tour = re.search(r"```python\n(.*?)```", readme[readme.index("## A short tour") :], re.S)
    assert tour is not None, "the README's short tour has no python block"
    monkeypatch.chdir(tmp_path)  # it writes session.json where it runs
    exec(compile(tour.group(1), "README.md (a short tour)", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].endswith("model B matches the log bit for bit"), printed
    assert (tmp_path / "session.json").is_file()
