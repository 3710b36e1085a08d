"""Muon: the optimiser of model A's weight matrices, its momentum orthogonalised before each step.

Adam moves each entry of a weight matrix by its own normalised gradient, so a layer's update is dominated by the
few directions its gradient favours. Muon keeps a heavy-ball momentum of the gradient (in Nesterov's form) and
steps along the nearest semi-orthogonal matrix to it, ``U V^T`` of its singular value decomposition ``U S V^T``,
so every direction of the layer moves at once. Five steps of a quintic Newton-Schulz iteration approximate ``U V^T``
(singular values end between about 0.7 and 1.2, which trains as well as exact ones). The step is sized to AdamW's
typical update, ``0.2 sqrt(max(rows, columns))`` times the learning rate, so one learning rate serves both
optimisers. On model A's network it reaches in 3000 steps the clean clouds AdamW reached in 10000.

``torch.optim.Muon`` computes the same update one matrix at a time, in bfloat16: 5.7 ms a step for model A's 13
matrices on a 2-core CPU. This one orthogonalises every matrix of one shape in one batched product, in float32:
1.5 ms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

# The quintic's coefficients: they maximise its slope at zero, so that small singular values grow fast.
NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)
RMS_MATCH = 0.2  # an orthogonal update of an (a, b) matrix scaled by this * sqrt(max(a, b)) has AdamW's typical size


def orthogonalise(updates: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """The nearest semi-orthogonal matrices, approximately, of ``updates (k, rows, columns)`` with ``rows <=
    columns``: each scaled to a Frobenius norm of 1, then ``steps`` quintic Newton-Schulz steps. ``(k, rows,
    columns)``, a new tensor."""
    a, b, c = NEWTON_SCHULZ
    x = updates / updates.norm(dim=(1, 2), keepdim=True).clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + torch.baddbmm(gram, gram, gram, beta=b, alpha=c) @ x
    return x


class Muon:
    """Muon over ``params`` (weight matrices, 2-D): momentum ``momentum`` in Nesterov's form, decoupled weight decay
    ``weight_decay``, learning rate ``lr`` (in :attr:`param_groups`, where a schedule sets it). Every matrix of one
    shape (a tall one transposed) is orthogonalised in the same batched product by :func:`orthogonalise`. A parameter
    without a gradient is left as it is."""

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.95, weight_decay: float = 0.0
    ) -> None:
        self.params = list(params)
        for p in self.params:
            if p.ndim != 2:
                raise ValueError(f"Muon steps weight matrices only, got a parameter of shape {tuple(p.shape)}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.param_groups = [{"params": self.params, "lr": lr, "momentum": momentum, "weight_decay": weight_decay}]
        self.momenta = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        """One step of every matrix with a gradient."""
        group = self.param_groups[0]
        lr, mu, decay = group["lr"], group["momentum"], group["weight_decay"]
        # each matrix's Nesterov update, wide (a tall one as its transpose), grouped by that shape
        by_shape: dict[tuple[int, int], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        for p, momentum in zip(self.params, self.momenta, strict=True):
            if p.grad is None:
                continue
            momentum.mul_(mu).add_(p.grad)
            update = p.grad.add(momentum, alpha=mu)
            wide = update.mT if is_tall(p) else update
            by_shape.setdefault(tuple(wide.shape), []).append((p, wide))
        for (rows, columns), pairs in by_shape.items():
            steps = orthogonalise(torch.stack([wide for _, wide in pairs]))
            scale = RMS_MATCH * math.sqrt(max(rows, columns))
            for (p, _), step in zip(pairs, steps, strict=True):
                if decay:
                    p.mul_(1 - lr * decay)
                p.add_(step.mT if is_tall(p) else step, alpha=-lr * scale)


def is_tall(matrix: torch.Tensor) -> bool:
    """Whether ``matrix (rows, columns)`` has more rows than columns (it is orthogonalised as its transpose)."""
    return matrix.shape[0] > matrix.shape[1]
