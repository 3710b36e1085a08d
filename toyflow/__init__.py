"""toyflow: teach a rectified flow your taste with a few clicks.

Modules, one job each, from the bottom layer up (the layers are import-linter contracts in ``pyproject.toml``):

- :mod:`~toyflow.device` (CUDA if available, else CPU), :mod:`~toyflow.seeds` (one random stream per purpose),
  :mod:`~toyflow.validation` (counts, times, probabilities and seeds checked in the same words everywhere),
  :mod:`~toyflow.atomic` (files written whole or not at all), :mod:`~toyflow.shipped` (where model A lies);
- :mod:`~toyflow.data` (clouds, mixture, noise), :mod:`~toyflow.path` (the straight path: ``x_t`` and ``u_t``);
- :mod:`~toyflow.model` (the velocity network), :mod:`~toyflow.reference` (the original method's network, noise
  and loss), :mod:`~toyflow.curves` (noise-free curves);
- :mod:`~toyflow.solver` (samplers; :class:`Sampler`), :mod:`~toyflow.flow` (the flow-matching losses),
  :mod:`~toyflow.coupling` (pairing noise with data), :mod:`~toyflow.judge` (S curve or Swiss roll, clean or
  not), :mod:`~toyflow.plotting`, :mod:`~toyflow.architectures` (a configuration's network);
- :mod:`~toyflow.training` (model A's recipe and loop), :mod:`~toyflow.evaluation`, :mod:`~toyflow.checkpoint`,
  :mod:`~toyflow.cloud_files` (``.npy`` files of clouds), :mod:`~toyflow.decision` (P(S) along a trajectory: the
  decision over time), :mod:`~toyflow.flips` (the flip map);
- :mod:`~toyflow.preference` (model B learning from ticks: labels, the method registry, one module per method,
  the session with undo and its log, :func:`~toyflow.preference.round.play_round`, the one headless round,
  :func:`~toyflow.preference.replay.replay`, and the teaching views measured headless),
  :mod:`~toyflow.reference_training` (the original's recipe), :mod:`~toyflow.environment` (can widgets render?);
- :mod:`~toyflow.cli_args` (argparse types that check every numeric argument);
- :mod:`~toyflow.widgets` (the picker, a ``VBox``, the controller that wires it to a session, and the teaching
  views: the decision over time, A and B in motion, the flip map) and
  :mod:`~toyflow.cli`.
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
