"""Measuring a model: sample fixed noises and let the judge read them."""

from __future__ import annotations

import torch
from torch import nn

from .data import NUM_POINTS, draw_noise
from .flow import sample
from .judge import judge

EVAL_SEED = 20_241_125
EVAL_CLOUDS = 1024


def sampler_of(model: nn.Module, meta: dict | None = None) -> dict:
    """The sampler a model is meant to be used with: ``{"method": ..., "steps": ...}``."""
    from .flow import DEFAULT_METHOD, DEFAULT_STEPS
    from .reference import SAMPLER_STEPS, is_reference

    if meta and "sampler" in meta:
        return dict(meta["sampler"])
    if is_reference(model):
        return {"method": "euler", "steps": SAMPLER_STEPS}
    return {"method": DEFAULT_METHOD, "steps": DEFAULT_STEPS}


def generate(
    model: nn.Module,
    n: int,
    seed: int,
    num_points: int = NUM_POINTS,
    steps: int | None = None,
    method: str | None = None,
    meta: dict | None = None,
    to_cpu: bool = True,
) -> torch.Tensor:
    """``n`` clouds ``(n, num_points, 2)`` from the noise of ``seed``, sampled on the model's device and
    returned on the CPU (or left on the device with ``to_cpu=False``)."""
    from .reference import is_reference, reference_noise

    spec = sampler_of(model, meta)
    device = next(model.parameters()).device
    if is_reference(model):
        noise = reference_noise((n, num_points, 2), torch.Generator().manual_seed(seed)).to(device)
    else:
        noise = draw_noise(n, num_points, seed, device)
    clouds = sample(model, noise, steps=steps or spec["steps"], method=method or spec["method"])
    return clouds.cpu() if to_cpu else clouds


def evaluate_model(
    model: nn.Module, n: int = EVAL_CLOUDS, seed: int = EVAL_SEED, steps: int | None = None, meta: dict | None = None
) -> dict[str, float]:
    """The judge's summary (S-fraction, valid and clean fractions overall and per class) of ``n`` clouds from fixed
    noises."""
    return judge(generate(model, n, seed, steps=steps, meta=meta, to_cpu=False)).summary()
