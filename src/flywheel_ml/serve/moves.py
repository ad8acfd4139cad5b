"""Pure transitions of a deployment: each move is a function of the old state and its arguments.

Keeping them pure lets the store apply them inside its write transaction (and retry them) and
lets the tests check every rule without a database.
"""

from __future__ import annotations

import dataclasses
import math

from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.serve.entities import Deployment, parse_ref


def _same_model(state: Deployment | None, ref: str) -> str:
    name, _ = parse_ref(ref)
    if state is not None and name != state.model:
        raise InvalidInputError(
            f"{ref} is a version of {name!r}, not of the deployed model {state.model!r}",
            hint=f"use a reference of the form {state.model}@<version>",
        )
    return name


def _need(state: Deployment | None, model: str, verb: str) -> Deployment:
    if state is None:
        raise NotFoundError(
            f"model {model!r} is not deployed, so there is nothing to {verb}",
            hint=f"deploy a champion first: flywheel serve deploy {model}@<version>",
        )
    return state


def deploy(state: Deployment | None, ref: str) -> Deployment:
    """Make ``ref`` the champion; the old champion is remembered for ``rollback``.

    A canary or shadow equal to the new champion is dropped (it would compare it to itself).

    Raises:
        InvalidInputError: ``ref`` is malformed or names another model.
        ConflictError: ``ref`` is already the champion.
    """
    name = _same_model(state, ref)
    if state is None:
        return Deployment(model=name, champion=ref)
    if state.champion == ref:
        raise ConflictError(f"{ref} is already the champion", hint="deploy another version")
    canary = None if state.canary == ref else state.canary
    return dataclasses.replace(
        state,
        champion=ref,
        canary=canary,
        canary_percent=state.canary_percent if canary else 0.0,
        shadow=None if state.shadow == ref else state.shadow,
        earlier_champions=(*state.earlier_champions, state.champion),
    )


def canary(state: Deployment | None, ref: str, *, percent: float) -> Deployment:
    """Route ``percent`` percent of traffic to ``ref`` (replacing any earlier canary).

    Raises:
        NotFoundError: the model has no champion yet.
        InvalidInputError: ``percent`` is not in (0, 100), or ``ref`` names another model.
        ConflictError: ``ref`` is the champion.
    """
    name = _same_model(state, ref)
    current = _need(state, name, "canary against")
    if not (math.isfinite(percent) and 0 < percent < 100):
        raise InvalidInputError(
            f"canary percent must be between 0 and 100 (exclusive), not {percent:g}",
            hint="e.g. --percent 10; use `promote` to send all traffic to it",
        )
    if ref == current.champion:
        raise ConflictError(f"{ref} is the champion already", hint="canary another version")
    return dataclasses.replace(current, canary=ref, canary_percent=float(percent))


def shadow(state: Deployment | None, ref: str | None) -> Deployment:
    """Let ``ref`` see a copy of every request (``None`` stops the shadow).

    Raises:
        NotFoundError: the model has no champion yet.
        ConflictError: ``ref`` is the champion, or there is no shadow to stop.
    """
    if ref is None:
        if state is None or state.shadow is None:
            raise ConflictError("there is no shadow to stop", hint="see `flywheel serve status`")
        return dataclasses.replace(state, shadow=None)
    name = _same_model(state, ref)
    current = _need(state, name, "shadow")
    if ref == current.champion:
        raise ConflictError(f"{ref} is the champion already", hint="shadow another version")
    return dataclasses.replace(current, shadow=ref)


def promote(state: Deployment | None, model: str) -> Deployment:
    """Make the canary (or, without one, the shadow) the champion for all traffic.

    Raises:
        NotFoundError: the model is not deployed.
        ConflictError: there is neither a canary nor a shadow to promote.
    """
    current = _need(state, model, "promote")
    target = current.canary or current.shadow
    if target is None:
        raise ConflictError(
            f"{model} has no canary or shadow to promote",
            hint=f"start one: flywheel serve canary {model}@<version> --percent 10",
        )
    return dataclasses.replace(
        current,
        champion=target,
        canary=None,
        canary_percent=0.0,
        shadow=None if current.shadow == target else current.shadow,
        earlier_champions=(*current.earlier_champions, current.champion),
    )


def rollback(state: Deployment | None, model: str) -> Deployment:
    """Undo the last step: drop the canary if there is one, else return to the last champion.

    Raises:
        NotFoundError: the model is not deployed.
        ConflictError: there is no canary and no earlier champion.
    """
    current = _need(state, model, "roll back")
    if current.canary is not None:
        return dataclasses.replace(current, canary=None, canary_percent=0.0)
    if not current.earlier_champions:
        raise ConflictError(
            f"{current.champion} is the first champion of {model}; there is nothing to go back to",
            hint="deploy another version instead",
        )
    previous = current.earlier_champions[-1]
    return dataclasses.replace(
        current,
        champion=previous,
        shadow=None if current.shadow == previous else current.shadow,
        earlier_champions=current.earlier_champions[:-1],
    )


def removed_refs(before: Deployment | None, after: Deployment) -> tuple[str, ...]:
    """The references live before a move and not after it (no response may come from them)."""
    if before is None:
        return ()
    return tuple(r for r in before.live_refs if r not in after.live_refs)
