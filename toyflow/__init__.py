"""toyflow: teach a rectified flow your taste with a few clicks.

Modules, one concept each: :mod:`~toyflow.data` (clouds and noise), :mod:`~toyflow.model` (the
velocity network), :mod:`~toyflow.coupling` (pairing noise with data), :mod:`~toyflow.flow` (paths,
loss, samplers), :mod:`~toyflow.training` (model A's recipe and loop), :mod:`~toyflow.judge` (S curve
or Swiss roll, clean or not), :mod:`~toyflow.evaluation`, :mod:`~toyflow.checkpoint`,
:mod:`~toyflow.reference` (the original method), :mod:`~toyflow.preference` (model B learning from
ticks), :mod:`~toyflow.plotting`, :mod:`~toyflow.widgets` (the notebook picker) and :mod:`~toyflow.cli`.
"""

from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import draw_noise, make_cloud, sample_mixture
from .device import resolve_device
from .judge import judge
from .model import CloudFlow, FlowConfig
from .solver import Sampler, sample

__version__ = "0.1.0"

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "model_a.safetensors"

__all__ = [
    "CheckpointError",
    "CloudFlow",
    "FlowConfig",
    "SHIPPED_CHECKPOINT",
    "Sampler",
    "draw_noise",
    "judge",
    "load_checkpoint",
    "make_cloud",
    "resolve_device",
    "sample",
    "sample_mixture",
    "save_checkpoint",
]
