"""The package carries model A: a wheel built from the checkout (or from its source distribution) holds the shipped
checkpoint, and ``toyflow.SHIPPED_CHECKPOINT`` finds it wherever the wheel is installed; a checkout finds its own.

The builds use the virtual environment's setuptools (``--no-build-isolation --no-index``): nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

import toyflow
import toyflow.shipped
from toyflow.shipped import shipped_checkpoint

MODEL_A = REPO / "checkpoints" / "model_a.safetensors"
LABEL_FREE = REPO / "checkpoints" / "model_a_label_free.safetensors"
IN_PACKAGE = "toyflow/_shipped/model_a.safetensors"
LABEL_FREE_IN_PACKAGE = "toyflow/_shipped/model_a_label_free.safetensors"
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", "artifacts", ".pytest_cache", ".ruff_cache", "out"
)


def test_a_checkout_finds_its_own_model_a():
    assert toyflow.SHIPPED_CHECKPOINT == MODEL_A and MODEL_A.is_file()
    assert not (REPO / IN_PACKAGE).exists()  # the one copy is in checkpoints/; git ignores a stray second one


def test_a_checkout_finds_its_label_free_model_a_too():
    assert toyflow.LABEL_FREE_CHECKPOINT == LABEL_FREE and LABEL_FREE.is_file()
    assert shipped_checkpoint("model_a_label_free") == LABEL_FREE
    with pytest.raises(ValueError, match="no shipped model A is called 'model_b'"):
        shipped_checkpoint("model_b")


@pytest.mark.parametrize("name", toyflow.SHIPPED_MODELS)
def test_the_package_copy_comes_first_when_there_is_one(name, tmp_path, monkeypatch):
    packaged, checkout = tmp_path / "pkg" / f"{name}.safetensors", tmp_path / "checkout" / f"{name}.safetensors"
    monkeypatch.setattr(toyflow.shipped, "PACKAGED_DIR", packaged.parent)
    monkeypatch.setattr(toyflow.shipped, "CHECKOUT_DIR", checkout.parent)
    assert shipped_checkpoint(name) == checkout  # neither exists: the checkout's path, for a clear "no such file"
    packaged.parent.mkdir()
    packaged.write_bytes(b"x")
    assert shipped_checkpoint(name) == packaged


def _pip(*args: str, cwd: Path) -> None:
    cmd = [sys.executable, "-m", "pip", *args, "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"


def _build_sdist(src: Path, dist: Path) -> Path:
    code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return dist / proc.stdout.strip().splitlines()[-1]


SAMPLE_THERE = """
import json, sys
import toyflow
from toyflow import SHIPPED_CHECKPOINT, load_checkpoint
from toyflow.evaluation import generate

model, meta = load_checkpoint(SHIPPED_CHECKPOINT, device="cpu")
clouds = generate(model, 3, seed=0, meta=meta)
print(json.dumps({"package": toyflow.__file__, "checkpoint": str(SHIPPED_CHECKPOINT), "shape": list(clouds.shape),
                  "finite": bool(clouds.isfinite().all()), "steps": meta["steps"]}))
"""


@pytest.mark.slow
def test_an_installed_wheel_carries_and_samples_model_a(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE)

    # a wheel built in the tree (as `pip install .` does) holds model A, byte for byte
    _pip("wheel", "-w", str(tmp_path / "tree-dist"), str(src), cwd=tmp_path)
    (tree_wheel,) = (tmp_path / "tree-dist").glob("toyflow-*.whl")
    with zipfile.ZipFile(tree_wheel) as whl:
        assert whl.read(IN_PACKAGE) == MODEL_A.read_bytes()
        assert whl.read(LABEL_FREE_IN_PACKAGE) == LABEL_FREE.read_bytes()

    # the source distribution carries it too, and a wheel built from that (as `python -m build` does) as well
    sdist = _build_sdist(src, tmp_path / "sdist")
    with tarfile.open(sdist) as tar:
        assert any(name.endswith("/checkpoints/model_a.safetensors") for name in tar.getnames())
        assert any(name.endswith("/checkpoints/model_a_label_free.safetensors") for name in tar.getnames())
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.11.4 / 3.10.12
        tar.extractall(tmp_path / "unpacked", **safe)
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    _pip("wheel", "-w", str(tmp_path / "dist"), str(unpacked), cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("toyflow-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        assert IN_PACKAGE in names and whl.read(IN_PACKAGE) == MODEL_A.read_bytes()
        assert whl.read(LABEL_FREE_IN_PACKAGE) == LABEL_FREE.read_bytes()
        assert not any(name.startswith("checkpoints/") for name in names)

    # installed into a fresh folder outside the checkout, it finds and samples its own model A
    site = tmp_path / "site"
    _pip("install", "--target", str(site), str(wheel), cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", SAMPLE_THERE], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(seen["package"]).is_relative_to(site), seen  # the installed package, not the checkout
    assert seen["checkpoint"] == str(site / IN_PACKAGE)
    assert seen["shape"] == [3, 400, 2] and seen["finite"] and seen["steps"] > 0
