"""Drift statistics: constructed shifts are found exactly, unshifted data raises no flag."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.monitor.binning import ReferenceBinning, fit_binning
from flywheel_ml.monitor.drift import DriftCounter, DriftOptions, adjust_p_values, compare, drift_of
from flywheel_ml.monitor.drift_html import render_drift_html

NAMES = [f"c{j:02d}" for j in range(20)]


def frames(n: int, seed: int, shift: float = 0.5) -> tuple[dict[str, np.ndarray], ...]:
    rng = np.random.default_rng(seed)
    ref = {c: rng.standard_normal(n) for c in NAMES}
    cur = {c: rng.standard_normal(n) + (shift if j < 5 else 0.0) for j, c in enumerate(NAMES)}
    same = {c: rng.standard_normal(n) for c in NAMES}
    return ref, cur, same


@pytest.mark.parametrize(("n", "seed"), [(2_000, 0), (20_000, 1), (200_000, 2)])
def test_shift_in_five_of_twenty_columns_flags_exactly_those(n: int, seed: int) -> None:
    ref, cur, same = frames(n, seed)
    binning = fit_binning(ref, reference="ref")
    report = drift_of(binning, [cur])
    assert report.drifted == tuple(NAMES[:5])
    assert drift_of(binning, [same]).drifted == ()
    shifted = report.column("c00")
    assert shifted.effect == pytest.approx(0.5, abs=0.08)
    assert shifted.psi > 0.15
    assert shifted.statistic == pytest.approx(0.197, abs=0.04)


def test_tiny_shift_on_huge_sample_is_significant_but_below_the_floor() -> None:
    rng = np.random.default_rng(3)
    binning = fit_binning({"x": rng.standard_normal(400_000)}, reference="r")
    report = drift_of(binning, [{"x": rng.standard_normal(400_000) + 0.03}])
    col = report.column("x")
    assert col.p_adjusted < 1e-6
    assert col.effect < 0.1
    assert report.drifted == ()


def test_counts_are_additive_across_batches_and_arrow_input() -> None:
    ref, cur, _ = frames(10_000, 4)
    binning = fit_binning(ref, reference="r")
    whole = drift_of(binning, [cur])
    table = pa.table(cur)
    batched = drift_of(binning, table.to_batches(max_chunksize=1_000))
    assert batched.rows == 10_000
    for a, b in zip(whole.columns, batched.columns, strict=True):
        assert a.statistic == pytest.approx(b.statistic)
        assert a.psi == pytest.approx(b.psi)
    left = DriftCounter(binning)
    right = DriftCounter(binning)
    left.add(table.slice(0, 4000))
    right.add(table.slice(4000))
    left.merge(right)
    assert compare(left).drifted == whole.drifted


def test_categorical_columns_use_chi_square_and_tvd() -> None:
    rng = np.random.default_rng(5)
    ref = rng.choice(["a", "b", "c"], size=20_000, p=[0.5, 0.3, 0.2])
    moved = rng.choice(["a", "b", "c", "d"], size=20_000, p=[0.3, 0.3, 0.3, 0.1])
    still = rng.choice(["a", "b", "c"], size=20_000, p=[0.5, 0.3, 0.2])
    binning = fit_binning({"k": ref}, reference="r")
    report = drift_of(binning, [{"k": moved}])
    col = report.column("k")
    assert col.test == "chi2" and col.drifted and col.effect == pytest.approx(0.2, abs=0.03)
    assert drift_of(binning, [{"k": still}]).drifted == ()


def test_missing_values_are_counted_not_crashing() -> None:
    rng = np.random.default_rng(6)
    binning = fit_binning({"x": rng.standard_normal(5000)}, reference="r")
    cur = rng.standard_normal(5000)
    cur[:2500] = np.nan
    col = drift_of(binning, [{"x": cur}]).column("x")
    assert col.missing_current == pytest.approx(0.5)
    assert col.psi > 1.0


def test_binning_round_trips_through_bytes() -> None:
    ref, cur, _ = frames(5_000, 7)
    ref["cat"] = np.array(["x", "y"] * 2500)
    binning = fit_binning(ref, reference="digits@v2")
    again = ReferenceBinning.from_bytes(binning.to_bytes())
    assert again.reference == "digits@v2"
    cur["cat"] = np.array(["x", "y"] * 2500)
    assert drift_of(again, [cur]).drifted == drift_of(binning, [cur]).drifted


def test_corrections_and_options() -> None:
    assert adjust_p_values([0.01, 0.04, 0.03], method="bonferroni") == pytest.approx(
        [0.03, 0.12, 0.09]
    )
    assert adjust_p_values([]) == []
    with pytest.raises(InvalidInputError):
        DriftOptions(alpha=2)
    with pytest.raises(InvalidInputError):
        DriftCounter(fit_binning({"x": np.arange(9.0)}, reference="r"), columns=["nope"])


def test_html_report_is_small_and_names_the_drifted_columns() -> None:
    ref, cur, _ = frames(20_000, 8)
    html = render_drift_html(drift_of(fit_binning(ref, reference="r"), [cur]))
    assert len(html.encode()) < 1_000_000
    assert "c00" in html and "<svg" in html and "Drifted: <b>c00, c01, c02, c03, c04</b>" in html
