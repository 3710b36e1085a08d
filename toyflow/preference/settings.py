"""The knobs every preference method shares (:class:`MethodSettings`), with the measured reason for each default."""

from __future__ import annotations

from dataclasses import dataclass

from .belief import BeliefSettings


@dataclass
class MethodSettings:
    """Knobs of the preference methods (defaults are the measured best); each method reads the ones it needs."""

    # dpo, for a network without class heads: the whole network's learning rate (the reference method always uses
    # the original's 1e-3). On the whole time grid at 5e-4 (the label-free model A, 5 seeds, 1024 noises) B drew
    # 0.63 / 0.65 S curves after 3 / 5 exact rounds with clean 0.39 / 0.44, and with a tenth of the ticks flipped its
    # clean fell from 0.78 to 0.39 between 3 and 5 rounds. At the early times only (dpo_t_max, as with class heads)
    # and 4e-4, its barrier reading 32 fresh clouds (dpo_barrier_batch; 2-core AMD EPYC): 0.81 / 0.91 and 0.88 /
    # 0.93, flipped 0.47 / 0.91 and 0.78 / 0.91, Swiss rolls preferred 0.96 / 0.92 and 0.99 / 0.91, flipped 0.88 /
    # 0.90 and 0.98 / 0.92, random ticks 0.14 and 0.15 (A 0.16); with today's preference model (its knobs below)
    # 0.87 / 0.93 and 0.88 / 0.93, flipped 0.61 / 0.92 and 0.80 / 0.91, Swiss rolls 0.98 / 0.92 and 0.99 / 0.91,
    # flipped 0.90 / 0.92 and 0.98 / 0.92, random ticks 0.14 and 0.15.
    lr: float = 4e-4
    # dpo, for a model with class heads: only the gate learns, at this rate. Learning the whole network, its steps
    # raised the straight-path errors of the unticked Swiss rolls by breaking them (3 exact rounds: valid 0.18-0.67,
    # S curves 0.20); the gate moves the choice of shape and leaves the drawing to A's heads. On the gated model A
    # trained with AdamW (3 seeds, 256 noises) 1e-2 gave 0.30 S curves after 3 exact rounds, 3e-2 0.61 with clean
    # 0.93, 5e-2 and 8e-2 swung seeds to 0.00. The gate of the model A trained with Muon is more sensitive: at 3e-2
    # B fell from 0.57 / 0.94 to 0.41 / 0.79 S curves from 3 to 5 rounds and with Swiss rolls preferred broke (0.08
    # rolls, clean 0.42 after 3; 5 seeds, 1024 noises); at 1e-2 (5 seeds, 256 noises) 0.31 / 0.94 and 0.29 / 0.93 S
    # curves, 0.94 / 0.90 rolls after 3 and 5 rounds; at 3e-3 0.89 / 0.93 and 0.91 / 0.93 rolls.
    dpo_gate_lr: float = 1e-2
    # dpo: its preference loss reads B's straight-path errors at the grid times t <= dpo_t_max only, where the shape
    # is chosen (the gated model A learning its whole network, 3 seeds, 256 noises, S curves / clean after 3 exact
    # rounds: the whole grid 0.20 / 0.48; t <= 0.5 0.27 / 0.50; t <= 0.3 0.31 / 0.71; t <= 0.13 0.42 / 0.79). A
    # network without class heads too (lr, above): raising the late errors of the unticked clouds breaks them.
    dpo_t_max: float = 0.13
    # dpo: fresh clouds of the mixture on which the dynamic barrier keeps B's flow-matching loss from rising. With 16
    # (batch_size) its gradient was too noisy to protect a whole network: with Swiss rolls preferred two seeds of
    # five fell to clean 0.83 and 0.85 after 5 rounds (0.90-0.93 with 32 or 64; 64 clouds of 128 points each: one
    # seed at 0.83 again). A round of the label-free B takes 1.5 s instead of 1.2 s. The gated B's figures stay
    # where they were with 16 (AMD EPYC: S curves 0.30 / 0.92 and 0.34 / 0.92, flipped 0.23 / 0.93 and 0.28 /
    # 0.93, Swiss rolls 0.90 / 0.92 and 0.93 / 0.91, flipped 0.89 / 0.92 and 0.92 / 0.91, random ticks 0.18 and
    # 0.18, A 0.17).
    dpo_barrier_batch: int = 32
    # reward-fm, for a model with class heads: B is A with its gate's log odds of an S curve raised by gate_shift_gain
    # times the log of how much more the weighted pool favours A's S curves than its rolls, times min(1, tilt /
    # tilt_nats) (reward_fm.gate_shift). With gain 1, the shift Bayes' rule gives for the tilted mixture, B drew 0.73
    # S curves after 3 rounds of the annotator flipping a tenth of its ticks (clean 0.94; 5 seeds, 1024 noises, 2-core
    # AMD EPYC): A's gate at the later times, sure of the shape, pulls undecided clouds back. 1.5: 0.90; 2: 0.99 /
    # 0.94, after 5 rounds 1.00 / 0.94, exact ticks 1.00 / 0.94, Swiss rolls preferred 1.00 / 0.92 (exact and flipped),
    # random ticks 0.17 / 0.92 (every seed 0.16-0.28 after 3 and 5 rounds, A 0.17; without the tilt's factor one
    # seed went to 0.42). The steps this replaced (8 Adam steps of the gate at 8e-2 and the heads at 3e-4, scaled by
    # the certainty and the tilt) reached 0.84 / 0.90 after 3 flipped rounds: each step of 8 pool clouds moved every
    # weight of the gate by about its learning rate, noise included, so a bolder step overshot. Learning the heads
    # too, as those steps did, changed nothing measurable (0.99 / 0.94).
    gate_shift_gain: float = 2.0
    # reward-fm, for a network without class heads (a model A that never saw a label): B's own network learns, at
    # every time before the hand-off (handoff_time, below). Learning at every time without a hand-off: with 5e-4 at
    # early times only, B plateaued at 0.84-0.88 S curves however many rounds (restarted from A, 8 small steps could
    # not bend the whole field further); with 1e-3 at all times 0.96 after 5 rounds with clean 0.92 (3 seeds, 256
    # noises); 2e-3 reached 1.00 but cost clean (0.88); then 8e-4, its full step from a certainty of 0.5. With the
    # hand-off and the step sized by the tilt alone (5 seeds, 1024 noises, AMD EPYC, after 3 / 5 rounds), 8e-4 against
    # 6e-4: Swiss rolls preferred, a tenth of the ticks flipped, 0.965 / 0.908 and 0.995 / 0.899 (0.952 / 0.900,
    # 0.989 / 0.910); random ticks moved one seed to 0.30 S curves after 5 rounds (0.27; A 0.16).
    whole_lr: float = 6e-4
    # reward-fm, for a network without class heads: B is its own network until handoff_time and a frozen copy of A's
    # from it on (toyflow.handoff.HandOff), and learns at times below it: B chooses the shape, A's late field draws
    # it as cleanly as A draws its own. Learning its whole network at every time, B lost clean rolls where it moved
    # towards them (Swiss rolls preferred, a tenth of the ticks flipped, 5 seeds, 1024 noises, AMD EPYC, 8e-4 with
    # the step full from a certainty of 0.5: clean 0.85 after 3 rounds and 0.86 after 5 in the seeds that took full
    # steps, median 0.89 after 5); handed off at 0.4 the same sessions kept 0.90-0.92 (median 0.908 after 3 and 5),
    # S curves preferred 0.993 / 0.928 and 0.994 / 0.922 (before 0.99 / 0.92, 0.99 / 0.905), exact Swiss rolls 0.996
    # after 3 rounds (0.96), random ticks B = A (every seed within 0.06). Learning at t < 0.8 without a hand-off (the
    # late field moving with the weights it shares) broke clean rolls further (one seed 0.80 after 5 rounds); handed
    # off at 0.6 that seed drew 0.889 clean after 3 rounds (0.909 at 0.4); at 0.3 (the step sized by the tilt alone)
    # 0.965 / 0.905 and 0.987 / 0.899, as at 0.4 (0.965 / 0.908, 0.995 / 0.899).
    handoff_time: float = 0.4
    # reward-fm: the learning rates of a network without class heads and the gated B's shift are scaled by min(1, tilt
    # / tilt_nats), the tilt being how far the weighted pool is from A's own law (Kullback-Leibler, in nats); the
    # certainty sizes it through the weights. Swiss rolls preferred tilt the pool by 0.1-0.2 nats (A's rolls without
    # its S curves), S curves by about 1.7. Unscaled (5 seeds, 256 noises), 5 rounds preferring rolls cost B clean
    # rolls (clean 0.83 after 3 rounds, 0.72 after 5); at 0.5 nats 0.88 / 0.88 and 0.95 / 0.89, S curves preferred
    # unchanged, and random ticks left B exactly A; at 0.3 nats 0.90 / 0.87 and 0.96 / 0.86, at 1 nat 0.86 / 0.88 and
    # 0.90 / 0.91 (the model A trained with AdamW, 16 clouds of 400 points a step, no hand-off). The label-free B's
    # steps were also scaled by min(1, certainty / 0.5) until the hand-off: with it, a session of Swiss rolls
    # preferred at the prior's certainty (0.18) and a tilt of 0.06 took a tenth of a step (0.914 rolls after 3
    # flipped rounds, median 0.914); by the tilt alone, as the gated B, 0.952 (whole_lr, above).
    tilt_nats: float = 0.2
    steps: int = 8
    # fresh clouds a step of the control "fine-tune, no preference" (PreferenceSession.finetune_fresh)
    batch_size: int = 16
    # reward-fm: pool clouds per step for a network without class heads, whose 8 steps bend the whole field. With 8,
    # B's moves varied from seed to seed and round to round (S curves preferred, 3 exact rounds: 0.90 / 0.88, one seed
    # 0.83 / 0.81); with 16, 0.98 / 0.92 after 3 rounds and 0.97 / 0.93 after 5 with a tenth of the ticks flipped
    # (0.82 / 0.87 with 8), random ticks still leaving B as A (5 seeds, 256 noises). With today's preference model
    # before the hand-off (5 seeds, 1024 noises, AMD EPYC, after 3 / 5 rounds), 28 clouds against 24 and 20: a tenth
    # of the ticks flipped, S curves 0.98 / 0.93 and 0.99 / 0.93 (0.96 / 0.92, 0.99 / 0.92; 0.925 / 0.90, 0.98 /
    # 0.90); Swiss rolls exact 0.96 / 0.91 and 0.98 / 0.91 (0.97 / 0.91, 0.98 / 0.88; 0.99 / 0.905, 0.99 / 0.877),
    # flipped 0.88 / 0.91 and 0.99 / 0.89 (0.90 / 0.91, 0.97 / 0.90; 0.90 / 0.91, 0.96 / 0.91); S curves exact 0.99 /
    # 0.92 and 0.99 / 0.905 (20: 0.96 / 0.90, 0.99 / 0.91); random ticks B = A (one seed 0.25 after 5 rounds, A 0.16).
    whole_pool_batch: int = 28
    # reward-fm: points of each pool cloud a step of a network without class heads reads (the same random subset of
    # every cloud of the step, its paired noise's points with it; A's training read 256-point subsets too). 20
    # clouds of 256 points against 16 of 400 (5 seeds, 1024 noises, 2-core AMD EPYC, after 3 / 5 rounds): S curves
    # preferred 0.99 / 0.92 and 1.00 / 0.92 (0.96 / 0.89, 1.00 / 0.91), flipped ticks 0.64 / 0.91 and 0.97 / 0.90
    # (0.61 / 0.89, 0.99 / 0.92), Swiss rolls preferred 0.90 / 0.92 and 0.93 / 0.91 (0.85 / 0.92, 0.90 / 0.92),
    # flipped 0.85 / 0.92 and 0.90 / 0.92 (0.84 / 0.92, 0.90 / 0.91), random ticks B = A either way; the update
    # 0.11 s instead of 0.135 s. 16 clouds of 256 points: 0.10 s, but flipped ticks 0.93 / 0.90 after 5 rounds. Since
    # the hand-off (A's late field draws the fine lines) a step reads fewer points: 64 against 256 (5 seeds, 1024
    # noises, AMD EPYC, a tenth of the ticks flipped, after 3 / 5 rounds): Swiss rolls preferred 0.958 / 0.906 and
    # 0.997 / 0.914 (0.952 / 0.900, 0.989 / 0.910), S curves 0.962 / 0.930 and 0.970 / 0.932 (0.97 / 0.92, 0.98 /
    # 0.92); the update 0.08 s instead of 0.17 s. 96 points: 0.965 / 0.914, 0.995 / 0.910 and 0.963 / 0.917, 0.978 /
    # 0.932; 32: S curves 0.927 after 3 rounds.
    whole_points: int = 64
    # reward-fm: noise clouds paired with each pool cloud once per session, a step draws one of them. With 1, B drew
    # 7 % of its clouds with a point outside [-1.1, 1.1]; with 4, 0.7 % (fresh noise at every step: 0 %)
    pool_noises: int = 4
    pool_size: int = 128
    # reward-fm: B's pool is weighted by softmax(strength * certainty * tick rate); a sure belief (certainty 1)
    # weighs a cloud rated 0.9 e^(14 * 0.8) times one rated 0.1
    strength: float = 14.0
    kernel_points: int = BeliefSettings.kernel_points
    # reward-fm's preference model (toyflow.preference.belief): kernel width in Chamfer units, pseudo-labels of the
    # prior, the chance that a tick is a slip, and the prior log odds that the ticks follow the clouds at all.
    # Half a pseudo-label and prior log odds of -1.5 (certainty 0.18 before any evidence) instead of one and -2 (0.12),
    # with both networks' steps scaled by the pool's tilt (reward-fm's step_scale): the annotator flipping a tenth of
    # its ticks moved B after 3 rounds to 0.84 / 0.90 S curves (gated model A; before 0.61 / 0.91) and 0.93 / 0.90
    # (label-free, 20 pool clouds a step; 0.75 / 0.92), with Swiss rolls preferred to 0.99 / 0.92 and 0.90 / 0.91 rolls
    # (0.92, 0.86); random ticks left B at 0.18 and 0.16 S curves (A 0.17, 0.16; every seed within 0.06); but the
    # label-free B with Swiss rolls preferred lost clean rolls after 5 exact rounds on 20 pool clouds a step (0.99 /
    # 0.88 against 0.98 / 0.90; whole_pool_batch); 5 seeds, 1024 noises, 2-core AMD EPYC. Half a pseudo-label lets a
    # tick speak sooner for the clouds like it: 3 rounds of random ticks earn a median -1.1 nats instead of -0.75, a
    # tenth of them flipped 0.8 instead of 0.9 (benchmarks/evidence.py, the label-free model A). At -1 (one
    # pseudo-label) random ticks moved the gated B to 0.35 S curves without the tilt in its step. Before (on an H200):
    # at -2 3 consistent rounds gave 0.98 / 0.87 S curves (gated / label-free model A), at -3 0.92 / 0.65. One
    # pseudo-label and a lapse of 0.02 instead of 2 and 0.05 (5 seeds, 256 noises): exact ticks earn a median 4.2 nats
    # in 3 rounds instead of 3.2, random ticks -0.8 instead of -0.3.
    belief_width: float = BeliefSettings.width  # the preference model's own defaults: one place for each
    prior_labels: float = BeliefSettings.prior_labels
    lapse: float = BeliefSettings.lapse
    prior_log_odds: float = BeliefSettings.prior_log_odds
    temperature: float = 0.05
    time_samples: int = 4
    fm_batch: int = 128
    restart: bool = True  # reward-fm's steps and dpo: every round starts again from A, with every tick so far

    def belief_settings(self) -> BeliefSettings:
        """The preference model's knobs among these settings (:class:`~toyflow.preference.belief.BeliefSettings`)."""
        return BeliefSettings(self.kernel_points, self.belief_width, self.prior_labels, self.lapse, self.prior_log_odds)
