"""The alias gate: which version may carry an alias, and the error when one may not.

An alias (``champion``, ``candidate``, ...) is a movable name for a version. Moving one onto a
version whose latest evaluation failed a constraint or a gate is refused; ``champion`` also
needs an evaluation to exist. ``override=True`` with a stated reason lets a move through, and
the history keeps the override and the reason.
"""

from __future__ import annotations

from flywheel_ml.errors import ConstraintViolationError, InvalidInputError
from flywheel_ml.registry.entities import Evaluation, ModelVersion

NEEDS_EVALUATION = frozenset({"champion", "production"})
"""Aliases that may only point at a version proven on the sealed test set."""


def refusal(alias: str, version: ModelVersion, evaluation: Evaluation | None) -> str | None:
    """Why ``alias`` may not point at ``version`` (None when it may).

    Args:
        alias: the alias to move.
        version: the version it would point at.
        evaluation: the version's newest evaluation, or None.
    """
    if evaluation is None:
        if alias in NEEDS_EVALUATION:
            return f"{version.ref} was never evaluated on the sealed test set"
        return None
    if not evaluation.passed:
        return f"{version.ref}'s evaluation of {evaluation.at:%Y-%m-%d %H:%M} failed: " + ", ".join(
            evaluation.failed
        )
    return None


def check_move(
    alias: str,
    version: ModelVersion,
    evaluation: Evaluation | None,
    *,
    override: bool,
    reason: str,
) -> None:
    """Raise unless ``alias`` may point at ``version`` (or the move is a stated override).

    Raises:
        ConstraintViolationError: the gate refuses and there is no override.
        InvalidInputError: an override without a reason.
    """
    if override and not reason.strip():
        raise InvalidInputError(
            "an override needs a reason", hint='add --reason "why this version ships anyway"'
        )
    if version.deleted:
        raise ConstraintViolationError(
            f"{version.ref} is deleted", hint="point the alias at a version that is not deleted"
        )
    why = refusal(alias, version, evaluation)
    if why is not None and not override:
        raise ConstraintViolationError(
            f"cannot point {version.name}@{alias} at v{version.version}: {why}",
            hint=f"run `flywheel registry evaluate {version.ref}` on a version that passes, or "
            'pass --override --reason "..." to ship it anyway (the override is recorded)',
        )
