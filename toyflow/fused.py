"""The network's evaluations for sampling on a CPU, in fewer and cheaper passes over memory.

Evaluated the plain way (under ``torch.autocast`` or in float32) each operation of :class:`~toyflow.model.CloudFlow`
reads and writes its whole array: the per-point layer norms, additions, biases and SiLU of 400 points by 64 or 128
features take far longer than the matrix products themselves on a 2-core CPU. When nothing of a network's per-point
features needs a gradient (sampling, or model B learning only its gate and heads) on the CPU (:func:`compute_dtype`),
its blocks compute instead (:meth:`~toyflow.model.SetBlock.fused_forward`):

- each block's first product with its bias in one oneDNN kernel, and its SiLU (:func:`linear_silu`), and its second
  product with the residual addition (:func:`linear_add`);
- the per-cloud layers (time, pooled context, gate, output) in float32.

Under autocast to bfloat16, on a processor with oneDNN's bfloat16 kernels (:func:`available`), the per-point work
runs in bfloat16: the SiLU applied in the product's kernel to its float32 accumulator before rounding, the residual
stream in bfloat16, the means accumulated in float32. The same network, closer to float32 than autocast: on the
shipped networks the velocities are half as far from float32's (``tests/test_fused.py``), and sampling 64 clouds
takes about 0.8 of autocast's time. Within :func:`weights_held` (a sampler's loop) each weight is rounded to
bfloat16 once, not at each of the loop's evaluations: 2-3 % of sampling 64 clouds.

In float32 (autocast off; the sampler's precision on a processor without bfloat16 kernels) the same values as the
plain path to the bit on the shipped networks (``tests/test_fused.py``): on a 2-core AVX2 processor a block took
9.4 ms instead of 19-24 ms for 32 clouds, and 64 clouds were sampled in 0.49-0.55 s instead of 0.64-0.79 s. Training
(gradients) and other devices keep the plain path.
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
def linear_kernels() -> bool:
    """Whether this torch has oneDNN's fused linear kernels (a product with its bias and a pointwise operation or
    an addition in one pass), on which the fused evaluation runs in float32."""
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn._linear_pointwise, "binary")
    except (AttributeError, RuntimeError):  # a torch built without them
        return False


@functools.cache
def available() -> bool:
    """Whether this torch has oneDNN's bfloat16 kernels on this processor and its fused linear kernels (what the
    fused products run on in bfloat16)."""
    try:
        return linear_kernels() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without them
        return False


def _cpu_autocast_dtype() -> torch.dtype | None:
    """The type CPU autocast casts to now, or ``None`` when it is off."""
    try:
        enabled, dtype = torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")
    except TypeError:  # torch before 2.4 names them apart
        enabled, dtype = torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()
    return dtype if enabled else None


def compute_dtype(x: torch.Tensor, needs_grad: bool | None = None) -> torch.dtype | None:
    """The type a network evaluated on ``x (batch, num_points, 2)`` now computes its per-point features in the fused
    way, or ``None`` where it takes the plain path: its work needs no gradient (``needs_grad``; default: whether
    gradients are enabled) and ``x`` is on the CPU; then bfloat16 under autocast to bfloat16 where :func:`available`,
    float32 with autocast off where :func:`linear_kernels` (the same values as the plain path's, in fewer passes)."""
    if needs_grad is None:
        needs_grad = torch.is_grad_enabled()
    if needs_grad or x.device.type != "cpu":
        return None
    autocast = _cpu_autocast_dtype()
    if autocast is None:
        return torch.float32 if x.dtype == torch.float32 and linear_kernels() else None
    return LOW if autocast == LOW and available() else None


def active(x: torch.Tensor, needs_grad: bool | None = None) -> bool:
    """Whether a network evaluated on ``x (batch, num_points, 2)`` now computes the fused way
    (:func:`compute_dtype` is not ``None``)."""
    return compute_dtype(x, needs_grad) is not None


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


def _weight(weight: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``weight`` (a layer's weight or bias; ``None`` for none) for features of ``dtype``: itself in its own type,
    else :func:`low`."""
    return weight if weight is None or dtype == weight.dtype else low(weight)


def layer_norm(norm: nn.LayerNorm, h: torch.Tensor) -> torch.Tensor:
    """``norm(h)`` in ``h``'s type: ``h (..., width)`` bfloat16 or float32 -> the same shape and type."""
    return F.layer_norm(h, norm.normalized_shape, _weight(norm.weight, h.dtype), _weight(norm.bias, h.dtype), norm.eps)


def linear_silu(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``silu(linear(x))``: ``x (..., in)`` bfloat16 or float32 -> ``(..., out)`` of the same type. In bfloat16 one
    oneDNN kernel, the activation applied to the float32 accumulator before rounding; in float32 the product with
    its bias in one kernel, then the activation in place (oneDNN's own rounds it otherwise than torch's)."""
    weight, bias = _weight(linear.weight, x.dtype), _weight(linear.bias, x.dtype)
    if x.dtype == LOW:
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "swish", [], "")
    return F.silu(torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], ""), inplace=True)


def linear_add(linear: nn.Linear, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """``residual + linear(x)`` in one oneDNN kernel: ``x (..., in)`` and ``residual (..., out)`` bfloat16 or float32
    -> ``(..., out)`` of the same type."""
    weight, bias = _weight(linear.weight, x.dtype), _weight(linear.bias, x.dtype)
    return torch.ops.mkldnn._linear_pointwise.binary(x, residual, weight, bias, "add")
