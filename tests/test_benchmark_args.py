"""The benchmarks' shared helpers: the ``--checkpoint`` argument (a shipped model A's name or a path, refused in one
line) and the line naming the machine a run measured."""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
from pathlib import Path
from types import ModuleType

import pytest
import torch

from toyflow.shipped import SHIPPED_MODELS, shipped_checkpoint

REPO = Path(__file__).resolve().parent.parent


def benchmarks_common() -> ModuleType:
    """``benchmarks/common.py``, imported by its path (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("benchmarks_common", REPO / "benchmarks" / "common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", exit_on_error=False)
    benchmarks_common().add_checkpoint_argument(parser)
    return parser


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_a_shipped_name_is_its_checkpoint(parser, name):
    assert parser.parse_args(["--checkpoint", name]).checkpoint == shipped_checkpoint(name)


def test_the_default_is_the_gated_model_a_and_a_path_is_taken_as_given(parser):
    assert parser.parse_args([]).checkpoint == shipped_checkpoint("model_a")
    path = shipped_checkpoint("model_a_label_free")
    assert parser.parse_args(["--checkpoint", str(path)]).checkpoint == path


def test_a_missing_file_is_refused_in_one_line_naming_it(parser, tmp_path):
    with pytest.raises(argparse.ArgumentError) as err:
        parser.parse_args(["--checkpoint", str(tmp_path / "nope.safetensors")])
    message = str(err.value)
    assert "\n" not in message
    assert "nope.safetensors" in message and "model_a_label_free" in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the line names the GPU")
def test_the_machine_line_gives_the_cpu_s_product_rate_now():
    common = benchmarks_common()
    rate = common.product_rate(repeats=3, products=5)
    assert math.isfinite(rate) and 0 < rate < 100_000  # GFLOP/s: a rate, and none a CPU reaches
    line = common.machine()
    assert re.search(r"float32 products at \d+ GFLOP/s\), \d+ threads$", line), line
