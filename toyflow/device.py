"""Choosing the torch device: CUDA when available, CPU otherwise, always overridable."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` as a :class:`torch.device`; ``None`` or ``"auto"`` picks CUDA if present, else CPU."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def make_generator(seed: int | torch.Generator | None, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` seeded with ``seed`` (an existing generator is returned unchanged).

    ``None`` gives a generator seeded from fresh OS entropy; pass an int whenever results must repeat.
    """
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator(device=torch.device(device))
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen
