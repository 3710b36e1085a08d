"""The code's shape: small modules and classes, and the import layers of pyproject.toml (import-linter)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

MAX_MODULE_LINES = 350
MAX_CLASS_LINES = 250
MODULES = sorted((REPO / "toyflow").rglob("*.py"))


def oversized(path: Path) -> list[str]:
    """What in ``path`` is too long: the module itself, or any class in it (nested ones too)."""
    text = path.read_text()
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{path.name}: {lines} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            if size > MAX_CLASS_LINES:
                found.append(f"{path.name}: class {node.name} has {size} lines (at most {MAX_CLASS_LINES})")
    return found


def test_the_size_check_sees_long_modules_and_classes(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_CLASS_LINES))
    (tmp_path / "big.py").write_text(f"class Big:\n{body}\n" + "\n" * (MAX_MODULE_LINES - MAX_CLASS_LINES))
    assert oversized(tmp_path / "big.py") == [
        f"big.py: {MAX_MODULE_LINES + 1} lines (at most {MAX_MODULE_LINES})",
        f"big.py: class Big has {MAX_CLASS_LINES + 1} lines (at most {MAX_CLASS_LINES})",
    ]


def test_no_module_or_class_of_toyflow_is_too_long():
    assert len(MODULES) > 20
    problems = [p for path in MODULES for p in oversized(path)]
    assert not problems, "split these: " + "; ".join(problems)


def test_import_layers_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout
