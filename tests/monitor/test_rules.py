"""The rule grammar."""

from __future__ import annotations

import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.monitor.rules import parse_rule


@pytest.mark.parametrize(
    ("text", "metric", "target", "op", "threshold", "window_h"),
    [
        ("psi(feature=*) > 0.2", "psi", "*", ">", 0.2, 24),
        ("psi(feature=px3) >= 0.1 over 2h", "psi", "px3", ">=", 0.1, 2),
        ("psi(prediction) > 0.25", "psi", "prediction", ">", 0.25, 24),
        ("shift(feature=*) > 0.3", "shift", "*", ">", 0.3, 24),
        ("age(champion) > 30d", "age", "champion", ">", 30.0, 24),
        ("age(production) > 36h", "age", "production", ">", 1.5, 24),
        ("live_accuracy < 0.9 over 7d", "live_accuracy", "", "<", 0.9, 168),
        ("live_accuracy <= 0.8", "live_accuracy", "", "<=", 0.8, 168),
        ("drifted >= 3", "drifted", "", ">=", 3.0, 24),
        ("disagreement(canary) > 0.1", "disagreement", "canary", ">", 0.1, 24),
    ],
)
def test_rules_parse(
    text: str, metric: str, target: str, op: str, threshold: float, window_h: float
) -> None:
    rule = parse_rule(text)
    assert (rule.metric, rule.target, rule.op) == (metric, target, op)
    assert rule.threshold == pytest.approx(threshold)
    assert rule.window_s == pytest.approx(window_h * 3600)


@pytest.mark.parametrize(
    "text",
    ["", "psi > 0.2", "psi(feature=*) = 0.2", "latency > 3", "age() > 3d", "drifted(x) > 1",
     "disagreement(x) > 0.1", "psi(feature=*) > 0.2d", "psi(feature=*) > 0.2 over 0h"],
)  # fmt: skip
def test_bad_rules_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_rule(text)
    assert caught.value.hint


def test_holds_and_describe() -> None:
    rule = parse_rule("live_accuracy < 0.9")
    assert rule.holds(0.85) and not rule.holds(0.95)
    assert parse_rule("age(champion) > 30d").describe(31.5) == "age(champion) = 31.5d > 30d"
