"""Metric curves as an interactive offline HTML page (plotly.js inlined) or a PNG.

The HTML needs no network: plotly.js is copied from the installed ``plotly`` package into the
page. PNG export (:mod:`flywheel_ml.reports.png_export`) needs ``kaleido`` and a Chrome/Chromium
it can drive, and no network either; without them writing a ``.png`` raises an error that says
so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.reports.png_export import write_pngs
from flywheel_ml.track.entities import MetricSeries


@dataclass(frozen=True, slots=True)
class Curve:
    """One line of the plot: a label (the run's name and id) and its series."""

    label: str
    series: MetricSeries


def write_metric_plot(curves: Sequence[Curve], out: Path, *, title: str) -> Path:
    """Draw every curve (step on x, value on y) and write ``out`` (``.html`` or ``.png``).

    Raises:
        InvalidInputError: no points at all, an unknown suffix, or PNG export unavailable.
    """
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise InvalidInputError(
            f"cannot write a plot to {out.name!r}", hint="use an .html or .png file name"
        )
    if not any(len(c.series) for c in curves):
        raise InvalidInputError(
            f"no points to plot for {title!r}",
            hint="check the metric name with `flywheel track show RUN`",
        )
    import plotly.graph_objects as go

    figure = go.Figure()
    for curve in curves:
        figure.add_trace(
            go.Scattergl(
                x=curve.series.steps, y=curve.series.values, mode="lines", name=curve.label
            )
        )
    figure.update_layout(
        title=title, xaxis_title="step", yaxis_title=title, template="plotly_white"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        write_pngs({out: figure})
        return out
    figure.write_html(str(out), include_plotlyjs=True, full_html=True)
    return out
