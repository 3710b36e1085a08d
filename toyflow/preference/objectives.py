"""The pieces the preference methods are built from: straight-path errors, the preference cross entropy and the
dynamic barrier between two objectives (what the person's taste is believed to be: :mod:`.belief`)."""

from __future__ import annotations

import torch
from torch import nn

from ..path import Velocity, straight_path


def straight_path_errors(
    model: Velocity, noise: torch.Tensor, samples: torch.Tensor, times: torch.Tensor
) -> torch.Tensor:
    """B's straight-path error per proposal: ``e_i = mean_k mean_points ||(x_i - z_i) - v(x_{t_k}, t_k)||^2``.

    ``noise, samples (n, num_points, 2)``, ``times (k,)``; returns ``(n,)`` (with gradients).
    """
    return straight_path_errors_by_time(model, noise, samples, times).mean(0)


def straight_path_errors_by_time(
    model: Velocity, noise: torch.Tensor, samples: torch.Tensor, times: torch.Tensor
) -> torch.Tensor:
    """The straight-path error of each proposal at each time, ``mean_points ||(x_i - z_i) - v(x_{t_k}, t_k)||^2``.

    ``noise, samples (n, num_points, 2)``, ``times (k,)``; returns ``(k, n)`` (with gradients), every time's
    proposals in one pass of ``model``.
    """
    n, k = noise.shape[0], times.shape[0]
    z = noise.repeat(k, 1, 1)
    x = samples.repeat(k, 1, 1)
    t = times.repeat_interleave(n)
    path = straight_path(z, x, t)
    err = (model(path.x_t, t) - path.u_t).pow(2).sum(-1).mean(-1)
    return err.view(k, n)


def preference_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross entropy of ``softmax(logits)`` with the person's ``labels``; ``logits, labels (n,)``, a scalar."""
    return -(labels * torch.log_softmax(logits, dim=0)).sum()


def flat_grad(loss: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """The gradient of ``loss`` with respect to ``params``, flattened into one vector ``(num_params,)`` (zeros
    for parameters the loss does not use)."""
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params, strict=True)]
    )


def barrier_direction(grad_main: torch.Tensor, grad_pref: torch.Tensor, phi: float) -> tuple[torch.Tensor, float]:
    """Dynamic barrier gradient descent: ``d = grad_main + lambda * grad_pref`` with
    ``lambda = max((phi - <grad_main, grad_pref>) / ||grad_pref||^2, 0)``, so ``<d, grad_pref> >= phi``.

    Flat gradients ``(num_params,)``; returns ``(d, lambda)``.
    """
    sq = grad_pref.pow(2).sum()
    if sq <= 0:
        return grad_main, 0.0
    lam = torch.clamp((phi - grad_main.dot(grad_pref)) / sq, min=0.0)
    return grad_main + lam * grad_pref, float(lam)


def trainable(model: nn.Module) -> list[torch.Tensor]:
    """The parameters of ``model`` that require gradients, in order."""
    return [p for p in model.parameters() if p.requires_grad]
