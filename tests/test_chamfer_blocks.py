"""Chamfer distances measured in parts: the nearest distances of a few clouds at a time, joined, give
``pairwise_chamfer``'s values to the bit; a session measures each pair of blocks of clouds (A's pool, a labelled
proposal) once."""

from __future__ import annotations

import pytest
import torch
from conftest import FAST, TINY, make_flow

from toyflow.judge import NearestDistances, pairwise_chamfer
from toyflow.preference import Answer, PreferenceSession, play_round
from toyflow.preference.belief import fit_belief
from toyflow.preference.chamfer_blocks import ChamferBlocks


def clouds(n: int, points: int, seed: int) -> torch.Tensor:
    return torch.randn(n, points, 2, generator=torch.Generator().manual_seed(seed))


def test_two_points_at_known_distances():
    a = torch.tensor([[[0.0, 0.0], [3.0, 0.0]]])
    b = torch.tensor([[[0.0, 4.0]]])
    # a's points to b's: 4 and 5 (mean 4.5); b's point to a's nearest: 4; Chamfer (4.5 + 4) / 2
    assert pairwise_chamfer(a, b).tolist() == [[4.25]]
    parts = NearestDistances.of(a, b)
    assert parts.a_to_b.tolist() == [[[4.0], [5.0]]] and parts.b_to_a.tolist() == [[4.0]]
    assert parts.chamfer(q=1).tolist() == [[4.25]]


@pytest.mark.parametrize("max_elements", [1 << 20, 3000])  # all rows at once, and a few at a time
def test_parts_joined_are_the_whole_to_the_bit(max_elements):
    a = clouds(37, 64, 0)
    blocks = [clouds(4, 64, 1 + i) for i in range(5)]
    whole = pairwise_chamfer(a, torch.cat(blocks), max_elements)
    for k in range(1, 6):
        joined = NearestDistances.joined([NearestDistances.of(a, b, max_elements) for b in blocks[:k]])
        assert torch.equal(joined.chamfer(64, max_elements), pairwise_chamfer(a, torch.cat(blocks[:k]), max_elements))
    assert torch.equal(NearestDistances.of(a, torch.cat(blocks), max_elements).chamfer(64, max_elements), whole)


def first(blocks: list[torch.Tensor], k: int = 64) -> torch.Tensor:
    return torch.cat([c[:, :k] for c in blocks])


def test_each_pair_of_blocks_is_measured_once(monkeypatch):
    pool = clouds(50, 400, 0)
    proposals = [clouds(4, 400, 1 + i) for i in range(4)]
    measured: list[tuple[int, int]] = []
    original = NearestDistances.of
    monkeypatch.setattr(NearestDistances, "of", lambda a, b: measured.append((len(a), len(b))) or original(a, b))
    from_pool, labelled = ChamferBlocks(64), ChamferBlocks(64)
    for k in range(1, 5):
        got = from_pool.between([pool], proposals[:k])
        assert torch.equal(got, pairwise_chamfer(pool[:, :64], first(proposals[:k]))) and got.shape == (50, 4 * k)
        square = labelled.between(proposals[:k], proposals[:k])
        assert torch.equal(square, pairwise_chamfer(first(proposals[:k]), first(proposals[:k])))
    assert measured.count((50, 4)) == 4, "the pool against each proposal once"
    assert [m for m in measured if m != (50, 4)] == [(4, 4)] * 16, "each pair of proposals once"
    # an undone round asks for fewer; views of the same memory (detach()-ed) are the same blocks
    assert torch.equal(from_pool.between([pool], [p.detach() for p in proposals[1:3]]), got[:, 4:12])
    assert len(measured) == 20
    with pytest.raises(ValueError, match="on both sides"):
        from_pool.between([pool], [])


def test_a_round_reads_the_distances_measured_while_its_proposal_was_shown(monkeypatch):
    measured: list[int] = []
    original = NearestDistances.of
    monkeypatch.setattr(NearestDistances, "of", lambda a, b: measured.append(len(b)) or original(a, b))
    sessions = [PreferenceSession(make_flow(TINY, seed=3), seed=0, sampler_steps=4, settings=FAST) for _ in range(2)]
    for ticks in ([0], [1, 2], [3]):
        for ahead, session in enumerate(sessions):
            proposal = session.propose(4)
            if ahead:
                session.look_ahead(proposal)
                before = len(measured)
            play_round(session, Answer(ticks=ticks), proposal)
            if ahead:
                assert len(measured) == before, "nothing measured in the round"
    assert torch.equal(sessions[0].bench.pool_distances(), sessions[1].bench.pool_distances())
    assert sessions[0].belief().evidence == sessions[1].belief().evidence
    assert all(torch.equal(a, b) for a, b in zip(sessions[0].b.parameters(), sessions[1].b.parameters(), strict=True))


def test_rates_read_given_distances_of_the_right_shape_only():
    labelled = [(clouds(4, 400, 1), torch.tensor([1.0, 0.0, 0.0, 0.0]))]
    belief = fit_belief(labelled)
    pool = clouds(10, 400, 2)
    assert torch.equal(belief.rates(pool, belief.distances(pool)).mean, belief.rates(pool).mean)
    with pytest.raises(ValueError, match=r"distances must be \(10, 4\)"):
        belief.rates(pool, torch.zeros(10, 3))
    measured = pairwise_chamfer(labelled[0][0][:, :64], labelled[0][0][:, :64])
    given = fit_belief(labelled, distances=measured)
    assert (given.evidence, given.certainty, given.tick_rate) == (belief.evidence, belief.certainty, belief.tick_rate)
    with pytest.raises(ValueError, match=r"distances must be \(4, 4\)"):
        fit_belief(labelled, distances=torch.zeros(3, 3))


def test_a_session_s_pool_distances_are_its_belief_s():
    session = PreferenceSession(make_flow(TINY, seed=3), seed=0, sampler_steps=4, settings=FAST)
    for ticks in ([0], [1, 2], [3]):
        play_round(session, Answer(ticks=ticks), session.propose(4))
    bench = session.bench
    pool = bench.pool().samples
    belief = bench.belief()
    assert torch.equal(bench.pool_distances(), belief.distances(pool))
    measured = fit_belief([(item.samples, item.labels) for item in bench.buffer], bench.settings.belief_settings())
    assert belief.evidence == measured.evidence and torch.equal(belief.clouds, measured.clouds)


def test_what_no_round_asks_for_is_forgotten():
    pool = clouds(20, 400, 0)
    labelled = [clouds(4, 400, 1)]
    blocks = ChamferBlocks(16)
    for seed in range(2, 12):  # proposals shown and measured ahead, never answered
        proposal = clouds(4, 400, seed)
        blocks.ahead([pool], [proposal], proposal)
    shown = clouds(4, 400, 99)
    blocks.ahead([pool], [shown], shown)
    blocks.between([pool], labelled)
    assert len(blocks._kept) == 2, "the pairs asked for, and those measured ahead of the proposal shown"
    blocks.between([pool], [*labelled, shown])  # answered: read, not measured again
    assert len(blocks._kept) == 2
