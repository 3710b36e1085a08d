"""Choosing the torch device: CUDA when available, CPU otherwise, always overridable."""

from __future__ import annotations

import contextlib

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


PRECISIONS = ("auto", "float32", "bfloat16")


def autocast_dtype(device: str | torch.device, precision: str = "auto") -> torch.dtype | None:
    """The lower precision the network's training passes run in on ``device`` under ``torch.autocast``, or ``None``
    for plain float32. ``precision``: ``"float32"``, ``"bfloat16"``, or ``"auto"``: bfloat16 on a CUDA GPU that has
    it and on a CPU with bfloat16 kernels (oneDNN's, on AVX-512 processors; 1.6 times as fast a step on the
    benchmark's 2-core CPU), float32 elsewhere. Weights, optimiser and the sampled clouds stay float32 (a
    :class:`~toyflow.solver.Sampler` runs only the network's evaluations in this precision)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if dev.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return None


def precision_context(
    device: str | torch.device, precision: str = "auto"
) -> torch.autocast | contextlib.nullcontext[None]:
    """The context the network's passes run in at ``precision`` on ``device``: ``torch.autocast`` to
    :func:`autocast_dtype`'s type, or nothing for plain float32."""
    amp = autocast_dtype(device, precision)
    return torch.autocast(torch.device(device).type, dtype=amp) if amp is not None else contextlib.nullcontext()
