"""Deployment moves: deploy, canary, shadow, promote, rollback and what each refuses."""

from __future__ import annotations

import pytest

from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.serve import moves
from flywheel_ml.serve.entities import Deployment, parse_ref


def test_parse_ref_splits_name_and_version_and_refuses_garbage() -> None:
    assert parse_ref("digits-clf@v3") == ("digits-clf", "v3")
    for bad in ("digits", "@v1", "a@", "a b@v1", "x@v1@v2"):
        with pytest.raises(InvalidInputError):
            parse_ref(bad)


def test_deploy_then_deploy_keeps_the_old_champion_for_rollback() -> None:
    state = moves.deploy(None, "m@v1")
    state = moves.deploy(state, "m@v2")
    assert state.champion == "m@v2"
    assert state.earlier_champions == ("m@v1",)
    back = moves.rollback(state, "m")
    assert back.champion == "m@v1"
    assert back.earlier_champions == ()
    with pytest.raises(ConflictError):
        moves.rollback(back, "m")


def test_rollback_drops_the_canary_first_and_keeps_the_champion() -> None:
    state = moves.canary(moves.deploy(None, "m@v1"), "m@v2", percent=10)
    back = moves.rollback(state, "m")
    assert (back.champion, back.canary, back.canary_percent) == ("m@v1", None, 0.0)
    assert "m@v2" not in back.live_refs
    assert moves.removed_refs(state, back) == ("m@v2",)


def test_promote_makes_the_canary_champion_and_rollback_returns() -> None:
    state = moves.canary(moves.deploy(None, "m@v1"), "m@v2", percent=25)
    promoted = moves.promote(state, "m")
    assert (promoted.champion, promoted.canary) == ("m@v2", None)
    assert moves.rollback(promoted, "m").champion == "m@v1"


def test_promote_takes_the_shadow_when_there_is_no_canary() -> None:
    state = moves.shadow(moves.deploy(None, "m@v1"), "m@v3")
    promoted = moves.promote(state, "m")
    assert (promoted.champion, promoted.shadow) == ("m@v3", None)
    with pytest.raises(ConflictError):
        moves.promote(promoted, "m")


def test_moves_refuse_what_makes_no_sense() -> None:
    state = moves.deploy(None, "m@v1")
    with pytest.raises(NotFoundError):
        moves.canary(None, "m@v2", percent=10)
    with pytest.raises(NotFoundError):
        moves.rollback(None, "m")
    with pytest.raises(InvalidInputError):
        moves.canary(state, "other@v2", percent=10)
    for percent in (0, 100, -5, float("nan")):
        with pytest.raises(InvalidInputError):
            moves.canary(state, "m@v2", percent=percent)
    with pytest.raises(ConflictError):
        moves.canary(state, "m@v1", percent=10)
    with pytest.raises(ConflictError):
        moves.deploy(state, "m@v1")
    with pytest.raises(ConflictError):
        moves.shadow(state, None)


def test_deploying_the_canary_version_drops_the_canary() -> None:
    state = moves.canary(moves.deploy(None, "m@v1"), "m@v2", percent=10)
    deployed = moves.deploy(state, "m@v2")
    assert deployed == Deployment(model="m", champion="m@v2", earlier_champions=("m@v1",))
