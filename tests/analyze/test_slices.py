"""Bootstrap intervals and slice results."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_ml.analyze.slices import bootstrap_interval, slice_result


def test_bootstrap_interval_covers_the_accuracy_and_narrows_with_rows() -> None:
    small = np.array([True] * 18 + [False] * 2)
    large = np.array([True] * 900 + [False] * 100)
    lo_s, hi_s = bootstrap_interval(small)
    lo_l, hi_l = bootstrap_interval(large)
    assert lo_s <= 0.9 <= hi_s and lo_l <= 0.9 <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s)
    # The normal approximation for 1,000 rows at 90%: ±1.96·sqrt(.9·.1/1000) ≈ ±0.0186.
    assert hi_l - lo_l == pytest.approx(2 * 0.0186, abs=0.008)
    assert bootstrap_interval(large, seed=3) != bootstrap_interval(large, seed=4)
    assert bootstrap_interval(large) == bootstrap_interval(large)


def test_slice_result_marks_small_slices_and_empty_ones() -> None:
    y = np.array(["a", "b", "a", "a"])
    p = np.array(["a", "a", "a", "a"])
    found = slice_result("s", "slice", "x > 1", y, p, overall=0.5, min_rows=5)
    assert found.accuracy == pytest.approx(0.75)
    assert found.too_small and found.delta == pytest.approx(0.25)
    empty = slice_result("e", "slice", "x > 9", y[:0], p[:0], overall=0.5)
    assert empty.rows == 0 and empty.accuracy is None and empty.too_small
