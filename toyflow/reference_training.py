"""Training the reference network as the original does (docs/original.md): its recipe, and the noise and loss it
plugs into :func:`toyflow.training.train` (:data:`REFERENCE_HOOKS`)."""

from __future__ import annotations

import torch

from .reference import ReferenceConfig, reference_loss, reference_noise
from .time_law import TimeLaw
from .training import Recipe, TrainingHooks


def reference_recipe(steps: int = 150_000, seed: int = 0) -> Recipe:
    """The original's settings: 50/50 mixture, Adam lr 1e-3 with weight decay 1e-3, batch 128, constant lr, no EMA,
    fresh noise every step, uniform times, float32."""
    return Recipe(
        config=ReferenceConfig(),  # type: ignore[arg-type]
        s_fraction=0.5,
        steps=steps,
        batch_size=128,
        lr=1e-3,
        weight_decay=1e-3,
        optimizer="adam",
        schedule="constant",
        warmup=0,
        ema=0.0,
        ot_chunk=0,
        pair_clouds=False,
        pair_pool=0,
        subset_points=0,
        time_law=TimeLaw("uniform"),
        precision="float32",
        seed=seed,
    )


def reference_noise_like(x1: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The reference noise for a batch shaped like ``x1 (batch, num_points, 2)`` (a ``noise_fn`` of ``train``)."""
    return reference_noise(x1.shape, generator)


REFERENCE_HOOKS = TrainingHooks(noise_fn=reference_noise_like, loss_fn=reference_loss)
"""What makes :func:`~toyflow.training.train` train as the reference does: its noise (rescaled to [-1, 1], as it
samples from that noise) and its loss (summed over points)."""
