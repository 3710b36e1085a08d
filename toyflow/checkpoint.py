"""Checkpoints: safetensors weights (no pickle) plus JSON metadata; atomic save; one clear error for a bad file.

The metadata is read by its schema (:class:`CheckpointMetadata`, built on :mod:`toyflow.schema`) before anything is
built from it: the network's sizes are bounded, so that a file claiming a network of a billion weights is refused in
words, not by the memory. The network it describes is then compared with the file's tensors, shape by shape, before
they are read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .architectures import build_model
from .atomic import atomic_write, special_file
from .device import PRECISIONS, resolve_device
from .handoff import HandOff
from .model import CloudFlow
from .schema import (
    Choice,
    Count,
    Flag,
    FractionOrNaN,
    HandOffTime,
    Number,
    OpenModel,
    Problem,
    Seed,
    StrictModel,
    Text,
    check,
    leaf,
)
from .solver import SAMPLERS
from .validation import SHOWN, finite_problem, shown

FORMAT = "toyflow/1"
ARCHS = ("cloudflow", "reference")


def _format_problem(value: object) -> str | None:
    if value == FORMAT:
        return None
    if value is None:
        return f"is missing: not a toyflow checkpoint (toyflow writes {FORMAT!r})"
    return f"is {shown(value)}, a format this toyflow does not read (it reads {FORMAT!r})"


def _loss_problem(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None  # no loss recorded, or a training that diverged
    return finite_problem(value)


# Sizes a configuration may name: far above the shipped networks (width 64, depth 3; the reference's 256 x 3 for 400
# points), small enough that the network it describes is built in a moment (at most about 20 million weights) before
# its shapes are compared with the file's tensors.
Width = Count(1, 512)
Depth = Count(1, 16)
Frequencies = Count(1, 256)
PointFrequencies = Count(0, 256)
ReferenceDepth = Count(1, 8)
CloudPoints = Count(1, 2048)
SamplerMethod = Choice(SAMPLERS)
MAX_SAMPLER_STEPS = 100_000  # far above any use (16 by default), far below days of sampling
SamplerSteps = Count(1, MAX_SAMPLER_STEPS)
Precision = Choice(PRECISIONS)
Scale = Number(0.0)
Clouds = Count(1)
Steps = Count(0)
Seconds = Number(0.0)
Format = Annotated[str, leaf(_format_problem, str)]
Loss = Annotated[Any, leaf(_loss_problem, lambda v: v)]


class FlowConfigSchema(StrictModel):
    """:class:`~toyflow.model.FlowConfig` (``class_heads`` may be missing: files from before the class heads)."""

    arch: Literal["cloudflow"]
    width: Width
    depth: Depth
    time_freqs: Frequencies
    pos_freqs: PointFrequencies
    pos_scale: Scale
    class_heads: Flag = False
    noise_radius: Scale


class ReferenceConfigSchema(StrictModel):
    """:class:`~toyflow.reference.ReferenceConfig`."""

    arch: Literal["reference"]
    hidden: Width
    layers: ReferenceDepth
    time_dim: Frequencies
    num_points: CloudPoints


class SamplerSchema(StrictModel):
    """:class:`~toyflow.solver.Sampler` as stored (``precision`` may be missing: float32, as sampled before it was a
    setting)."""

    method: SamplerMethod
    steps: SamplerSteps
    precision: Precision = "float32"


class MixtureSchema(OpenModel):
    """The training mixture: its share of S curves."""

    s_fraction: FractionOrNaN


class EvaluationSchema(OpenModel):
    """The judge's figures of a checkpoint's samples (NaN: a fraction of no cloud)."""

    n: Clouds = None
    s_fraction: FractionOrNaN = None
    valid: FractionOrNaN = None
    valid_s: FractionOrNaN = None
    valid_roll: FractionOrNaN = None
    clean: FractionOrNaN = None
    clean_s: FractionOrNaN = None
    clean_roll: FractionOrNaN = None


class CheckpointMetadata(OpenModel):
    """A checkpoint's metadata: its format and the network's configuration, then what toyflow reads back when it is
    there (the sampler, the figures shown in the notebooks); any other field is kept as it is."""

    format: Format = Field(default=None, validate_default=True)  # first: is this a toyflow checkpoint at all?
    config: Annotated[FlowConfigSchema | ReferenceConfigSchema, Field(discriminator="arch")]
    sampler: SamplerSchema = None
    handoff_time: HandOffTime = None
    saw_labels: Flag = None
    seed: Seed = None
    steps: Steps = None
    train_seconds: Seconds = None
    final_loss: Loss = None
    mixture: MixtureSchema = None
    evaluation: EvaluationSchema = None
    recipe: dict[str, Any] = None
    preference: dict[str, Any] = None
    base_checkpoint: Text = None
    replayed_from: Text = None


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, truncated or made for another model."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)


def save_checkpoint(model: nn.Module, path: str | os.PathLike, **metadata: object) -> Path:
    """Write ``model``'s weights and metadata to ``path`` atomically (:func:`~toyflow.atomic.atomic_write`: a
    temporary file, then a rename; an error or Ctrl-C at any point leaves ``path`` as it was and no temporary file).

    ``model.config`` is stored so that :func:`load_checkpoint` can rebuild the network; any extra
    keyword (recipe, training mixture, steps, measured S-fraction, ...) must be JSON-serialisable. Metadata that
    :func:`load_checkpoint` would refuse (a negative seed, a field of the wrong type) and non-finite weights raise
    ``ValueError`` before anything is written.
    """
    meta = {"format": FORMAT, "config": model.config.to_dict(), **metadata}
    if isinstance(model, HandOff):  # two networks, handing off at this time (load_checkpoint rebuilds both)
        parts = (model.early, model.late)
        if not all(isinstance(p, CloudFlow) for p in parts) or model.early.config != model.late.config:
            raise ValueError("the checkpoint would not load: a hand-off is saved as two CloudFlows of one config")
        meta["handoff_time"] = model.time
    try:
        check(CheckpointMetadata, json.loads(json.dumps(meta)), tags=ARCHS)  # as the loader will read it
    except Problem as p:
        raise ValueError(f"the checkpoint would not load: metadata {p}") from None
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    bad = _non_finite(tensors)
    if bad is not None:
        raise ValueError(f"the checkpoint would not load: tensor {bad!r} has non-finite values")
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"toyflow": json.dumps(meta)}))


def _non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first of ``tensors`` holding a NaN or an infinity, or ``None``: no checkpoint holds one."""
    return next((k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)


def read_metadata(path: str | os.PathLike) -> dict:
    """The metadata dict stored in a toyflow checkpoint (raises :class:`CheckpointError` for a bad file)."""
    path = Path(path)
    if special_file(path):
        raise CheckpointError(path, "not a regular file (a folder, a pipe or a device)")
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("toyflow")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"not a readable safetensors file ({e})") from None
    if raw is None:
        raise CheckpointError(path, "a safetensors file, but not a toyflow checkpoint (no 'toyflow' metadata)")
    return parse_metadata(raw, path)


def parse_metadata(raw: str, path: str | os.PathLike = "the checkpoint") -> dict:
    """The metadata ``raw`` (the JSON text a checkpoint stores) as a dict, checked by :class:`CheckpointMetadata`;
    :class:`CheckpointError` naming ``path`` and the field for anything else."""
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(path, f"its metadata is not valid JSON ({e})") from None
    try:
        check(CheckpointMetadata, meta, tags=ARCHS)
    except Problem as p:
        raise CheckpointError(path, f"metadata {p}") from None
    return meta


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None) -> tuple[nn.Module, dict]:
    """Rebuild the model saved at ``path`` on ``device`` (default: CUDA if available, else CPU), in eval mode.

    Returns ``(model, metadata)``. A missing, truncated, non-safetensors or mismatched file raises one
    :class:`CheckpointError` that names the file and what is wrong.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:  # small by the schema's bounds; the file's tensors are read once they are known to fit
        model = build_model(meta)
    except (ValueError, TypeError, OverflowError, RuntimeError) as e:  # e.g. a scale of 10**30: no float32 holds it
        reason = " ".join(str(e).split())[:SHOWN]  # one line, as every refusal
        raise CheckpointError(path, f"its configuration does not make a network ({reason})") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
            missing = sorted(set(expected) - set(shapes))
            unexpected = sorted(set(shapes) - set(expected))
            if missing or unexpected:
                raise CheckpointError(
                    path, f"weights do not match its configuration (missing {missing[:3]}, unexpected {unexpected[:3]})"
                )
            wrong = [k for k in expected if expected[k] != shapes[k]]
            if wrong:
                k = wrong[0]
                raise CheckpointError(path, f"tensor {k!r} has shape {shapes[k]}, expected {expected[k]}")
            tensors = {key: f.get_tensor(key) for key in shapes}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(path, f"its tensors cannot be read; the file may be truncated ({e})") from None
    bad = _non_finite(tensors)
    if bad is not None:
        raise CheckpointError(path, f"tensor {bad!r} has non-finite values (NaN or infinity)")
    model.load_state_dict(tensors)
    return model.to(resolve_device(device)).eval(), meta
