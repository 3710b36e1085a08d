"""toyflow.preference.a_cache: sessions on the same model A and seed draw A's pool (and its clouds of the held-out
noises) once, and only while A is unchanged."""

from __future__ import annotations

import gc
import weakref

import torch
from conftest import FAST, SMALL, make_flow

from toyflow.data import draw_noise
from toyflow.preference import HeldOut, PreferenceSession, a_cache
from toyflow.preference.heldout import HELD_OUT_SEED


def session_on(model_a, seed: int = 0, method: str = "reward-fm") -> PreferenceSession:
    return PreferenceSession(model_a, seed=seed, sampler_steps=4, settings=FAST, method=method)


def test_sessions_on_the_same_a_and_seed_share_the_pool_its_pairs_and_classes():
    model_a = make_flow(SMALL, seed=5)
    first, second = session_on(model_a), session_on(model_a, method="dpo")
    assert second.pool() is first.pool(), "drawn once"
    assert second.bench.pool_pairs() is first.bench.pool_pairs()
    assert second.bench.pool_classes() is first.bench.pool_classes()
    other_seed = session_on(model_a, seed=1).pool()
    assert other_seed is not first.pool() and not torch.equal(other_seed.samples, first.pool().samples)


def test_the_shared_pool_is_what_a_session_draws_alone():
    model_a = make_flow(SMALL, seed=6)
    shared = session_on(model_a).pool()
    a_cache.forget(model_a)
    alone = session_on(model_a).pool()
    assert alone is not shared and torch.equal(alone.samples, shared.samples) and torch.equal(alone.noise, shared.noise)


def test_a_model_changed_in_place_draws_its_pool_again():
    model_a = make_flow(SMALL, seed=7)
    before = session_on(model_a).pool()
    with torch.no_grad():
        next(model_a.parameters()).add_(0.5)
    after = session_on(model_a).pool()
    assert after is not before and not torch.equal(after.samples, before.samples)


def test_what_is_kept_goes_with_the_model():
    model_a = make_flow(SMALL, seed=8)
    session_on(model_a).pool()
    assert model_a in a_cache._STORE
    alive = weakref.ref(model_a)
    del model_a
    gc.collect()
    assert alive() is None, "the store does not keep model A alive (its entries go with it)"


def test_held_out_clouds_of_a_are_drawn_once_for_the_sessions_on_it():
    model_a = make_flow(SMALL, seed=9)
    first, second = session_on(model_a), session_on(model_a, seed=3)
    reading = HeldOut(first, 6).reading(first.a)
    assert HeldOut(second, 6).reading(second.a) is reading, "A's clouds do not depend on the session's seed"
    assert HeldOut(second, 7).reading(second.a) is not reading
    assert torch.equal(reading.clouds, first.sampler.sample(model_a, draw_noise(6, seed=HELD_OUT_SEED)))
