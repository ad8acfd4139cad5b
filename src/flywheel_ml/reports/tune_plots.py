"""The tune stage's plots as offline HTML pages (plotly.js inlined, no network needed):
a learning curve, and a study's search history, parameter importance and parallel coordinates.

PNG is not written: plotly's static export needs kaleido and a Chrome it can drive, which this
project does not depend on; the HTML pages are interactive and self-contained.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_ml.tune.entities import LearningCurve

if TYPE_CHECKING:
    import optuna


def write_learning_curve(curve: LearningCurve, out: Path) -> Path:
    """Train and validation score against training rows, with the verdict as subtitle."""
    import plotly.graph_objects as go

    rows = [p.rows for p in curve.points]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=rows,
            y=[p.train_score for p in curve.points],
            mode="lines+markers",
            name=f"train {curve.metric}",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=rows,
            y=[p.val_score for p in curve.points],
            mode="lines+markers",
            name=f"val {curve.metric}",
        )
    )
    figure.update_layout(
        title=f"Learning curve (run {curve.run_id[-8:]})<br><sup>{curve.verdict}</sup>",
        xaxis_title="training rows",
        yaxis_title=curve.metric,
        template="plotly_white",
    )
    return _write(figure, out)


def write_study_plots(study: optuna.Study, folder: Path) -> dict[str, Path]:
    """``history``, ``parallel`` and (with two or more finished trials whose parameters vary)
    ``importance`` pages for ``study`` in ``folder``."""
    from optuna import visualization
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    written = {
        "history": _write(visualization.plot_optimization_history(study), folder / "history.html"),
        "parallel": _write(visualization.plot_parallel_coordinate(study), folder / "parallel.html"),
    }
    if len(done) >= 2:
        try:
            figure = visualization.plot_param_importances(study)
        except (RuntimeError, ValueError, ZeroDivisionError):
            return written  # every parameter constant: no importance to show
        written["importance"] = _write(figure, folder / "importance.html")
    return written


def _write(figure: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(str(out), include_plotlyjs=True, full_html=True)
    return out
