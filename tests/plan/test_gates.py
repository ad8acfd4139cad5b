"""``satisfies`` and ``rank_key``: the pure judgements later stages build leaderboards on."""

from __future__ import annotations

import math

from flywheel_ml.plan import ProjectPage, rank_key, satisfies
from flywheel_ml.plan.grammar import parse_constraint, parse_objective

PAGE = ProjectPage(
    objective=parse_objective("accuracy max"),
    constraints=(parse_constraint("latency_p95_ms < 10"), parse_constraint("model_mb <= 50")),
)


def test_all_constraints_met_passes() -> None:
    verdict = satisfies(PAGE, {"accuracy": 0.97, "latency_p95_ms": 4.0, "model_mb": 50.0})
    assert verdict.passed
    assert verdict.failed == ()
    assert verdict.unmeasured == ()
    assert verdict.objective_value == 0.97
    assert [c.passed for c in verdict.checks] == [True, True]


def test_a_violated_constraint_fails() -> None:
    verdict = satisfies(PAGE, {"accuracy": 0.99, "latency_p95_ms": 10.0, "model_mb": 1.0})
    assert not verdict.passed
    assert [c.constraint.metric for c in verdict.failed] == ["latency_p95_ms"]
    assert verdict.failed[0].measured == 10.0


def test_unmeasured_constraint_is_not_passed() -> None:
    verdict = satisfies(PAGE, {"accuracy": 0.99, "model_mb": 1.0})
    assert not verdict.passed
    assert verdict.failed == ()
    assert [c.metric for c in verdict.unmeasured] == ["latency_p95_ms"]


def test_nan_counts_as_unmeasured() -> None:
    verdict = satisfies(PAGE, {"accuracy": math.nan, "latency_p95_ms": math.nan, "model_mb": 1.0})
    assert verdict.objective_value is None
    assert [c.metric for c in verdict.unmeasured] == ["latency_p95_ms"]
    assert not verdict.passed


def test_integer_metrics_are_accepted() -> None:
    verdict = satisfies(PAGE, {"accuracy": 1, "latency_p95_ms": 3, "model_mb": 2})
    assert verdict.passed
    assert verdict.objective_value == 1.0


def test_page_without_constraints_passes_vacuously() -> None:
    page = ProjectPage(objective=parse_objective("log_loss"))
    verdict = satisfies(page, {"log_loss": 0.2})
    assert verdict.passed
    assert verdict.objective_value == 0.2


def test_page_without_objective() -> None:
    verdict = satisfies(ProjectPage(), {"accuracy": 0.5})
    assert verdict.objective is None
    assert verdict.objective_value is None


def test_rank_key_orders_passing_first_then_best_objective() -> None:
    objective = parse_objective("accuracy max")
    entries = {
        "fails_but_best": {"accuracy": 0.99, "latency_p95_ms": 50.0, "model_mb": 1.0},
        "passes_low": {"accuracy": 0.90, "latency_p95_ms": 1.0, "model_mb": 1.0},
        "passes_high": {"accuracy": 0.95, "latency_p95_ms": 1.0, "model_mb": 1.0},
        "no_objective": {"latency_p95_ms": 1.0, "model_mb": 1.0},
        "unmeasured": {"accuracy": 0.98},
    }
    ranked = sorted(entries, key=lambda k: rank_key(objective, satisfies(PAGE, entries[k])))
    assert ranked == ["passes_high", "passes_low", "fails_but_best", "unmeasured", "no_objective"]


def test_rank_key_for_a_min_objective() -> None:
    page = ProjectPage(objective=parse_objective("log_loss min"))
    objective = parse_objective("log_loss min")
    low = rank_key(objective, satisfies(page, {"log_loss": 0.1}))
    high = rank_key(objective, satisfies(page, {"log_loss": 0.9}))
    assert low < high
