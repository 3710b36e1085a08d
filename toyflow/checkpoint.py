"""Checkpoints: safetensors weights (no pickle) plus JSON metadata; atomic save; one clear error for a bad file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .architectures import build_model
from .atomic import atomic_write
from .device import resolve_device

FORMAT = "toyflow/1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, truncated or made for another model."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)


def save_checkpoint(model: nn.Module, path: str | os.PathLike, **metadata: object) -> Path:
    """Write ``model``'s weights and metadata to ``path`` atomically (:func:`~toyflow.atomic.atomic_write`: a
    temporary file, then a rename; an error or Ctrl-C at any point leaves ``path`` as it was and no temporary file).

    ``model.config`` is stored so that :func:`load_checkpoint` can rebuild the network; any extra
    keyword (recipe, training mixture, steps, measured S-fraction, ...) must be JSON-serialisable.
    """
    meta = {"format": FORMAT, "config": model.config.to_dict(), **metadata}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"toyflow": json.dumps(meta)}))


def read_metadata(path: str | os.PathLike) -> dict:
    """The metadata dict stored in a toyflow checkpoint (raises :class:`CheckpointError` for a bad file)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("toyflow")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"not a readable safetensors file ({e})") from None
    if raw is None:
        raise CheckpointError(path, "a safetensors file, but not a toyflow checkpoint (no 'toyflow' metadata)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise CheckpointError(path, f"its metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(path, f"its metadata is not a JSON object (got {type(meta).__name__})")
    if meta.get("format") != FORMAT or "config" not in meta:
        raise CheckpointError(path, f"unsupported checkpoint format {meta.get('format')!r} (expected {FORMAT!r})")
    return meta


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None) -> tuple[nn.Module, dict]:
    """Rebuild the model saved at ``path`` on ``device`` (default: CUDA if available, else CPU), in eval mode.

    Returns ``(model, metadata)``. A missing, truncated, non-safetensors or mismatched file raises one
    :class:`CheckpointError` that names the file and what is wrong.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:
        model = build_model(meta)
    except (TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(path, f"its configuration does not describe a toyflow model ({e})") from None
    try:
        tensors = {}
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(path, f"its tensors cannot be read; the file may be truncated ({e})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            path, f"weights do not match its configuration (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    wrong = [k for k in expected if expected[k].shape != tensors[k].shape]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            path, f"tensor {k!r} has shape {tuple(tensors[k].shape)}, expected {tuple(expected[k].shape)}"
        )
    model.load_state_dict(tensors)
    return model.to(resolve_device(device)).eval(), meta
