"""A preference session: model A (frozen), model B (learning), B's optimiser, the labelled proposals and the history.

``propose`` draws proposals from A, ``give`` takes ticks (or probabilities) and lets the session's method update
B, ``resample`` draws B from given noise (the proposals' noise shows the change). Every random number comes from
a stream of its own (:mod:`toyflow.seeds`): proposal ``k`` from ``(seed, "proposal", k)``, the update of round
``r`` from ``(seed, "update", r)``, so the same seed proposes the same clouds whatever the method and whatever
the updates drew, and a round replayed from the same B gives the same B.

Every answer can be taken back exactly (:meth:`PreferenceSession.undo`: B, its optimiser, the labelled proposals
and the method's state return bit for bit to what they were), and everything the session does is written to its
:attr:`~PreferenceSession.log` (:mod:`~toyflow.preference.log`), from which it replays bit for bit.
"""

from __future__ import annotations

import copy
import math
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import save_checkpoint
from ..decision import sample_deciding
from ..reference import is_reference
from ..seeds import derive_seed, stream
from ..solver import Sampler
from ..trace import DecisionTrace
from ..validation import check_count, check_probability, check_seed
from . import undo as snapshots
from .base import DEFAULT_METHOD, get_method
from .belief import Belief
from .labels import Answer, PreferenceInputError, labels_from
from .log import SessionLog, tensors_checksum
from .log_schema import MAX_PROPOSALS, MAX_STEPS, check_settings
from .optimizer import Adam
from .records import PROPOSALS, Labelled, Pool, Proposal, RoundRecord
from .rehearsal import Rehearsal, same_weights
from .settings import MethodSettings
from .workbench import Workbench


class PreferenceSession:
    """A person teaching model B: proposals of model A, answers, the history of rounds, undo and the log.

    ``method`` names a registered :class:`~toyflow.preference.base.Method` (default: ``reward-fm``). Models A and
    B, B's optimiser and the labelled proposals live on the session's :attr:`bench`
    (:class:`~toyflow.preference.workbench.Workbench`), which is all a method sees. The method prepares what every
    round reuses (``reward-fm``: A's pool of samples) when the session is made, or, with ``prepare_in_background``,
    on a thread of its own (:attr:`preparing`) while proposals are drawn and ticked: the first round waits for it.
    Either way the same seeds draw the same pool.

    ``model_a`` itself is frozen in place, not copied: moved to ``device``, put in eval mode, its parameters no longer
    requiring gradients (sessions on the same model A share what it draws, :mod:`~toyflow.preference.a_cache`).
    """

    def __init__(
        self,
        model_a: nn.Module,
        method: str | None = DEFAULT_METHOD,
        seed: int = 0,
        sampler_steps: int | None = None,
        s_fraction: float = 0.2,
        settings: MethodSettings | None = None,
        device: str | torch.device | None = None,
        meta: dict | None = None,
        prepare_in_background: bool = False,
    ) -> None:
        self.learner = get_method(method)
        self.method = self.learner.name
        settings = settings or MethodSettings()
        if is_reference(model_a):  # its clouds have one fixed size, its noise another law: nothing here reads them
            raise ValueError(
                "model A is the original's network (trained by toyflow train --reference): a preference session "
                "needs a toyflow network (CloudFlow); the original's method runs on one as method='reference'"
            )
        check_seed("seed", seed)
        check_probability("s_fraction", s_fraction)
        check_settings(settings)  # what the log must hold to replay the session, checked before anything is made
        device = torch.device(device) if device is not None else next(model_a.parameters()).device
        self.a_meta = meta or {}
        sampler = Sampler.from_meta(model_a, self.a_meta).with_(steps=sampler_steps)
        learner = self.learner
        self.bench = Workbench(
            model_a, settings, seed, s_fraction, sampler, device, learner.parameter_groups, learner.build_b
        )
        self.b_version = 0  # changes whenever B may have changed (a cache key for what is measured on B)
        self.log = SessionLog.for_session(self.bench, self.method)
        self._clear()
        self.preparing: threading.Thread | None = None
        if prepare_in_background:  # a picker can show its first proposals meanwhile; a round waits for it
            self.preparing = threading.Thread(
                target=self.learner.prepare, args=(self.bench,), daemon=True, name="prepare"
            )
            self.preparing.start()
        else:
            self.learner.prepare(self.bench)

    # ------------------------------------------------- what the workbench holds
    @property
    def a(self) -> nn.Module:
        """Model A (frozen)."""
        return self.bench.a

    @property
    def b(self) -> nn.Module:
        """Model B (learning)."""
        return self.bench.b

    @property
    def opt(self) -> Adam:
        """B's optimiser."""
        return self.bench.opt

    @property
    def buffer(self) -> list[Labelled]:
        """The labelled proposals in effect, the newest last."""
        return self.bench.buffer

    @property
    def settings(self) -> MethodSettings:
        """The method's settings."""
        return self.bench.settings

    @property
    def seed(self) -> int:
        """The session's seed: every random number comes from a stream of it."""
        return self.bench.seed

    @property
    def s_fraction(self) -> float:
        """The S fraction of the training mixture that fresh batches are drawn from."""
        return self.bench.s_fraction

    @property
    def sampler(self) -> Sampler:
        """The sampler that draws A and B."""
        return self.bench.sampler

    @property
    def device(self) -> torch.device:
        """Where A and B live."""
        return self.bench.device

    def noise(self, n: int, seed: int | torch.Generator) -> torch.Tensor:
        """``n`` noise clouds ``(n, num_points, 2)`` of model A's source law from ``seed``, on B's device."""
        return self.bench.noise(n, seed)

    def pool(self) -> Pool:
        """A's own samples that the method learns from (drawn once per session)."""
        return self.bench.pool()

    def belief(self) -> Belief:
        """The preference model fitted to every tick in effect (:meth:`~toyflow.preference.workbench.Workbench.
        belief`)."""
        return self.bench.belief()

    # ----------------------------------------------------------------- state
    def _clear(self) -> None:
        self.bench.start_over()
        self.history: list[RoundRecord] = []
        self.last_proposal: Proposal | None = None
        self.proposals_drawn = 0
        # the proposals drawn since the start or the last reset, by number, held only while someone holds them: an
        # answer must name one of these very objects (a proposal of before a reset may carry a number drawn again)
        self._drawn: weakref.WeakValueDictionary[int, Proposal] = weakref.WeakValueDictionary()
        self._finetunes = 0
        self._snapshots: list[snapshots.Snapshot] = []
        self._ahead: tuple[nn.Module, torch.Tensor, DecisionTrace] | None = None  # read_ahead's B, noise and trace
        self.b_version += 1

    def reset(self) -> None:
        """Forget everything learned: B is made from A again (a copy of A, or a network built around one); buffer,
        history and counters are emptied (the log keeps a ``reset`` event)."""
        self._clear()
        self.log.add("reset", b=self.b_checksum())

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` has an answer to take back (one given since the start or the last reset, not undone)."""
        return bool(self._snapshots)

    def undo(self) -> snapshots.Snapshot:
        """Take the last answer in effect back: B, its optimiser, the labelled proposals and the method's state
        return bit for bit to what they were before it; its record is marked ``undone`` and an ``undo`` record
        follows it in the history. Returns the snapshot restored (its ``proposal``, ``ticks`` and
        ``probabilities`` say what was answered). :class:`PreferenceInputError` when there is nothing to undo."""
        if not self._snapshots:
            raise PreferenceInputError("nothing to undo: no round has been answered since the start or the reset")
        snapshot = self._snapshots.pop()
        record = next(r for r in reversed(self.history) if r.in_effect)
        self._restore(snapshot)
        record.undone = True
        what = "B is exactly as before it" if record.updated else "B had not changed"
        reason = f"round {record.round} undone: {what}"
        self.history.append(RoundRecord(record.round, None, False, reason, action="undo"))
        self.log.add("undo", round=record.round, b=self.b_checksum())
        return snapshot

    def frozen_b(self) -> nn.Module:
        """A frozen copy of model B as it is now (for measuring it elsewhere, e.g. on another thread, while B learns
        on)."""
        return copy.deepcopy(self.b).eval().requires_grad_(False)

    def b_checksum(self) -> str:
        """SHA-256 of model B's tensors (see :func:`~toyflow.preference.log.tensors_checksum`)."""
        return tensors_checksum(self.b)

    @property
    def rounds(self) -> int:
        """Number of answered rounds in effect (not undone)."""
        return sum(r.in_effect for r in self.history)

    @property
    def labelled_rounds(self) -> int:
        """Number of rounds in effect that updated B."""
        return sum(r.updated and r.in_effect for r in self.history)

    def look_ahead(self, proposal: Proposal) -> None:
        """Compute now, while ``proposal`` is shown, what answering it will read whatever the answer (the method's
        :meth:`~toyflow.preference.base.Method.ahead`: for the default method, the preference model's distances to
        it), so that the round is quicker. Safe on a worker thread while the session waits for the answer; nothing
        the session shows or logs changes."""
        self.learner.ahead(self.bench, proposal)

    # -------------------------------------------------------------- sampling
    def propose(self, n: int = PROPOSALS, seed: int | None = None) -> Proposal:
        """Draw ``n`` noises and A's samples of them: proposal ``k`` of the session uses the noise of ``seed``, else
        of the session's proposal stream ``(seed, "proposal", k)``. ``ValueError`` for a count outside 1 to
        :data:`~toyflow.preference.log_schema.MAX_PROPOSALS` or a bad seed, and nothing counted."""
        check_count("n", n, maximum=MAX_PROPOSALS)
        if seed is not None:
            check_seed("seed", seed)
        self.proposals_drawn += 1
        if seed is None:
            seed = derive_seed(self.seed, "proposal", self.proposals_drawn)
        noise = self.noise(n, seed)
        trace = sample_deciding(self.a, noise, self.sampler)  # the same steps as without it, A's decision kept
        self.last_proposal = Proposal(noise, trace.trajectory[-1].to(noise.device), seed, self.proposals_drawn, trace)
        self._drawn[self.proposals_drawn] = self.last_proposal
        self.log.add("propose", number=self.proposals_drawn, n=int(n), seed=int(seed))
        return self.last_proposal

    def resample(self, noise: torch.Tensor, return_trajectory: bool = False) -> torch.Tensor:
        """Model B's clouds from ``noise (n, num_points, 2)``: ``(n, num_points, 2)`` (or every step of the sampler,
        ``(steps + 1, n, num_points, 2)``, with ``return_trajectory``)."""
        return self.sampler.sample(self.b, noise, return_trajectory)

    def resample_deciding(self, noise: torch.Tensor) -> DecisionTrace:
        """Every step of model B from ``noise (n, num_points, 2)``, the clouds :meth:`resample` draws at its end, with
        what B's decision is read from kept along the way (:func:`~toyflow.decision.sample_deciding`), on the CPU;
        what :meth:`read_ahead` kept where it read the same noise with a B of the same weights, bit for bit."""
        ahead = self._ahead
        if ahead is not None and torch.equal(ahead[1], noise) and same_weights(ahead[0], self.b):
            return ahead[2]
        return sample_deciding(self.b, noise, self.sampler)

    def read_ahead(self, b: nn.Module, noise: torch.Tensor, stop: Callable[[], bool] | None = None) -> DecisionTrace:
        """:meth:`resample_deciding` of ``b`` (B as an answer not given yet would make it, a :class:`~toyflow.
        preference.rehearsal.Rehearsal`'s) from ``noise (n, num_points, 2)``, kept (the last one): the round that
        re-samples B from that noise takes it if B then has the same weights. ``stop``: it gives way between two
        steps (:class:`~toyflow.solver.SamplingStopped`), keeping nothing. Safe on a worker thread."""
        self._ahead = None  # what was read ahead before is for other ticks
        trace = sample_deciding(b, noise, self.sampler, stop)
        self._ahead = (b, noise, trace)
        return trace

    def sample_a(self, n: int, seed: int) -> torch.Tensor:
        """``n`` clouds of A from the noise of ``seed``: ``(n, num_points, 2)``."""
        return self.sampler.sample(self.a, self.noise(n, seed))

    def sample_b(self, n: int, seed: int) -> torch.Tensor:
        """``n`` clouds of B from the noise of ``seed``: ``(n, num_points, 2)``."""
        return self.sampler.sample(self.b, self.noise(n, seed))

    # --------------------------------------------------------------- learning
    def give(
        self,
        ticks: Sequence[int] | None = None,
        probabilities: Sequence[float] | None = None,
        proposal: Proposal | None = None,
    ) -> RoundRecord:
        """Take the person's answer for ``proposal`` (default: the last one) and update B.

        No tick: a skipped round, B unchanged. Every proposal ticked equally: no preference signal,
        B unchanged. A non-finite loss skips the step with a warning and leaves B unchanged. Bad input raises
        :class:`PreferenceInputError` and is not a round (nor an event of the log). Every round, skipped or not,
        keeps a snapshot for :meth:`undo` and logs an ``answer`` event with B's checksum after it.
        """
        proposal = proposal or self.last_proposal
        if proposal is None:
            raise PreferenceInputError("no proposals yet: call propose() first")
        if self._drawn.get(proposal.number) is not proposal:
            made = f"1 to {self.proposals_drawn}" if self.proposals_drawn else "none"
            raise PreferenceInputError(
                f"proposal {proposal.number} is not one this session drew since the start or the last reset "
                f"({made}): answer a proposal of propose()"
            )
        y = labels_from(proposal.noise.shape[0], ticks, probabilities)
        number = self.rounds + 1
        method_state = self.learner.state(self.bench)
        snapshot = snapshots.take(
            self.bench, method_state, proposal, ticks, probabilities, self.last_proposal, self._finetunes
        )
        if y is None:
            rec = RoundRecord(number, None, False, "nothing ticked: round skipped, B unchanged")
        elif alike(y):
            labels = [round(float(v), 6) for v in y]
            rec = RoundRecord(number, labels, False, "all proposals ticked alike: no preference to learn, B unchanged")
        else:
            rec = self._update(number, y, proposal, snapshot)
        self.history.append(rec)
        self._snapshots.append(snapshot)
        self.log.add(
            "answer",
            proposal=proposal.number,
            ticks=snapshot.ticks,
            probabilities=snapshot.probabilities,
            round=number,
            updated=rec.updated,
            b=self.b_checksum(),
        )
        return rec

    def _update(self, number: int, y: torch.Tensor, proposal: Proposal, snapshot: snapshots.Snapshot) -> RoundRecord:
        """Let the method update B from the buffer with ``proposal`` labelled ``y``; a non-finite loss restores
        ``snapshot`` and says so."""
        labels = [round(float(v), 6) for v in y]
        start = time.perf_counter()
        self.buffer.append(self._labelled(proposal, y))
        try:
            stats = self.learner.update(self.bench, self._update_stream(number))
        except BaseException:  # an error or an interrupt half-way: not a round, B as it was
            self._restore(snapshot)
            raise
        self.b_version += 1
        finite = all(math.isfinite(v) for v in stats.reported().values()) and all(
            torch.isfinite(p).all() for p in self.b.parameters()
        )
        if not finite:
            self._restore(snapshot)
            warnings.warn("non-finite loss in the preference update: step skipped, B unchanged", stacklevel=3)
            return RoundRecord(number, labels, False, "non-finite loss: step skipped, B unchanged")
        return RoundRecord(number, labels, True, "", stats, seconds=time.perf_counter() - start)

    def _labelled(self, proposal: Proposal, y: torch.Tensor) -> Labelled:
        """``proposal`` labelled ``y (n,)``, as the labelled proposals keep it."""
        return Labelled(proposal.noise.detach(), proposal.samples.detach(), y.to(self.device))

    def rehearsal(
        self, answer: Answer, proposal: Proposal | None = None, stop: Callable[[], bool] | None = None
    ) -> Rehearsal | None:
        """The update that answering ``proposal`` (default: the last one) with ``answer`` would make, ready to run
        apart (:class:`~toyflow.preference.rehearsal.Rehearsal`: on a copy of the workbench, e.g. on a worker thread
        while the person may still change the ticks; ``stop()`` gives it up between two optimiser steps). ``None``
        where that answer would leave B as it is (nothing ticked, every proposal alike), would not be taken (its
        error is :meth:`give`'s to tell), or where the method keeps a state of its own, which an update apart
        would change. Quick (a copy of B): call it where the rounds run. Nothing of the session changes."""
        proposal = proposal or self.last_proposal
        if proposal is None or self._drawn.get(proposal.number) is not proposal:
            return None
        try:
            y = labels_from(proposal.noise.shape[0], answer.ticks, answer.probabilities)
        except PreferenceInputError:
            return None
        if y is None or alike(y) or self.learner.state(self.bench) is not None:
            return None
        bench = self.bench.apart(stop)
        bench.buffer.append(self._labelled(proposal, y))
        number = self.rounds + 1
        return Rehearsal(bench, self.learner.update, answer, proposal, number, self._update_stream(number))

    def _update_stream(self, number: int) -> torch.Generator:
        """The random stream round ``number``'s update draws from, ``(seed, "update", number)``: the round's and its
        rehearsal's alike, so that both make the same B."""
        return stream(self.seed, "update", number)

    def _restore(self, snapshot: snapshots.Snapshot) -> None:
        """Everything back as it was when ``snapshot`` was taken (B bit for bit, the method's state, the counters)."""
        snapshots.restore(self.bench, snapshot)
        self.learner.load_state(self.bench, copy.deepcopy(snapshot.method_state))
        self.last_proposal = snapshot.last_proposal
        self._finetunes = snapshot.finetunes
        self.b_version += 1  # a new version (a cache key: never reused, so nothing stale is taken for B)

    def finetune_fresh(self, steps: int) -> float:
        """A control, not a preference method: ``steps`` steps of B's whole network on fresh mixture data, with A's
        training loss, at the rate a whole network learns at in reward-fm (``settings.whole_lr``), whatever the
        session's method trains (:meth:`~toyflow.preference.workbench.Workbench.finetune`).

        Returns the last loss; a non-finite one (with a warning) leaves B as it was. ``ValueError`` for ``steps``
        outside 1 to :data:`~toyflow.preference.log_schema.MAX_STEPS`, and nothing done.
        """
        check_count("steps", steps, maximum=MAX_STEPS)
        self._finetunes += 1
        gen = stream(self.seed, "finetune", self._finetunes)
        size, lr = self.settings.batch_size, self.settings.whole_lr
        loss = self.bench.finetune(lambda: self.bench.fresh_batch(size, gen), steps, gen, lr)
        self.b_version += 1
        self.log.add("finetune", steps=int(steps), b=self.b_checksum())
        return loss

    # ------------------------------------------------------------ measuring, saving
    @torch.no_grad()
    def preference_objective(self, proposal: Proposal, labels: torch.Tensor) -> float:
        """The method's own preference loss of B for ``proposal`` with ``labels (n,)`` (deterministic)."""
        return self.learner.objective(self.bench, proposal, labels.to(self.device))

    def save(self, path: str | os.PathLike, **metadata: object) -> Path:
        """Save model B (atomically, as safetensors) with the method, its settings and the round history."""
        return save_checkpoint(
            self.b,
            path,
            preference={
                "method": self.method,
                "settings": asdict(self.settings),
                "labelled_rounds": self.labelled_rounds,
                "rounds": [asdict(r) for r in self.history],
            },
            sampler=Sampler.from_meta(self.a, self.a_meta).to_dict(),
            **metadata,
        )


def alike(y: torch.Tensor) -> bool:
    """Whether the labels ``y (n,)`` rate every proposal alike (no preference to learn)."""
    return bool(torch.allclose(y, torch.full_like(y, 1.0 / y.shape[0])))
