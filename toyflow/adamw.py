"""Adam and AdamW for model A's training, in torch's fused kernels, without ``torch.optim``'s import.

The first ``torch.optim`` optimiser a process makes imports the compiler stack (``torch._dynamo``): 1.2 s of every
training's start on the 2-core CPU, before its first step. :class:`FusedAdam` calls the kernels that
``torch.optim.Adam`` and ``torch.optim.AdamW`` call with ``fused=True`` (``torch._fused_adam_``,
``torch._fused_adamw_``: one pass over all the parameters of a device and type, on the CPU as on a GPU) on the same
state, so model A trains to the same bits (``tests/test_adamw.py``). Only what training uses: parameter groups with
their own rates (a schedule sets them), betas, epsilon, weight decay; no AMSGrad, no gradient scaling.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8


def has_kernels(params: Iterable[torch.Tensor]) -> bool:
    """Whether every one of ``params`` is a floating-point tensor on a device with the fused kernels (CPU, CUDA)."""
    return all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


class FusedAdam:
    """Adam over ``params`` at rate ``lr`` with ``weight_decay``: decoupled from the gradient (AdamW, ``decoupled``)
    or added to it (Adam's L2 decay). :attr:`param_groups` holds one group, ``{"params", "lr", "weight_decay"}``,
    whose ``lr`` a schedule may change between steps. The parameters must be floating point, on a CPU or a CUDA
    device (:func:`has_kernels`); ``ValueError`` otherwise."""

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, weight_decay: float = 0.0, decoupled: bool = True
    ) -> None:
        params = list(params)
        if not has_kernels(params):
            raise ValueError("the fused Adam steps floating-point parameters on a CPU or a CUDA device only")
        self.param_groups = [{"params": params, "lr": lr, "weight_decay": weight_decay}]
        self.decoupled = decoupled
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to ``None``, as ``torch.optim``'s default does)."""
        for p in self.param_groups[0]["params"]:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One step of every parameter that has a gradient: its step count, then the kernel, once per device and
        type."""
        group = self.param_groups[0]
        by_kind: dict[tuple[torch.device, torch.dtype], list[tuple[torch.Tensor, dict[str, torch.Tensor]]]] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state.get(p)
            if state is None:  # as torch.optim keeps it for its fused form: the step a float32 scalar beside p
                state = self.state[p] = {
                    "step": torch.zeros((), dtype=torch.float32, device=p.device),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }
            by_kind.setdefault((p.device, p.dtype), []).append((p, state))
        kernel = torch._fused_adamw_ if self.decoupled else torch._fused_adam_
        for pairs in by_kind.values():
            steps = [state["step"] for _, state in pairs]
            torch._foreach_add_(steps, 1)
            kernel(
                [p for p, _ in pairs],
                [p.grad for p, _ in pairs],
                [state["exp_avg"] for _, state in pairs],
                [state["exp_avg_sq"] for _, state in pairs],
                [],
                steps,
                amsgrad=False,
                lr=group["lr"],
                beta1=BETAS[0],
                beta2=BETAS[1],
                weight_decay=group["weight_decay"],
                eps=EPS,
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )
