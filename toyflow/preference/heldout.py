"""Model A and model B on fixed held-out noises, sampled and judged once per version of B.

The chart's figures (S-fraction and clean fraction) and the flip map (what B did with each noise, compared with A)
read the same thing: each model's clouds from a fixed set of noises that no proposal uses, and the judge's verdict
on them. :class:`HeldOut` computes that once and hands it to both: A's once per session (A is frozen; shared with
the other sessions on the same model A, :mod:`~toyflow.preference.a_cache`), B's once per frozen copy of B
(:meth:`HeldOut.snapshot`, the same copy while B has not changed). The chart reads the first ``eval_n`` noises, the
flip map the first ``FLIP_N``: drawing the noise of one seed for more clouds only appends clouds, so a prefix is
exactly what drawing fewer would give.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..evaluation import EVAL_SEED
from ..judge import Verdict, judge
from ..validation import check_count
from . import a_cache
from .rehearsal import same_weights
from .session import PreferenceSession

HELD_OUT_SEED = EVAL_SEED  # the held-out noises: the fixed noises every benchmark and the chart measure models on


@dataclass(frozen=True)
class HeldOutReading:
    """One model's clouds ``(n, num_points, 2)`` (on the CPU) from the held-out noises and the judge's verdict."""

    clouds: torch.Tensor
    verdict: Verdict

    def first(self, k: int) -> HeldOutReading:
        """The reading of the first ``k`` noises (``1 <= k <= n``; ``n`` itself: this reading)."""
        verdict = self.verdict.first(k)
        return self if k == self.clouds.shape[0] else HeldOutReading(self.clouds[:k], verdict)


class HeldOut:
    """``n`` fixed noises of ``seed`` and what model A and (frozen copies of) model B draw from them, judged.

    Thread safe: :meth:`reading` may run on a worker thread; what two callers ask for at once is computed once.
    """

    def __init__(self, session: PreferenceSession, n: int, seed: int = HELD_OUT_SEED) -> None:
        self.session, self.n, self.seed = session, check_count("n", n), seed
        self._lock = threading.Lock()
        self._a: HeldOutReading | None = None
        self._b: tuple[nn.Module, HeldOutReading] | None = None  # the last copy of B read, and its reading
        self._ahead: tuple[nn.Module, HeldOutReading] | None = None  # B as an answer would make it, read ahead
        self._copy: tuple[int, nn.Module] | None = None

    def require(self, session: PreferenceSession, n: int, what: str, seed: int | None = None) -> HeldOut:
        """This object, if it holds ``session``'s first ``n`` or more held-out noises of ``seed`` (``None``: any);
        else ``ValueError`` naming ``what`` needs them."""
        seed = self.seed if seed is None else seed
        if self.session is not session or self.n < n or self.seed != seed:
            raise ValueError(
                f"the {what} needs {n} or more of seed {seed} of this session's held-out noises, "
                f"got {self.n} of seed {self.seed}"
            )
        return self

    def noise(self) -> torch.Tensor:
        """The held-out noises ``(n, num_points, 2)`` of model A's source law, on the session's device."""
        return self.session.noise(self.n, self.seed)

    def snapshot(self) -> nn.Module:
        """A frozen copy of B as it is now: the same object while B has not changed, so whoever reads it next
        (the chart, the flip map) shares one sampling."""
        version = self.session.b_version
        if self._copy is None or self._copy[0] != version:
            self._copy = (version, self.session.frozen_b())
        return self._copy[1]

    def reading(self, model: nn.Module, stop: Callable[[], bool] | None = None) -> HeldOutReading:
        """``model``'s clouds of the held-out noises and their verdict: model A's computed once, a copy of B's once
        per copy (the last one is kept). With ``stop``, a sampling under way gives way when it says so (between two
        steps, :class:`~toyflow.solver.SamplingStopped`), keeping nothing: for work read ahead."""
        with self._lock:
            if model is self.session.a:  # the same for every session on this A: drawn once (a_cache)
                if self._a is None:
                    key = ("held-out", self.n, self.seed, self.session.sampler, str(self.session.device))
                    self._a = a_cache.shared(model, key, lambda: self._read(model, stop))
                return self._a
            if self._b is None or self._b[0] is not model:
                ahead = self._ahead
                fits = ahead is not None and same_weights(ahead[0], model)
                self._b = (model, ahead[1] if fits else self._read(model, stop))
            return self._b[1]

    def read_ahead(self, model: nn.Module, stop: Callable[[], bool] | None = None) -> HeldOutReading:
        """Read ``model``, B as an answer not given yet would make it (a :class:`~toyflow.preference.rehearsal.
        Rehearsal`'s), and keep it: :meth:`reading` then gives it for any copy of B with the same weights, bit for
        bit, instead of sampling again (the last one read ahead is kept). ``stop``: as for :meth:`reading`."""
        with self._lock:
            self._ahead = None  # what was read ahead before is for other ticks
            self._ahead = (model, self._read(model, stop))
            return self._ahead[1]

    def _read(self, model: nn.Module, stop: Callable[[], bool] | None) -> HeldOutReading:
        clouds = self.session.sampler.sample(model, self.noise(), stop=stop).cpu()
        return HeldOutReading(clouds, judge(clouds))
