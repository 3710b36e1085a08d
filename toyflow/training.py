"""Training model A: the default recipe and the training loop (progress bar, live-plot callback, budgets)."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn
from tqdm.auto import tqdm

from .coupling import couple
from .data import NUM_POINTS, CloudStream, noise_like
from .device import precision_context, resolve_device
from .flow import mixture_loss
from .model import FlowConfig, noise_radius
from .muon import Muon
from .pair_pool import PairPool, Pairs, random_points
from .time_law import TimeLaw
from .validation import check_count, check_positive


@dataclass
class Recipe:
    """Everything that decides how model A is trained (saved in the checkpoint's metadata)."""

    # or a ReferenceConfig. The source law is the normal truncated at radius 2.5 (see toyflow.data.truncate_noise):
    # with the untruncated normal, the 1 % of noise points beyond 2.5 produced a third of the Swiss rolls' stray
    # points and every point outside the data's box.
    config: FlowConfig = field(default_factory=lambda: FlowConfig(noise_radius=2.5))
    s_fraction: float = 0.2
    # 3000 steps with Muon for the weight matrices reach what 10000 steps of AdamW alone reached (clean 0.92-0.93
    # on 1024 noises, two seeds; AdamW alone after 4000 steps: 0.82).
    steps: int = 3000
    batch_size: int = 32
    train_points: int = NUM_POINTS
    # Coupled (cloud, noise) pairs kept and trained on again at fresh times once this many are drawn (0: fresh
    # pairs every step). Optimal transport costs more than the network's step; see toyflow.pair_pool.
    pair_pool: int = 8192
    # The steps before ``subset_until`` of training see ``subset_points`` random points of every pair (0: all). The
    # network's step costs in proportion to the points it sees, and more steps, over more clouds, bring the points
    # closer to their curves than whole clouds do (clean 0.75 in 177 s against 0.66). The last steps on whole clouds
    # teach the gate the statistics of whole clouds: trained on 200-point clouds alone, it drew 12-14 % S curves
    # from 400-point noise.
    subset_points: int = 256
    subset_until: float = 0.85
    # The training times (toyflow.time_law): logit-normal, fewer near t = 0 and 1 than uniform ones (clean 0.90-0.91
    # against 0.85-0.87 with uniform times, 11000 steps, two seeds each); a tenth still uniform, without which the
    # gate, trained on few early times, drew 14.6-17.8 % S curves from the 20 % mixture.
    time_law: TimeLaw = field(default_factory=lambda: TimeLaw("logit-normal", mean=0.3, std=1.0, uniform_share=0.1))
    precision: str = "auto"  # the network's training passes: "auto", "float32" or "bfloat16" (toyflow.device)
    lr: float = 6e-3
    weight_decay: float = 0.0
    # "muon": Muon for the network's weight matrices, AdamW for the rest (see make_optimizers); "adamw"; "adam".
    optimizer: str = "muon"
    matrix_lr_scale: float = 1.0  # Muon's learning rate over ``lr`` (its updates sized as AdamW's)
    schedule: str = "cosine"
    warmup: int = 50
    ema: float = 0.999
    pool_size: int = 2048
    ot_chunk: int = 50  # 0: independent pairing (the reference); else minibatch-OT chunk size
    pair_clouds: bool = True  # batch-level OT: which noise cloud goes to which data cloud
    gate_weight: float = 0.1  # weight of the gate's cross entropy, for networks with class heads
    seed: int = 0

    def to_dict(self) -> dict:
        """The recipe as a JSON-ready dict."""
        d = asdict(self)
        d["config"] = self.config.to_dict()
        return d


def label_free_recipe(seed: int = 0) -> Recipe:
    """The recipe of the model A that never sees a label: the default recipe with one velocity field and no class
    heads (:attr:`~toyflow.model.FlowConfig.class_heads` off), so the mixture's labels reach no part of it."""
    recipe = Recipe(seed=seed)
    recipe.config = replace(recipe.config, class_heads=False)
    # Without a gate the whole field draws the shape: its matrices learn at twice the rate (clean 0.905-0.914
    # against 0.890-0.907 at the gated recipe's rate, 3000 steps; the gated model A is less clean at twice: 0.900).
    recipe.matrix_lr_scale = 2.0
    return recipe


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained (EMA) model and the loss history."""

    model: nn.Module
    losses: list[float]
    steps: int
    seconds: float


def lr_factor(progress: float, warmup_fraction: float) -> float:
    """Linear warm-up then cosine decay to zero, as a function of training progress in [0, 1]."""
    if progress < warmup_fraction:
        return max(progress / warmup_fraction, 1e-3)
    rest = (progress - warmup_fraction) / max(1e-8, 1 - warmup_fraction)
    return 0.5 * (1 + math.cos(math.pi * min(rest, 1.0)))


@dataclass
class Budget:
    """How far training has come, in ``[0, 1]``: through ``steps`` steps or ``seconds`` of wall time, whichever ends
    first (``None``: no such limit)."""

    steps: int | None
    seconds: float | None
    start: float = field(default_factory=time.perf_counter)

    def progress(self, step: int) -> float:
        """The progress after ``step`` steps, now."""
        by_steps = step / self.steps if self.steps else 0.0
        by_time = (time.perf_counter() - self.start) / self.seconds if self.seconds else 0.0
        return max(by_steps, by_time)


NoiseFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainingHooks:
    """What :func:`train` lets a caller replace (``None``: toyflow's own). ``noise_fn(x1, generator)``: the noise
    ``(batch, num_points, 2)`` a batch of clouds ``x1`` starts from (default: the model's source law, coupled to the
    clouds); ``loss_fn(model, x1, x0, t)``: the loss (a scalar) of a batch of clouds ``x1``, their noise ``x0`` and
    times ``t (batch,)`` (default: :func:`~toyflow.flow.mixture_loss`). The reference method plugs in its own
    (:data:`~toyflow.reference_training.REFERENCE_HOOKS`)."""

    noise_fn: NoiseFn | None = None
    loss_fn: LossFn | None = None


class PairSource:
    """The training pairs of each step: fresh clouds of the mixture with noise coupled to them (or ``noise_fn``'s
    noise), kept in a :class:`~toyflow.pair_pool.PairPool` until it is full, then drawn from it; before
    ``recipe.subset_until`` of the progress, a random subset of each pair's points. Every draw from ``generator``."""

    def __init__(
        self,
        recipe: Recipe,
        stream: CloudStream,
        generator: torch.Generator,
        radius: float,
        noise_fn: NoiseFn | None = None,
    ) -> None:
        self.recipe, self.stream, self.generator, self.radius, self.noise_fn = (
            recipe,
            stream,
            generator,
            radius,
            noise_fn,
        )
        self.pool = PairPool(recipe.pair_pool) if recipe.pair_pool else None

    def fresh(self, step: int) -> Pairs:
        """A batch of fresh clouds, their noise paired to them (:func:`~toyflow.coupling.couple`) and their labels."""
        x1, is_s = self.stream.next()
        x0 = self.noise_fn(x1, self.generator) if self.noise_fn else noise_like(x1, self.generator, self.radius)
        r = self.recipe
        seed = (r.seed * 1_000_003 + step) % 2**63  # the same as ever below 2**63; any seed of the recipe's range works
        return Pairs(x1, couple(x0, x1, r.ot_chunk, r.pair_clouds, seed=seed), is_s)

    def next(self, step: int, progress: float) -> Pairs:
        """The pairs of step ``step`` at ``progress``."""
        if self.pool is not None and self.pool.full:
            pairs = self.pool.draw(self.stream.batch_size, self.generator)
        else:
            pairs = self.fresh(step)
            if self.pool is not None:
                self.pool.add(pairs)
        if self.recipe.subset_points and progress < self.recipe.subset_until:
            pairs = random_points(pairs, self.recipe.subset_points, self.generator)
        return pairs


MATRIX_MIN_SIDE = 16  # weight matrices with fewer rows or columns (the output layers) are not Muon's


def is_matrix(parameter: torch.Tensor) -> bool:
    """Whether Muon steps ``parameter``: a weight matrix with at least :data:`MATRIX_MIN_SIDE` rows and columns (not a
    bias, a norm's scale, or an output layer of 1-4 rows)."""
    return parameter.ndim == 2 and min(parameter.shape) >= MATRIX_MIN_SIDE


def make_optimizers(model: nn.Module, recipe: Recipe) -> list[torch.optim.Optimizer | Muon]:
    """The recipe's optimisers over every parameter of ``model``, stepped together.

    ``"muon"``: :class:`~toyflow.muon.Muon` for the weight matrices (:func:`is_matrix`), which steps along the
    nearest orthogonal matrix to each one's momentum (every direction of the layer moves at once, where Adam moves
    the few its gradient favours), its updates sized as AdamW's, at ``lr * matrix_lr_scale``; AdamW for the other
    parameters. ``"adamw"`` or ``"adam"``: one optimiser for all. Adam and AdamW in their fused form (one kernel for
    all their parameters, on the CPU as on a GPU: a third of the for-loop form's time on model A's network) where the
    parameters' device has one."""
    if recipe.optimizer not in ("muon", "adamw", "adam"):
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}; expected 'muon', 'adamw' or 'adam'")
    matrices: list[nn.Parameter] = []
    rest: list[nn.Parameter] = []
    for p in model.parameters():
        (matrices if recipe.optimizer == "muon" and is_matrix(p) else rest).append(p)
    optimisers: list[torch.optim.Optimizer | Muon] = []
    if matrices:
        optimisers.append(Muon(matrices, lr=recipe.lr * recipe.matrix_lr_scale, weight_decay=recipe.weight_decay))
    if rest:
        optim_cls = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in rest)
        optimisers.append(optim_cls(rest, lr=recipe.lr, weight_decay=recipe.weight_decay, fused=fused or None))
    return optimisers


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """Move every weight of ``ema`` a fraction ``1 - decay`` of the way towards ``model``'s (one call for them all)."""
    targets, sources = list(ema.parameters()), list(model.parameters())
    if len(targets) != len(sources):
        raise ValueError(f"the average has {len(targets)} parameters and the model {len(sources)}")
    torch._foreach_lerp_(targets, sources, 1 - decay)


def train(
    model: nn.Module | None = None,
    recipe: Recipe | None = None,
    steps: int | None = None,
    seconds: float | None = None,
    device: str | torch.device | None = None,
    callback: Callable[[int, float], None] | None = None,
    progress: bool = True,
    stream: CloudStream | None = None,
    hooks: TrainingHooks = TrainingHooks(),
) -> TrainResult:
    """Train a flow on the recipe's mixture for ``steps`` steps or ``seconds`` of wall time, whichever ends first.

    ``callback(step, loss)`` is called after every step (e.g. for a live loss plot). The learning-rate
    schedule follows the progress through the budget (steps, or time when only ``seconds`` is given).
    With ``recipe.ema > 0`` the exponential moving average of the weights is returned (it samples
    cleaner than the raw weights). The pairs of each step come from a :class:`PairSource`; the network's passes
    run in ``recipe.precision`` (:func:`~toyflow.device.autocast_dtype`); training times follow
    ``recipe.time_law``. The loss is :func:`~toyflow.flow.mixture_loss` (a network with class heads learns from
    the mixture's labels); ``hooks`` (:class:`TrainingHooks`) let the reference method plug in its own noise and loss.
    ``steps`` (and ``recipe.steps`` when it is used) must be at least 1 and ``seconds`` a finite number greater
    than 0 (a budget that never ends is refused, not run forever).
    """
    recipe = recipe or Recipe()
    if steps is not None:
        check_count("steps", steps)
    if seconds is not None:
        check_positive("seconds", seconds)
    if steps is None and seconds is None:
        check_count("recipe.steps", recipe.steps)
    dev = resolve_device(device)
    if model is None:
        from .architectures import build_model

        with torch.random.fork_rng(devices=[]):  # the weights are the seed's; the caller's generator is left alone
            torch.manual_seed(recipe.seed)
            model = build_model({"config": recipe.config.to_dict()})
    model = model.to(dev)
    total = steps if steps is not None else (None if seconds is not None else recipe.steps)
    stream = stream or CloudStream(
        recipe.batch_size, recipe.s_fraction, recipe.train_points, seed=recipe.seed, pool_size=recipe.pool_size
    )
    gen = torch.Generator().manual_seed((recipe.seed + 1) % 2**63)  # seed 2**63 - 1 too
    source = PairSource(recipe, stream, gen, noise_radius(model), hooks.noise_fn)
    optimisers = make_optimizers(model, recipe)
    groups = [(g, g["lr"]) for opt in optimisers for g in opt.param_groups]  # each group with its base rate
    ema = copy.deepcopy(model).requires_grad_(False) if recipe.ema > 0 else None
    warm = recipe.warmup / total if total else 0.03

    losses: list[float] = []
    budget = Budget(total, seconds)
    bar = tqdm(total=total, disable=not progress, desc="training", unit="step")
    step = 0
    try:  # an interrupt (Ctrl-C) still closes the progress bar: what follows starts on a new line
        while (prog := budget.progress(step)) < 1.0:
            if recipe.schedule == "cosine":
                for g, base in groups:
                    g["lr"] = base * lr_factor(prog, warm)
            pairs = source.next(step, prog)
            is_s, t = pairs.is_s, recipe.time_law.sample(len(pairs), gen)
            x1, x0, t = pairs.clouds.to(dev), pairs.noise.to(dev), t.to(dev)
            with precision_context(dev, recipe.precision):
                if hooks.loss_fn is None:
                    loss = mixture_loss(model, x1, x0, t, is_s, recipe.gate_weight)
                else:
                    loss = hooks.loss_fn(model, x1, x0, t)
            model.zero_grad(set_to_none=True)
            loss.backward()
            for opt in optimisers:
                opt.step()
            if ema is not None:
                ema_update(ema, model, min(recipe.ema, (1 + step) / (10 + step)))
            step += 1
            losses.append(loss.item())
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{sum(losses[-10:]) / 10:.4f}")
            if callback is not None:
                callback(step, losses[-1])
    finally:
        bar.close()
    final = ema if ema is not None else model
    return TrainResult(model=final.eval(), losses=losses, steps=step, seconds=time.perf_counter() - budget.start)
