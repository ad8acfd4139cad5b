"""The constraint and objective grammar of the project page."""

from __future__ import annotations

import math

import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.plan import KNOWN_METRICS, Constraint, Objective, direction_of
from flywheel_ml.plan.grammar import parse_constraint, parse_objective


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "=="])
def test_every_operator_parses(op: str) -> None:
    assert parse_constraint(f"latency_p95_ms {op} 10") == Constraint("latency_p95_ms", op, 10.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model_mb<50", Constraint("model_mb", "<", 50.0)),
        ("  coverage >=0.9  ", Constraint("coverage", ">=", 0.9)),
        ("accuracy == 1e-1", Constraint("accuracy", "==", 0.1)),
        ("log_loss <= -0.5", Constraint("log_loss", "<=", -0.5)),
        ("throughput_rps > 1000", Constraint("throughput_rps", ">", 1000.0)),
    ],
)
def test_spacing_and_number_forms(text: str, expected: Constraint) -> None:
    assert parse_constraint(text) == expected


def test_constraint_round_trips_through_str() -> None:
    c = parse_constraint("latency_p95_ms <= 12.5")
    assert str(c) == "latency_p95_ms <= 12.5"
    assert parse_constraint(str(c)) == c


def test_unknown_metric_names_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_constraint("acuracy > 0.9")
    err = info.value
    assert "acuracy" in err.message
    for name in ("accuracy", "f1_macro", "latency_p95_ms", "model_mb", "roc_auc", "log_loss"):
        assert name in err.hint
    assert len(err.one_line().splitlines()) == 1


@pytest.mark.parametrize(
    "text",
    ["", "accuracy", "accuracy 0.9", "accuracy => 0.9", "accuracy != 0.9", "< 10", "9lives < 1"],
)
def test_malformed_constraint(text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_constraint(text)
    assert "constraint" in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("number", ["nan", "inf", "-inf", "ten", "1,5", "<1"])
def test_non_finite_or_non_numeric_value(number: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_constraint(f"accuracy > {number}")
    assert "finite number" in info.value.message


@pytest.mark.parametrize(
    ("word", "direction"),
    [
        ("max", "max"),
        ("maximize", "max"),
        ("maximise", "max"),
        ("higher", "max"),
        ("MAX", "max"),
        ("min", "min"),
        ("minimize", "min"),
        ("minimise", "min"),
        ("lower", "min"),
    ],
)
def test_direction_words(word: str, direction: str) -> None:
    assert parse_objective(f"accuracy {word}") == Objective("accuracy", direction)  # type: ignore[arg-type]


def test_direction_defaults_to_the_metrics_natural_one() -> None:
    assert parse_objective("accuracy").direction == "max"
    assert parse_objective("log_loss").direction == "min"
    assert parse_objective("latency_p95_ms").direction == "min"


@pytest.mark.parametrize("text", ["accuracy upwards", "accuracy max please", "", "max accuracy!"])
def test_bad_objective(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_objective(text)


def test_unknown_objective_metric_names_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_objective("auc max")
    assert "roc_auc" in info.value.hint


def test_issue_metric_names_are_known() -> None:
    for name in (
        "accuracy",
        "f1_macro",
        "precision",
        "recall",
        "roc_auc",
        "log_loss",
        "latency_p50_ms",
        "latency_p95_ms",
        "model_mb",
        "coverage",
        "throughput_rps",
    ):
        assert name in KNOWN_METRICS


def test_direction_of() -> None:
    assert direction_of("accuracy") == "max"
    assert direction_of("model_mb") == "min"
    assert direction_of("custom_loss") == "min"
    assert direction_of("custom_score") == "max"


def test_constraint_holds_never_on_nan() -> None:
    c = Constraint("accuracy", ">=", 0.5)
    assert c.holds(0.5)
    assert not c.holds(math.nan)
    assert Constraint("accuracy", "==", 0.3).holds(0.1 + 0.2)
