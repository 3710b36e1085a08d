"""The code's shape: no monster module, the import layers of pyproject.toml (import-linter), declared imports."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from conftest import REPO

# Modules are split by job, not by line count: this ceiling only catches a module that has grown into several jobs.
MAX_MODULE_LINES = 500
MODULES = sorted((REPO / "toyflow").rglob("*.py"))


def oversized(path: Path) -> str | None:
    """What is wrong with the length of ``path``, or ``None``."""
    lines = len(path.read_text().splitlines())
    return f"{path.name}: {lines} lines (at most {MAX_MODULE_LINES})" if lines > MAX_MODULE_LINES else None


def test_the_size_check_sees_a_monster(tmp_path):
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "fine.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    assert oversized(tmp_path / "big.py") == f"big.py: {MAX_MODULE_LINES + 1} lines (at most {MAX_MODULE_LINES})"
    assert oversized(tmp_path / "fine.py") is None


def test_no_module_of_toyflow_is_a_monster():
    assert len(MODULES) > 20
    problems = [p for path in MODULES if (p := oversized(path))]
    assert not problems, "one module, one job: " + "; ".join(problems)


def test_import_layers_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


# the name a distribution installs under, where it differs from its name on PyPI
IMPORT_NAMES = {"scikit-learn": "sklearn", "pillow": "PIL", "pyyaml": "yaml", "ipykernel": "ipykernel"}


def third_party_imports(paths: list[Path]) -> dict[str, str]:
    """Top-level names of the modules ``paths`` import that are neither the standard library nor toyflow, each
    with the first file importing it."""
    found: dict[str, str] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "toyflow":
                    found.setdefault(top, path.name)
    return found


def declared(requirements: list[str]) -> set[str]:
    """The import names of ``requirements`` (``"scikit-learn>=1.3"`` -> ``"sklearn"``)."""
    names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].strip().lower() for r in requirements}
    return {IMPORT_NAMES.get(n, n.replace("-", "_")) for n in names}


def test_every_imported_package_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    library = third_party_imports(MODULES)
    missing = {name: where for name, where in library.items() if name not in declared(project["dependencies"])}
    assert not missing, f"imported by toyflow but not in pyproject.toml's dependencies: {missing}"
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    everything = (
        declared(project["dependencies"]) | declared(extras) | {"conftest", "common", "labharness", "appserver"}
    )
    scripts = sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "benchmarks").glob("*.py"))
    missing = {
        n: w for n, w in third_party_imports(scripts).items() if n not in everything and not n.startswith("test_")
    }
    assert not missing, f"imported by the tests or benchmarks but not declared in pyproject.toml: {missing}"


def test_the_import_check_reads_imports_and_requirements(tmp_path):
    (tmp_path / "m.py").write_text(
        "import os\nimport numpy as np\nfrom scipy.spatial import cKDTree\nfrom . import x\n"
    )
    assert set(third_party_imports([tmp_path / "m.py"])) == {"numpy", "scipy"}
    assert declared(["scikit-learn>=1.3", "Pillow>=9", "torch==2.13.0", "toyflow[app]"]) == {
        "sklearn",
        "PIL",
        "torch",
        "toyflow",
    }
