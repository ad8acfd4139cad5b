"""Pipeline accuracy on a constructed two-stage pipeline equals the hand-computed values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from flywheel_ml.analyze import Pipeline, PipelineStep, measure_pipeline
from flywheel_ml.errors import InvalidInputError


class Ocr:
    """Reads the digit in ``img``; misreads 0, 1, 2 and 3 as 99 (60% right)."""

    def predict(self, X: Any) -> Any:
        values = np.asarray(X, dtype=int).ravel()
        return np.where(values <= 3, 99, values)


class Parity:
    """Says whether the text is even or odd; wrong on 9; calls 99 odd."""

    def predict(self, X: Any) -> Any:
        values = np.asarray(X, dtype=int).ravel()
        answer = np.where(values % 2 == 0, "even", "odd")
        answer[values == 9] = "even"
        return answer


def _receipts() -> pd.DataFrame:
    i = np.arange(10)
    return pd.DataFrame({"img": i, "text": i, "label": np.where(i % 2 == 0, "even", "odd")})


def _pipeline(**links: Any) -> Pipeline:
    return Pipeline(
        "receipts",
        (
            PipelineStep("ocr@v1", Ocr(), truth="text", features=("img",), link=links.get("ocr")),
            PipelineStep(
                "parity@v1", Parity(), truth="label", features=("text",), link=links.get("parity")
            ),
        ),
    )


def test_two_stage_pipeline_matches_hand_computation() -> None:
    found = measure_pipeline(_pipeline(), _receipts(), dataset="receipts@v1")
    # By hand: the OCR gives 99 99 99 99 4 5 6 7 8 9 (6/10 right). The parity model then says
    # odd odd odd odd even odd even odd even even against even odd even odd even odd even odd
    # even odd: rows 1 3 4 5 6 7 8 right, 7/10 end to end.
    assert found.rows == 10
    assert found.end_to_end == pytest.approx(0.7)
    ocr, parity = found.stages
    assert ocr.accuracy == pytest.approx(0.6)
    assert ocr.isolated_accuracy == pytest.approx(0.6)
    # With a perfect OCR only the 9 is wrong: 9/10; the OCR's errors cost 0.2.
    assert ocr.upper_bound == pytest.approx(0.9)
    assert ocr.cost == pytest.approx(0.2)
    assert parity.accuracy == pytest.approx(0.7)
    assert parity.isolated_accuracy == pytest.approx(0.9)
    # The last stage perfect means the product is perfect.
    assert parity.upper_bound == pytest.approx(1.0)
    assert parity.cost == pytest.approx(0.3)
    assert list(found.frame()["name"]) == ["ocr@v1", "parity@v1"]


def test_a_link_callable_builds_the_next_input() -> None:
    calls: list[Any] = []

    def through_a_lookup(frame: pd.DataFrame, upstream: Any) -> Any:
        calls.append(upstream)
        # The downstream model reads the OCR output plus 10: parity unchanged, 9 becomes 19.
        return np.asarray(upstream if upstream is not None else frame["text"]) + 10

    found = measure_pipeline(_pipeline(parity=through_a_lookup), _receipts())
    assert calls and calls[0] is not None
    # 19 is no longer the parity model's blind spot: the 9 row is right now; 109 (from 99) is
    # odd as before, so rows 1 3 4 5 6 7 8 9 are right: 8/10.
    assert found.end_to_end == pytest.approx(0.8)
    assert found.stages[1].isolated_accuracy == pytest.approx(1.0)


def test_independent_stages_multiply_like_the_seed_says() -> None:
    # OCR right on 60% of rows, classifier right on 95% of what it gets right, independently:
    # the product is 57% (seed 001).
    n = 1000
    rng = np.random.default_rng(0)
    text = rng.integers(0, 1000, n)
    ocr_ok = np.zeros(n, dtype=bool)
    ocr_ok[rng.permutation(n)[:600]] = True
    clf_ok = np.zeros(n, dtype=bool)
    clf_ok[rng.permutation(n)[:950]] = True
    frame = pd.DataFrame({"row": np.arange(n), "text": text, "label": text})

    class Reader:
        def predict(self, X: Any) -> Any:
            rows = np.asarray(X, dtype=int).ravel()
            return np.where(ocr_ok[rows], text[rows], -1)

    class Copier:
        def predict(self, X: Any) -> Any:
            seen = np.asarray(X)
            return np.where(clf_ok, seen["text"], -2)

    steps = (
        PipelineStep("ocr", Reader(), truth="text", features=("row",)),
        PipelineStep(
            "clf", Copier(), truth="label", link=lambda f, up: f.assign(text=up).to_records()
        ),
    )
    found = measure_pipeline(Pipeline("seed", steps), frame)
    assert found.stages[0].accuracy == pytest.approx(0.6)
    assert found.stages[1].isolated_accuracy == pytest.approx(0.95)
    assert found.end_to_end == pytest.approx(float((ocr_ok & clf_ok).mean()))
    assert abs(found.end_to_end - 0.57) < 0.03


def test_missing_truth_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="ground-truth"):
        measure_pipeline(_pipeline(), _receipts().drop(columns=["label"]))
    with pytest.raises(InvalidInputError, match="no steps"):
        Pipeline("empty", ())
