"""What B believes about the person's taste: a preference model that knows how sure a handful of ticks make it.

Every labelled proposal so far is a cloud with a tick (1), no tick (0), or a soft label in between. The model
answers two questions:

- **How likely is a tick for this cloud?** A kernel on Chamfer distances pools the labels of similar clouds into a
  Beta posterior: ``Beta(k p0 + sum_j w_j y_j, k (1 - p0) + sum_j w_j (1 - y_j))`` with kernel weights
  ``w_j = exp(-(d_j / width)^2)`` and a prior of ``k`` pseudo-labels at the pooled tick rate ``p0``. Its mean is
  the rate, its standard deviation how unsure the model is about that cloud.
- **Do the ticks depend on the cloud at all?** The labels are predicted one by one, each from those before it
  (in the order they were given), once by the kernel model and once by a model in which every cloud has the same
  tick rate (Laplace's rule). The sum of the log-likelihood differences is the evidence, in nats, that the ticks
  follow the clouds: the log of a Bayes factor. With the prior log odds ``prior_log_odds`` it gives the posterior
  probability of "the ticks follow the clouds", the :attr:`Belief.certainty`. Ticks at random, blind to shape, earn
  no evidence however many there are; a dozen consistent ticks earn 4-5 nats.

A method scales what B learns by the certainty (:mod:`~toyflow.preference.methods.reward_fm`): B moves as far as the
evidence warrants, and stays A when there is none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..judge import pairwise_chamfer

NOT_SURE_BELOW = 0.5  # certainty under which the preference model says it is not sure (B stays close to A)
SURE_FROM = 0.9  # certainty from which it says it is sure


def how_sure(certainty: float) -> str:
    """The certainty in words: ``"not sure"`` below :data:`NOT_SURE_BELOW`, ``"sure"`` from :data:`SURE_FROM`,
    ``"fairly sure"`` between."""
    if certainty < NOT_SURE_BELOW:
        return "not sure"
    return "sure" if certainty >= SURE_FROM else "fairly sure"


@dataclass(frozen=True)
class BeliefSettings:
    """The preference model's knobs (defaults measured with ``benchmarks/preference.py``)."""

    kernel_points: int = 64  # points of each cloud the Chamfer distances read
    width: float = 0.1  # kernel width in Chamfer units (same shape: 0.05-0.07 apart on 64 points, S to roll: ~0.21)
    prior_labels: float = 0.5  # pseudo-labels of the prior at the pooled tick rate
    lapse: float = 0.02  # the kernel model's chance of any tick being the other way (people slip)
    prior_log_odds: float = -1.5  # before any label: odds of e^-1.5 (about 1 in 4.5) that the ticks follow the clouds


@dataclass(frozen=True)
class Rates:
    """The posterior tick rate of each cloud: ``mean (m,)`` in [0, 1] and its standard deviation ``spread (m,)``."""

    mean: torch.Tensor
    spread: torch.Tensor


@dataclass(frozen=True)
class Belief:
    """The preference model fitted to the labelled clouds ``clouds (n, kernel_points, 2)`` with labels ``labels (n,)``
    in [0, 1]: the evidence (nats) that the ticks follow the clouds, the posterior probability of that
    (``certainty``), and the pooled tick rate. :meth:`rates` reads the tick rate of any clouds."""

    clouds: torch.Tensor
    labels: torch.Tensor
    evidence: float
    certainty: float
    tick_rate: float
    settings: BeliefSettings

    @property
    def count(self) -> int:
        """Number of labelled clouds."""
        return int(self.labels.shape[0])

    def distances(self, clouds: torch.Tensor) -> torch.Tensor:
        """Chamfer distances ``(m, count)`` from ``clouds (m, num_points, 2)`` to the labelled clouds, on the kernel's
        points: what :meth:`rates` reads."""
        return pairwise_chamfer(clouds[:, : self.settings.kernel_points].cpu(), self.clouds)

    def rates(self, clouds: torch.Tensor, distances: torch.Tensor | None = None) -> Rates:
        """Posterior tick rate of each of ``clouds (m, num_points, 2)``: :class:`Rates` with ``(m,)`` tensors. Their
        Chamfer distances to the labelled clouds, ``(m, count)``, are measured here unless given as ``distances``
        (e.g. :class:`~toyflow.preference.chamfer_blocks.ChamferBlocks` for model A's pool)."""
        s = self.settings
        if distances is None:
            distances = self.distances(clouds)
        elif tuple(distances.shape) != (clouds.shape[0], self.count):
            raise ValueError(f"distances must be ({clouds.shape[0]}, {self.count}), got {tuple(distances.shape)}")
        w = kernel(distances, s.width)
        a = s.prior_labels * self.tick_rate + w @ self.labels
        b = s.prior_labels * (1 - self.tick_rate) + w @ (1 - self.labels)
        mean = a / (a + b)
        return Rates(mean, (mean * (1 - mean) / (a + b + 1)).sqrt())


def kernel(distances: torch.Tensor, width: float) -> torch.Tensor:
    """Kernel weights ``exp(-(d / width)^2)`` of Chamfer distances ``d`` (any shape), in (0, 1]."""
    return torch.exp(-((distances / width) ** 2))


def soft_ticks(labels: torch.Tensor) -> torch.Tensor:
    """A round's labels ``(n,)`` (summing to 1) as ticks in [0, 1]: each divided by the largest, so a ticked proposal
    is 1 and an unticked one 0, and soft probabilities keep their ratios."""
    top = labels.max()
    return labels / top if top > 0 else torch.zeros_like(labels)


def fit_belief(
    labelled: list[tuple[torch.Tensor, torch.Tensor]],
    settings: BeliefSettings | None = None,
    distances: torch.Tensor | None = None,
) -> Belief:
    """The preference model of labelled proposals ``[(samples (n, num_points, 2), labels (n,)), ...]``, oldest
    first (labels as a round gives them, summing to 1; :func:`soft_ticks` reads them as ticks). The Chamfer distances
    between the labelled clouds, ``(count, count)``, are measured here unless given as ``distances`` (e.g.
    :class:`~toyflow.preference.chamfer_blocks.ChamferBlocks`)."""
    s = settings or BeliefSettings()
    if not labelled:
        raise ValueError("the preference model needs at least one labelled proposal")
    clouds = torch.cat([samples[:, : s.kernel_points] for samples, _ in labelled]).detach().cpu().float()
    y = torch.cat([soft_ticks(labels.detach().cpu().float()) for _, labels in labelled])
    if distances is not None and tuple(distances.shape) != (y.shape[0], y.shape[0]):
        raise ValueError(f"distances must be ({y.shape[0]}, {y.shape[0]}), got {tuple(distances.shape)}")
    evidence = prequential_evidence(clouds, y, s, distances)
    # the logistic of the posterior log odds; past -700 nats (hundreds of labels against the model) it is 1e-304,
    # where math.exp of more would overflow
    certainty = 1.0 / (1.0 + math.exp(min(700.0, -(evidence + s.prior_log_odds))))
    tick_rate = float((y.sum() + 1) / (y.shape[0] + 2))
    return Belief(clouds, y, evidence, certainty, tick_rate, s)


def prequential_evidence(
    clouds: torch.Tensor, y: torch.Tensor, settings: BeliefSettings, distances: torch.Tensor | None = None
) -> float:
    """Log Bayes factor (nats) of "the ticks follow the clouds" against "every cloud has the same tick rate":
    ``sum_j log p_kernel(y_j | y_<j) - log p_same(y_j | y_<j)`` over labelled ``clouds (n, k, 2)``, ``y (n,)``; their
    Chamfer distances ``(n, n)`` measured here unless given."""
    s = settings
    w = kernel(pairwise_chamfer(clouds, clouds) if distances is None else distances, s.width)
    total = 0.0
    for j in range(1, y.shape[0]):
        before = y[:j]
        same = float((before.sum() + 1) / (j + 2))  # Laplace's rule of succession
        a = s.prior_labels * same + float(w[j, :j] @ before)
        b = s.prior_labels * (1 - same) + float(w[j, :j] @ (1 - before))
        follows = s.lapse + (1 - 2 * s.lapse) * a / (a + b)
        total += bernoulli_log_likelihood(float(y[j]), follows) - bernoulli_log_likelihood(float(y[j]), same)
    return total


def bernoulli_log_likelihood(y: float, p: float) -> float:
    """``y log p + (1 - y) log(1 - p)`` for a (soft) label ``y`` in [0, 1] and a probability ``p`` in (0, 1)."""
    return y * math.log(p) + (1 - y) * math.log(1 - p)


@dataclass(frozen=True)
class PoolReading:
    """What the preference model says about model A's pool of clouds: the ``k`` clouds it rates highest
    (``top (k, num_points, 2)``, highest first) and lowest (``bottom (k, num_points, 2)``, lowest first), their
    :class:`Rates`, and, where the method weighs its pool, how often B sees each of them against A's own law
    (``top_weights, bottom_weights (k,)``: 1 is as often as A draws it). With the certainty and the evidence of the
    belief, the number of labelled clouds behind it, the pool's size and how many of its clouds B effectively
    learns from (``1 / sum w_i^2`` of the weights summing to 1; ``None`` without weights). Tensors on the CPU."""

    top: torch.Tensor
    top_rates: Rates
    bottom: torch.Tensor
    bottom_rates: Rates
    certainty: float
    evidence: float
    labelled: int
    pool_size: int
    top_weights: torch.Tensor | None = None
    bottom_weights: torch.Tensor | None = None
    effective_samples: float | None = None


def read_pool(
    belief: Belief,
    pool: torch.Tensor,
    k: int = 6,
    weights: torch.Tensor | None = None,
    distances: torch.Tensor | None = None,
) -> PoolReading:
    """The ``k`` clouds of ``pool (m, num_points, 2)`` that ``belief`` rates highest and lowest (ties in the pool's
    order), with ``weights (m,)`` (summing to 1: how often B sees each cloud, e.g. the default method's
    ``softmax(strength * certainty * rate)``) if given, the pool's Chamfer distances to the labelled clouds read from
    ``distances (m, count)`` if given (:meth:`Belief.rates`). ``ValueError`` when ``k`` is not in ``[1, m // 2]`` or
    the weights or distances do not match the pool; nothing is changed."""
    m = int(pool.shape[0])
    if not 1 <= k <= m // 2:
        raise ValueError(f"k must be between 1 and half the pool ({m // 2}), got {k}")
    if weights is not None and tuple(weights.shape) != (m,):
        raise ValueError(f"weights must have one value per pool cloud, shape ({m},), got {tuple(weights.shape)}")
    pool = pool.detach().cpu()
    rates = belief.rates(pool, distances)
    top = torch.argsort(rates.mean, descending=True, stable=True)[:k]
    bottom = torch.argsort(rates.mean, stable=True)[:k]
    relative = None if weights is None else weights.detach().cpu().float() * m
    return PoolReading(
        top=pool[top],
        top_rates=Rates(rates.mean[top], rates.spread[top]),
        bottom=pool[bottom],
        bottom_rates=Rates(rates.mean[bottom], rates.spread[bottom]),
        certainty=belief.certainty,
        evidence=belief.evidence,
        labelled=belief.count,
        pool_size=m,
        top_weights=None if relative is None else relative[top],
        bottom_weights=None if relative is None else relative[bottom],
        effective_samples=None if weights is None else float(1.0 / weights.detach().cpu().double().pow(2).sum()),
    )
