"""The pure gate judgements: no regression and behavioural cases."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.plan import parse_objective
from flywheel_ml.registry import BehaviourCase, Evaluation, judge_case, no_regression

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _champion(accuracy: float, slices: dict[str, float]) -> Evaluation:
    return Evaluation(
        id="e" * 32, name="m", version=1, dataset="d@v1", purpose="p", rows=10,
        metrics={"accuracy": accuracy}, slices={k: {"accuracy": v} for k, v in slices.items()},
        test_sets={}, constraints=(), gates=(), objective="accuracy", objective_value=accuracy,
        confidence=0.5, actor="a", at=T0,
    )  # fmt: skip


def _case(expect: str, min_score: float) -> BehaviourCase:
    return BehaviourCase(
        model="m", name="c", rows_digest=digest_bytes(b""), rows=4, expect=expect,
        min_score=min_score, description="", created_by="a", created_at=T0,
    )  # fmt: skip


def test_no_champion_passes() -> None:
    [result] = no_regression(
        parse_objective("accuracy max"), {"accuracy": 0.5}, {}, champion=None, tolerance=0
    )
    assert result.passed and "no champion" in result.detail


def test_a_drop_beyond_tolerance_fails_overall_and_per_slice() -> None:
    champion = _champion(0.95, {"night": 0.90, "day": 0.96, "gone": 0.9})
    results = no_regression(
        parse_objective("accuracy max"),
        {"accuracy": 0.945},
        {"night": {"accuracy": 0.80}, "day": {"accuracy": 0.97}, "new": {"accuracy": 0.1}},
        champion=champion,
        tolerance=0.01,
    )
    verdicts = {r.name: r.passed for r in results}
    assert verdicts == {"all": True, "day": True, "night": False}
    night = next(r for r in results if r.name == "night")
    assert night.score == 0.80 and "-0.1" in night.detail


def test_lower_is_better_objectives_regress_upwards() -> None:
    champion = _champion(0.0, {})
    champion = Evaluation(**{**{f: getattr(champion, f) for f in Evaluation.__dataclass_fields__},
                             "metrics": {"log_loss": 0.20}})  # fmt: skip
    [worse] = no_regression(
        parse_objective("log_loss min"), {"log_loss": 0.25}, {}, champion=champion, tolerance=0.01
    )
    [better] = no_regression(
        parse_objective("log_loss min"), {"log_loss": 0.15}, {}, champion=champion, tolerance=0
    )
    assert not worse.passed and better.passed


def test_reject_cases_count_abstentions() -> None:
    result = judge_case(
        _case("reject", 0.75),
        np.array([1, 2, 3, 4]),
        np.array([0.2, 0.3, 0.9, 0.4]),
        confidence=0.5,
    )
    assert result.score == 0.75 and result.passed and "3/4 rejected" in result.detail
    no_proba = judge_case(_case("reject", 0.5), np.array([1]), None, confidence=0.5)
    assert not no_proba.passed


def test_label_cases_compare_as_text() -> None:
    result = judge_case(_case("7", 1.0), np.array([7, 7, 1, 7]), None, confidence=0.5)
    assert result.score == 0.75 and not result.passed
