"""toyflow.seeds: one seed per purpose and number, fixed by the session's seed, unrelated across purposes."""

from __future__ import annotations

import torch

from toyflow.seeds import derive_seed, stream


def test_derived_seeds_are_fixed_and_distinct():
    assert derive_seed(0, "proposal", 1) == derive_seed(0, "proposal", 1)
    seeds = {derive_seed(s, p, r) for s in range(3) for p in ("proposal", "update", "fresh") for r in range(1, 4)}
    assert len(seeds) == 27
    # not an offset: (seed 1, round 1) is not (seed 0, round 2), and no purpose shares another's seeds
    assert derive_seed(1, "update", 1) != derive_seed(0, "update", 2)
    assert all(0 <= s < 2**63 for s in seeds)


def test_stream_is_a_generator_of_the_derived_seed():
    a, b = stream(5, "flips", 2), stream(5, "flips", 2)
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    assert a.initial_seed() == derive_seed(5, "flips", 2)
    assert not torch.equal(
        torch.rand(4, generator=stream(5, "flips", 3)), torch.rand(4, generator=stream(5, "flips", 2))
    )
