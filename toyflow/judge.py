"""The judge: S curve or Swiss roll, and how clean a cloud is.

A cloud is compared with noise-free templates of both shapes by the symmetric Chamfer distance.
Its class is the nearer template; it is **valid** when that distance is no more than the 95th
percentile of real clouds of the same class (calibrated once, from fixed seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .data import KINDS, NUM_POINTS, make_cloud, sample_mixture

TEMPLATE_POINTS = 800
CALIBRATION_CLOUDS = 300


def chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer distance (mean nearest-neighbour distance, both ways, averaged).

    ``a (batch, n, 2)`` against ``b (batch, m, 2)`` or one shared ``b (m, 2)``; returns ``(batch,)``.
    """
    if b.dim() == 2:
        b = b.expand(a.shape[0], *b.shape)
    d = torch.cdist(a, b)
    return 0.5 * (d.min(dim=2).values.mean(dim=1) + d.min(dim=1).values.mean(dim=1))


def pairwise_chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Chamfer distance between every cloud of ``a (n, p, 2)`` and of ``b (m, q, 2)``: ``(n, m)``."""
    out = torch.empty(a.shape[0], b.shape[0])
    for j in range(b.shape[0]):
        out[:, j] = chamfer(a, b[j])
    return out


@lru_cache(maxsize=1)
def templates() -> torch.Tensor:
    """Noise-free S curve and Swiss roll, normalised like the data: ``(2, TEMPLATE_POINTS, 2)`` (S first)."""
    return torch.from_numpy(np.stack([make_cloud(k, TEMPLATE_POINTS, seed=12345, noise=0.0) for k in KINDS]))


@dataclass(frozen=True)
class Verdict:
    """The judge's reading of a batch of clouds (all tensors are ``(batch,)``)."""

    is_s: torch.Tensor
    distance: torch.Tensor
    valid: torch.Tensor

    @property
    def s_fraction(self) -> float:
        """Share of clouds judged S curves."""
        return self.is_s.float().mean().item()

    @property
    def valid_fraction(self) -> float:
        """Share of clouds within their class's threshold."""
        return self.valid.float().mean().item()

    def valid_fraction_of(self, s_curves: bool) -> float:
        """Valid share among the clouds judged S curves (``True``) or Swiss rolls (``False``); NaN if none."""
        mask = self.is_s == s_curves
        return self.valid[mask].float().mean().item() if mask.any() else float("nan")

    def summary(self) -> dict[str, float]:
        """S-fraction, valid fraction overall and per class, and count, as a dict."""
        return {
            "n": int(self.is_s.numel()),
            "s_fraction": self.s_fraction,
            "valid": self.valid_fraction,
            "valid_s": self.valid_fraction_of(True),
            "valid_roll": self.valid_fraction_of(False),
        }


def distances(clouds: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Chamfer distance of each cloud ``(batch, num_points, 2)`` to both templates: ``(batch, 2)`` (S, roll), CPU."""
    clouds = clouds.detach().float()
    tpl = templates().to(clouds.device)  # on the clouds' device: a GPU judges its own samples quickly
    parts = [torch.stack([chamfer(c, tpl[0]), chamfer(c, tpl[1])], dim=1) for c in clouds.split(chunk)]
    return torch.cat(parts).cpu() if parts else torch.zeros(0, 2)


@lru_cache(maxsize=1)
def thresholds() -> tuple[float, float]:
    """95th percentile of the own-template distance of real S curves and real Swiss rolls (fixed seeds)."""
    out = []
    for k, s_fraction in enumerate((1.0, 0.0)):
        real, _ = sample_mixture(CALIBRATION_CLOUDS, s_fraction, NUM_POINTS, seed=2024 + k)
        out.append(float(torch.quantile(distances(real)[:, k], 0.95)))
    return out[0], out[1]


def judge(clouds: torch.Tensor | np.ndarray) -> Verdict:
    """Classify and score clouds ``(batch, num_points, 2)``."""
    clouds = torch.as_tensor(clouds)
    if clouds.dim() != 3 or clouds.shape[-1] != 2:
        raise ValueError(f"expected clouds of shape (batch, num_points, 2), got {tuple(clouds.shape)}")
    d = distances(clouds)
    is_s = d[:, 0] <= d[:, 1]
    own = torch.where(is_s, d[:, 0], d[:, 1])
    thr_s, thr_roll = thresholds()
    valid = own <= torch.where(is_s, torch.tensor(thr_s), torch.tensor(thr_roll))
    return Verdict(is_s=is_s, distance=own, valid=valid & torch.isfinite(own))


def oracle_ticks(
    clouds: torch.Tensor | np.ndarray, flip_prob: float = 0.0, generator: torch.Generator | None = None
) -> list[int]:
    """The simulated annotator: indices of the clouds ``(n, num_points, 2)`` that the judge calls valid S curves.

    With ``flip_prob > 0`` each of the ``n`` tick decisions is flipped with that probability (a noisy human),
    drawn from ``generator``.
    """
    if not 0.0 <= flip_prob <= 1.0:
        raise ValueError(f"flip_prob must lie in [0, 1], got {flip_prob}")
    v = judge(clouds)
    wanted = v.is_s & v.valid
    if flip_prob > 0:
        flips = torch.rand(wanted.shape[0], generator=generator) < flip_prob
        wanted = wanted ^ flips
    return [int(i) for i in torch.nonzero(wanted).flatten()]
