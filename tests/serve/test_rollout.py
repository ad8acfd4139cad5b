"""Routing is a pure function: canary share, stickiness, shadows, baselines."""

from __future__ import annotations

import dataclasses
import random

from flywheel_ml.serve.entities import Deployment
from flywheel_ml.serve.rollout import bucket, route

STATE = Deployment(model="digits", champion="digits@v1", canary="digits@v2", canary_percent=10.0)


def test_ten_percent_canary_over_ten_thousand_keys_is_within_two_points() -> None:
    picks = [route(STATE, f"user-{i}", rand=0.99).primary_ref for i in range(10_000)]
    share = picks.count("digits@v2") / len(picks)
    assert 0.08 <= share <= 0.12


def test_ten_percent_canary_without_keys_is_within_two_points() -> None:
    rng = random.Random(7)
    picks = [route(STATE, None, rand=rng.random()).primary_ref for _ in range(10_000)]
    assert 0.08 <= picks.count("digits@v2") / len(picks) <= 0.12


def test_sticky_keys_never_switch_version() -> None:
    rng = random.Random(1)
    first = {f"k{i}": route(STATE, f"k{i}", rand=rng.random()).primary_ref for i in range(2000)}
    for _ in range(5):
        for key, ref in first.items():
            assert route(STATE, key, rand=rng.random()).primary_ref == ref


def test_raising_the_percent_only_moves_keys_from_champion_to_canary() -> None:
    wider = dataclasses.replace(STATE, canary_percent=30.0)
    for i in range(5000):
        before = route(STATE, f"k{i}", rand=0.5).primary_ref
        after = route(wider, f"k{i}", rand=0.5).primary_ref
        if before == "digits@v2":
            assert after == "digits@v2"


def test_bucket_is_stable_and_uniform_in_unit_interval() -> None:
    values = [bucket("digits", f"k{i}") for i in range(10_000)]
    assert values == [bucket("digits", f"k{i}") for i in range(10_000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert 0.45 < sum(values) / len(values) < 0.55


def test_shadow_gets_every_request_and_canary_answers_name_the_champion_as_baseline() -> None:
    state = dataclasses.replace(STATE, shadow="digits@v3")
    routes = [route(state, f"u{i}", rand=0.0) for i in range(1000)]
    assert all(r.shadow_ref == "digits@v3" for r in routes)
    for r in routes:
        expected = "digits@v1" if r.primary_ref == "digits@v2" else None
        assert r.baseline_ref == expected


def test_without_a_canary_everything_goes_to_the_champion() -> None:
    state = Deployment(model="digits", champion="digits@v1")
    assert {route(state, f"u{i}", rand=0.0).primary_ref for i in range(100)} == {"digits@v1"}
