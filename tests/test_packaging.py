"""Packaging: environment.yml agrees with pyproject.toml, and .gitignore keeps what must be kept."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

# pip name -> conda-forge name, where they differ
CONDA_NAME = {"torch": "pytorch"}
NOT_PACKAGES = {"python", "pip"}


def parse_environment(text: str) -> dict:
    """Parse the simple YAML of a conda environment file (no PyYAML: it is not a declared dependency).

    Handles top-level ``key: value`` and ``key:`` followed by ``- item`` lists, one level of nested
    ``- key:`` lists (pip's section), and comments.
    """
    result: dict = {}
    key = None
    nested: list | None = None
    nested_indent = 0
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if indent == 0:
            name, _, value = body.partition(":")
            key, nested = name.strip(), None
            result[key] = value.strip() if value.strip() else []
            continue
        if not body.startswith("- ") or key is None:
            raise ValueError(f"unsupported line in environment.yml: {raw!r}")
        item = body[2:].strip()
        if nested is not None and indent > nested_indent:
            nested.append(item)
            continue
        nested = None
        if item.endswith(":"):
            nested = []
            nested_indent = indent
            result[key].append({item[:-1].strip(): nested})
        else:
            result[key].append(item)
    return result


def split_spec(spec: str) -> tuple[str, str]:
    """``"numpy>=1.24"`` -> ``("numpy", ">=1.24")``; names normalised (lower case, ``_`` -> ``-``)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)", spec)
    assert m, spec
    name, rest = m.group(1).lower().replace("_", "-"), m.group(2).split(";")[0].strip()
    return name, rest.replace(" ", "")


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def environment() -> dict:
    return parse_environment((REPO / "environment.yml").read_text())


def conda_packages(environment: dict) -> dict[str, str]:
    return dict(split_spec(d) for d in environment["dependencies"] if isinstance(d, str))


def test_parser_reads_the_structure(environment):
    assert environment["name"] == "toyflow"
    assert environment["channels"] == ["conda-forge"]
    pip_sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [["-e ."]]  # the package itself, from this checkout
    packages = conda_packages(environment)
    assert packages["python"] == "=3.11"
    assert "pip" in packages


def test_parser_agrees_with_pyyaml_when_available(environment):
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load((REPO / "environment.yml").read_text()) == environment


def test_every_runtime_dependency_is_in_environment_yml(pyproject, environment):
    declared = {}
    for spec in pyproject["project"]["dependencies"]:
        name, version = split_spec(spec)
        declared[CONDA_NAME.get(name, name)] = version
    conda = {k: v for k, v in conda_packages(environment).items() if k not in NOT_PACKAGES}
    assert sorted(declared) == sorted(conda), "pyproject.toml and environment.yml list different packages"
    for name, version in declared.items():
        # a bound given in environment.yml must be pyproject's (conda uses the same >= syntax)
        if conda[name]:
            assert conda[name] == version, f"{name}: environment.yml says {conda[name]}, pyproject.toml {version}"


def test_test_extras_are_declared(pyproject):
    extras = {split_spec(s)[0] for s in pyproject["project"]["optional-dependencies"]["test"]}
    assert {"pytest", "ruff"} <= extras


def test_app_extra_is_voila_and_the_tests_install_it(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    assert [split_spec(s)[0] for s in extras["app"]] == ["voila"]
    assert "toyflow[app]" in extras["test"]  # the browser test of the app needs it, so CI installs it


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_app_serves_the_preference_notebook_on_localhost():
    proc = subprocess.run(["make", "-n", "app", "APP_PORT=9123"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    voila = [line for line in proc.stdout.splitlines() if "/voila " in line]
    assert len(voila) == 1, proc.stdout
    assert "notebooks/02_preference.ipynb" in voila[0] and "--port=9123" in voila[0]
    assert "--Voila.ip=127.0.0.1" in voila[0] and "--no-browser" in voila[0]
    assert "http://127.0.0.1:9123/" in proc.stdout  # the address it prints


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("checkpoints/model_a.safetensors", False),
        ("checkpoints/model_a_label_free.safetensors", False),
        ("checkpoints/model_b.safetensors", True),
        ("toyflow/_shipped/model_a.safetensors", True),  # a build's copy of model A: git keeps only checkpoints/'s
        ("setup.py", False),
        ("MANIFEST.in", False),
        ("samples.npy", True),
        ("toyflow/__pycache__/data.cpython-311.pyc", True),
        ("tests/artifacts/shot.png", True),
        ("benchmarks/out/table.txt", True),
        ("docs/picture.tmp", True),
        ("docs/picture.png", False),
        ("notebooks/.ipynb_checkpoints/x.ipynb", True),
        ("toyflow/data.py", False),
    ],
)
def test_gitignore(path, ignored):
    if subprocess.run(["git", "rev-parse"], cwd=REPO, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO, capture_output=True)
    assert proc.returncode == (0 if ignored else 1), f"{path} should {'' if ignored else 'not '}be ignored"


def test_ci_script_is_executable():
    run = REPO / ".ci" / "run"
    assert run.is_file() and run.stat().st_mode & 0o111
    text = run.read_text()
    assert text.startswith("#!") and "set -euo pipefail" in text and "make test" in text
