"""Pure parts: the split function, the slice filter language, the checks on recorded facts."""

from __future__ import annotations

import pandas as pd
import pytest

from flywheel_ml.data.checks import run_checks
from flywheel_ml.data.entities import SplitPolicy
from flywheel_ml.data.slices import evaluate
from flywheel_ml.data.splits import assign_splits, split_counts, split_of, validate_policy
from flywheel_ml.errors import InvalidInputError


def test_split_is_a_pure_function_of_id_seed_and_fractions() -> None:
    policy = SplitPolicy(0.8, 0.1, 0.1, 13)
    ids = [f"item-{i}" for i in range(20_000)]
    first = assign_splits(ids, policy)
    assert first == assign_splits(ids, policy)
    assert [split_of(i, policy) for i in ids[:100]] == first[:100]
    counts = split_counts(first)
    assert abs(counts["train"] / 20_000 - 0.8) < 0.02
    assert abs(counts["test"] / 20_000 - 0.1) < 0.02
    # More items never move the old ones; another seed gives another assignment.
    assert assign_splits([*ids, "new-1", "new-2"], policy)[:20_000] == first
    assert assign_splits(ids, SplitPolicy(0.8, 0.1, 0.1, 14)) != first
    assert set(assign_splits(ids[:500], SplitPolicy(1.0, 0.0, 0.0, 1))) == {"train"}


def test_invalid_policies_are_refused() -> None:
    for bad in (SplitPolicy(0.8, 0.3, 0.1, 1), SplitPolicy(-0.1, 0.6, 0.5, 1),
                SplitPolicy(0.8, 0.1, 0.1, -3)):  # fmt: skip
        with pytest.raises(InvalidInputError):
            validate_policy(bad)


def test_slice_filters_evaluate_column_wise_and_safely() -> None:
    frame = pd.DataFrame({"hour": [1, 7, 21, None], "country": ["DE", "FR", "US", "DE"]})
    assert evaluate("hour >= 20 or hour < 6", frame).tolist() == [True, False, True, False]
    assert evaluate("country in ['DE', 'FR'] and not hour > 5", frame).tolist() == [
        True, False, False, True,
    ]  # fmt: skip
    assert evaluate("1 < hour * 2 <= 14", frame).tolist() == [True, True, False, False]
    assert evaluate("country != 'DE'", frame).tolist() == [False, True, True, False]
    for unsafe in ("__import__('os').system('true')", "hour.__class__", "[x for x in hour]",
                   "lambda: 1", "missing > 1", "hour >"):  # fmt: skip
        with pytest.raises(InvalidInputError):
            evaluate(unsafe, frame)


def test_checks_on_recorded_facts() -> None:
    parent = {
        "schema": {"columns": {"a": {"type": "integer", "null_rate": 0.0, "min": 0, "max": 5},
                               "c": {"type": "text", "null_rate": 0.0,
                                     "categories": {"x": 5, "y": 5}}}},
        "labels": {"p": 50, "n": 50},
    }  # fmt: skip
    new = {
        "schema": {"columns": {"a": {"type": "float", "null_rate": 0.2, "min": -1, "max": 5},
                               "c": {"type": "text", "null_rate": 0.0,
                                     "categories": {"x": 5, "z": 5}}},
                   "empty_files": 0},
        "labels": {"p": 90, "n": 10},
        "duplicate_rows": 2,
    }  # fmt: skip
    findings = {(f.check, f.severity) for f in run_checks(new, parent)}
    assert ("missing values", "warning") in findings
    assert ("out of range", "warning") in findings
    assert ("categories", "warning") in findings
    assert ("label shift", "warning") in findings
    assert ("duplicates", "warning") in findings
    assert not any(check == "schema" for check, _ in findings)  # integer -> float is fine
    assert {f.check for f in run_checks(new, parent, leaked=["i1"])} >= {"leakage"}
    assert run_checks(parent, None) == ()
