"""The registry stage's evidence for ``flywheel status``: versions and gated evaluations."""

from __future__ import annotations

from collections.abc import Sequence

from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.registry.entities import Evaluation, ModelVersion


def registry_deliverables(
    versions: Sequence[ModelVersion],
    evaluations: Sequence[Evaluation],
    *,
    champions: Sequence[str],
    test_reads: int,
) -> tuple[Deliverable, ...]:
    """The two deliverables: model versions, and a gated sealed-test evaluation.

    Args:
        versions: the live (not deleted) versions.
        evaluations: every evaluation, oldest first.
        champions: the references the ``champion`` aliases point at.
        test_reads: how many audited reads of sealed test labels exist.
    """
    if not versions:
        return (
            Deliverable(
                "model versions", False, next_step="flywheel registry register RUN --name NAME"
            ),
            Deliverable(
                "gated test evaluation", False, next_step="flywheel registry evaluate NAME@v1"
            ),
        )
    names = sorted({v.name for v in versions})
    found = Deliverable(
        "model versions", True, evidence=f"{len(versions)} version(s) of {', '.join(names)}"
    )
    if not evaluations:
        return (
            found,
            Deliverable(
                "gated test evaluation",
                False,
                next_step=f"flywheel registry evaluate {versions[-1].ref}",
            ),
        )
    last = evaluations[-1]
    evidence = (
        f"{len(evaluations)} evaluation(s), {test_reads} audited test read(s); latest "
        f"{last.ref} {'passed' if last.passed else 'failed'} {last.at:%Y-%m-%d %H:%M}"
    )
    if champions:
        evidence += f"; champion {', '.join(champions)}"
    return (found, Deliverable("gated test evaluation", True, evidence=evidence))
