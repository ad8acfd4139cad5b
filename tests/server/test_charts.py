"""Largest-triangle-three-buckets and the server-drawn SVG charts."""

from __future__ import annotations

import numpy as np

from flywheel_ml.server.charts import downsample, line_chart, lttb


def test_lttb_keeps_ends_and_peaks() -> None:
    x = np.arange(100_000, dtype=float)
    y = np.zeros_like(x)
    y[12_345] = 50.0  # one spike a stride would miss
    y[77_777] = -30.0
    kept = lttb(x, y, 1000)
    assert len(kept) == 1000
    assert kept[0] == 0 and kept[-1] == len(x) - 1
    assert 12_345 in kept and 77_777 in kept
    assert np.all(np.diff(kept) > 0)


def test_lttb_keeps_short_series_whole() -> None:
    assert lttb([0, 1, 2], [3, 4, 5], 1000).tolist() == [0, 1, 2]


def test_downsample_drops_non_finite_points() -> None:
    line = downsample("loss", [0, 1, 2, 3], [1.0, float("nan"), float("inf"), 0.5])
    assert line.x.tolist() == [0, 3] and line.points_total == 2


def test_chart_svg_is_escaped_and_notes_downsampling() -> None:
    x = np.arange(5000)
    chart = line_chart([downsample("<b>run</b>", x, np.sin(x / 100))], y_title="loss")
    assert "<b>run</b>" not in chart["svg"] and "&lt;b&gt;run&lt;/b&gt;" in chart["svg"]
    assert chart["note"].startswith("1,000 of 5,000 points")
    assert len(chart["data"]["traces"][0]["x"]) == 1000
