"""Independent random streams: one seed per purpose and number, derived from a session's seed.

A session draws proposals, updates, fresh samples and annotator flips from separate streams, so that what one
purpose draws never shifts another: the same seed gives the same proposals whatever the method, and the update of
round ``r`` draws the same numbers whatever came before it (so a round can be replayed exactly).
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, purpose: str, *numbers: int) -> int:
    """A 63-bit seed for ``purpose`` (e.g. ``"proposal"``) and ``numbers`` (e.g. the round), fixed by ``seed``.

    Distinct purposes or numbers give unrelated seeds (a hash, not an offset: ``seed + 1`` of one purpose never
    collides with ``seed`` of another).
    """
    key = ":".join([str(int(seed)), purpose, *(str(int(n)) for n in numbers)])
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") >> 1


def stream(seed: int, purpose: str, *numbers: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`derive_seed` of the same arguments."""
    return torch.Generator().manual_seed(derive_seed(seed, purpose, *numbers))
