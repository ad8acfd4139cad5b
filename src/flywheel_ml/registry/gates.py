"""Release gates beyond the project constraints: no regression and behavioural cases.

Both are pure judgements: they take measured numbers (and, for a case, the model's answers) and
return one :class:`GateResult` per check, so an evaluation reports each one by name.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel_ml.core.digests import Digest
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.plan.entities import Objective
from flywheel_ml.registry.entities import BehaviourCase, Evaluation, GateResult

if TYPE_CHECKING:
    import pandas as pd

REJECT = "reject"
"""The expectation that the model abstains: its top probability stays below the threshold."""


def no_regression(
    objective: Objective | None,
    metrics: Mapping[str, float],
    slices: Mapping[str, Mapping[str, float]],
    *,
    champion: Evaluation | None,
    tolerance: float,
    dataset: str = "",
) -> list[GateResult]:
    """Whether the candidate is no worse than the champion on the objective, overall and per slice.

    A drop larger than ``tolerance`` (in the metric's units, e.g. 0.01 accuracy) fails. Slices
    measured for only one of the two are skipped: there is nothing to compare. When the
    champion was measured on another dataset version than ``dataset``, the detail says so.

    >>> from flywheel_ml.plan import parse_objective
    >>> no_regression(parse_objective("accuracy max"), {"accuracy": 0.9}, {},
    ...               champion=None, tolerance=0.0)[0].passed
    True
    """
    if objective is None:
        return [GateResult("no_regression", "all", True, "the project page has no objective")]
    if champion is None:
        return [GateResult("no_regression", "all", True, "no champion to compare with")]
    pairs: list[tuple[str, Mapping[str, float], Mapping[str, float]]] = [
        ("all", metrics, champion.metrics)
    ]
    pairs += [(n, m, champion.slices[n]) for n, m in sorted(slices.items()) if n in champion.slices]
    results = []
    for name, mine, theirs in pairs:
        now, before = mine.get(objective.metric), theirs.get(objective.metric)
        if now is None or before is None or np.isnan(now) or np.isnan(before):
            continue
        drop = before - now if objective.direction == "max" else now - before
        passed = drop <= tolerance
        detail = (
            f"{objective.metric} {now:.4g} vs champion {champion.ref} {before:.4g} "
            f"({'-' if drop > 0 else '+'}{abs(drop):.4g}, tolerance {tolerance:g})"
        )
        if dataset and champion.dataset != dataset:
            detail += f"; champion measured on {champion.dataset}, this on {dataset}"
        results.append(
            GateResult(
                "no_regression",
                name,
                passed,
                detail,
                score=now,
                threshold=before - tolerance
                if objective.direction == "max"
                else before + tolerance,
            )
        )
    return results or [GateResult("no_regression", "all", True, "no comparable measurement")]


def judge_case(
    case: BehaviourCase,
    predicted: np.ndarray[Any, Any],
    top_probability: np.ndarray[Any, Any] | None,
    *,
    confidence: float,
) -> GateResult:
    """Score one behavioural case from the model's answers on its items.

    Args:
        case: the case.
        predicted: the predicted label of each item.
        top_probability: each item's highest class probability (None for models without).
        confidence: the threshold below which the model counts as abstaining.
    """
    if len(predicted) == 0:
        return GateResult("behaviour", case.name, False, "the case has no items")
    if case.expect == REJECT:
        if top_probability is None:
            return GateResult(
                "behaviour", case.name, False, "the model gives no probabilities to abstain with"
            )
        hits = top_probability < confidence
        what = f"rejected (top probability < {confidence:g})"
    else:
        hits = np.asarray([str(p) == case.expect for p in predicted.tolist()])
        what = f"predicted {case.expect!r}"
    score = float(hits.mean())
    passed = score >= case.min_score
    detail = f"{int(hits.sum())}/{len(hits)} {what}; needs >= {case.min_score:.0%}"
    return GateResult("behaviour", case.name, passed, detail, score=score, threshold=case.min_score)


def new_case(
    model: str,
    name: str,
    rows: pd.DataFrame,
    *,
    expect: str,
    min_score: float,
    description: str,
    put_bytes: Callable[[bytes], Digest],
    actor: str,
    at: datetime,
) -> BehaviourCase:
    """A behavioural case whose items are kept (as Parquet) with ``put_bytes``.

    Raises:
        InvalidInputError: no items, or ``min_score`` outside 0..1.
    """
    if len(rows) == 0:
        raise InvalidInputError(f"case {name!r} has no items", hint="give at least one row")
    if not 0.0 <= min_score <= 1.0:
        raise InvalidInputError(f"min_score must be in 0..1, not {min_score}", hint="e.g. 0.9")
    buffer = io.BytesIO()
    rows.reset_index(drop=True).to_parquet(buffer, index=False)
    return BehaviourCase(
        model=model,
        name=name,
        rows_digest=put_bytes(buffer.getvalue()),
        rows=len(rows),
        expect=str(expect),
        min_score=float(min_score),
        description=description.strip(),
        created_by=actor,
        created_at=at,
    )


def read_case_rows(data: bytes) -> pd.DataFrame:
    """The items of a case from their stored bytes."""
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data))
