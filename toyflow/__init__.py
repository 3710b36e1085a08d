"""toyflow: teach a rectified flow your taste with a few clicks.

Model A (a rectified flow, :func:`train`, :func:`load_checkpoint`) draws S curves and Swiss rolls; the judge
(:func:`judge`) reads them; :mod:`toyflow.preference` lets a model B learn from a person's ticks and
:mod:`toyflow.widgets` shows it in JupyterLab. docs/design.md walks through the layers, one module per job.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import MIN_POINTS, draw_noise, make_cloud, sample_mixture
from .device import resolve_device
from .judge import judge
from .model import CloudFlow, FlowConfig, noise_radius
from .shipped import SHIPPED_MODELS, shipped_checkpoint
from .solver import Sampler, sample

__version__ = "0.1.0"

# the shipped model A's: inside an installed package, or checkpoints/ of a checkout
SHIPPED_CHECKPOINT = shipped_checkpoint()
LABEL_FREE_CHECKPOINT = shipped_checkpoint("model_a_label_free")

__all__ = [
    "CheckpointError",
    "CloudFlow",
    "FlowConfig",
    "LABEL_FREE_CHECKPOINT",
    "MIN_POINTS",
    "SHIPPED_CHECKPOINT",
    "SHIPPED_MODELS",
    "Sampler",
    "draw_noise",
    "noise_radius",
    "judge",
    "load_checkpoint",
    "make_cloud",
    "resolve_device",
    "sample",
    "sample_mixture",
    "save_checkpoint",
    "shipped_checkpoint",
]
