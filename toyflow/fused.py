"""The network's evaluations for sampling on a CPU in bfloat16, in fewer and cheaper passes over memory.

Under ``torch.autocast`` each operation of :class:`~toyflow.model.CloudFlow` reads and writes its whole array: the
per-point layer norms, additions and SiLU of 400 points by 64 or 128 features take far longer than the matrix
products themselves on a 2-core CPU. When nothing of a network's per-point features needs a gradient (sampling, or
model B learning only its gate and heads), on the CPU under autocast to bfloat16 (:func:`active`), its blocks
compute instead (:meth:`~toyflow.model.SetBlock.fused_forward`):

- each block's first product and its SiLU in one oneDNN kernel (:func:`linear_silu`), the activation applied to the
  float32 accumulator before rounding, and its second product with the residual addition (:func:`linear_add`), the
  residual stream in bfloat16;
- the per-cloud layers (time, pooled context, gate, output) in float32, on bfloat16 means accumulated in float32.

The same network, closer to float32 than autocast: on the shipped networks the velocities are half as far from
float32's (``tests/test_fused.py``), and sampling 64 clouds takes about 0.8 of autocast's time. Training
(gradients), other devices and float32 sampling keep the plain path. Within :func:`weights_held` (a sampler's loop)
each weight is rounded to bfloat16 once, not at each of the loop's evaluations: 2-3 % of sampling 64 clouds.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

LOW = torch.bfloat16
_held = threading.local()  # .copies: {id(weight): (weight, its version, its bfloat16 copy)} within weights_held


@functools.cache
def available() -> bool:
    """Whether this torch has oneDNN's bfloat16 kernels on this processor and its fused linear kernels (what the
    fused products run on)."""
    try:
        return (
            torch.backends.mkldnn.is_available()
            and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
            and hasattr(torch.ops.mkldnn._linear_pointwise, "binary")
        )
    except (AttributeError, RuntimeError):  # a torch built without them
        return False


def _cpu_autocast_dtype() -> torch.dtype | None:
    """The type CPU autocast casts to now, or ``None`` when it is off."""
    try:
        enabled, dtype = torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")
    except TypeError:  # torch before 2.4 names them apart
        enabled, dtype = torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()
    return dtype if enabled else None


def active(x: torch.Tensor, needs_grad: bool | None = None) -> bool:
    """Whether a network evaluated on ``x (batch, num_points, 2)`` now computes the fused way: its work needs no
    gradient (``needs_grad``; default: whether gradients are enabled), ``x`` is on the CPU, autocast to bfloat16 is
    enabled there, and :func:`available`."""
    if needs_grad is None:
        needs_grad = torch.is_grad_enabled()
    return not needs_grad and x.device.type == "cpu" and _cpu_autocast_dtype() == LOW and available()


def full_precision() -> contextlib.AbstractContextManager[None]:
    """The context the fused evaluation runs in: autocast off (its bfloat16 operations are explicit)."""
    return torch.autocast("cpu", enabled=False)


@contextlib.contextmanager
def weights_held() -> Iterator[None]:
    """Within it, on this thread, each weight is rounded to bfloat16 once and the copy reused by every fused
    evaluation (:func:`low`), for as long as the weight is not changed in place (its version counter). Where one is
    already open, the outer one holds the copies."""
    if getattr(_held, "copies", None) is not None:
        yield
        return
    _held.copies = {}
    try:
        yield
    finally:
        _held.copies = None


def low(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` (any shape) in bfloat16: within :func:`weights_held` the copy made the first time (again if the
    weight changed in place since), else a new one."""
    copies = getattr(_held, "copies", None)
    if copies is None:
        return weight.to(LOW)
    kept = copies.get(id(weight))
    if kept is None or kept[0] is not weight or kept[1] != weight._version:
        kept = copies[id(weight)] = (weight, weight._version, weight.to(LOW))
    return kept[2]


def layer_norm(norm: nn.LayerNorm, h: torch.Tensor) -> torch.Tensor:
    """``norm(h)`` in bfloat16: ``h (..., width)`` bfloat16 -> the same shape."""
    weight = None if norm.weight is None else low(norm.weight)
    bias = None if norm.bias is None else low(norm.bias)
    return F.layer_norm(h, norm.normalized_shape, weight, bias, norm.eps)


def linear_silu(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``silu(linear(x))`` in one oneDNN kernel: ``x (..., in)`` bfloat16 -> ``(..., out)`` bfloat16."""
    return torch.ops.mkldnn._linear_pointwise(x, low(linear.weight), _bias(linear), "swish", [], "")


def linear_add(linear: nn.Linear, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """``residual + linear(x)`` in one oneDNN kernel: ``x (..., in)`` and ``residual (..., out)`` bfloat16 ->
    ``(..., out)`` bfloat16."""
    return torch.ops.mkldnn._linear_pointwise.binary(x, residual, low(linear.weight), _bias(linear), "add")


def _bias(layer: nn.Linear) -> torch.Tensor | None:
    return None if layer.bias is None else low(layer.bias)
