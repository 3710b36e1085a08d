"""Measuring a model: sample fixed noises with the model's sampler and let the judge read them."""

from __future__ import annotations

import torch
from torch import nn

from .data import MIN_POINTS, NUM_POINTS, draw_noise
from .judge import judge
from .model import noise_radius
from .reference import is_reference, reference_noise
from .solver import Sampler
from .validation import check_count

EVAL_SEED = 20_241_125
EVAL_CLOUDS = 1024


def generate(
    model: nn.Module,
    n: int,
    seed: int,
    num_points: int = NUM_POINTS,
    sampler: Sampler | None = None,
    meta: dict | None = None,
    to_cpu: bool = True,
) -> torch.Tensor:
    """``n`` clouds ``(n, num_points, 2)`` from the noise of ``seed`` (the reference noise for the reference
    network), sampled on the model's device with ``sampler`` (default: :meth:`Sampler.from_meta` of ``model`` and
    ``meta``) and returned on the CPU (or left on the device with ``to_cpu=False``). ``n >= 1``, ``num_points >=
    MIN_POINTS``."""
    check_count("n", n)
    check_count("num_points", num_points, MIN_POINTS)
    sampler = sampler or Sampler.from_meta(model, meta)
    device = next(model.parameters()).device
    if is_reference(model):
        noise = reference_noise((n, num_points, 2), torch.Generator().manual_seed(seed)).to(device)
    else:
        noise = draw_noise(n, num_points, seed, device, noise_radius(model))
    clouds = sampler.sample(model, noise)
    return clouds.cpu() if to_cpu else clouds


def evaluate_model(
    model: nn.Module,
    n: int = EVAL_CLOUDS,
    seed: int = EVAL_SEED,
    sampler: Sampler | None = None,
    meta: dict | None = None,
) -> dict[str, float]:
    """The judge's summary (S-fraction, valid and clean fractions overall and per class) of ``n`` clouds from fixed
    noises, sampled with ``sampler`` (default: the model's own, see :func:`generate`)."""
    return judge(generate(model, n, seed, sampler=sampler, meta=meta, to_cpu=False)).summary()
