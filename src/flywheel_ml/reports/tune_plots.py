"""The tune stage's plots: a learning curve, and a study's search history, parameter importance
and parallel coordinates, as offline HTML pages (plotly.js inlined, no network needed) and, on
request, PNG images (rendered offline by :mod:`flywheel_ml.reports.png_export`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.reports.png_export import write_pngs
from flywheel_ml.tune.entities import LearningCurve

if TYPE_CHECKING:
    import optuna


def check_plot_file(out: Path) -> str:
    """The plot file's kind (``.html``, ``.htm`` or ``.png``); check it before the work.

    Raises:
        InvalidInputError: any other suffix.
    """
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise InvalidInputError(
            f"cannot write a plot to {out.name!r}", hint="use an .html or .png file name"
        )
    return suffix


def write_learning_curve(curve: LearningCurve, out: Path) -> Path:
    """Train and validation score against training rows, with the verdict as subtitle; an
    HTML page, or a PNG image when ``out`` ends in ``.png``.

    Raises:
        InvalidInputError: another suffix, or PNG export unavailable here.
    """
    import plotly.graph_objects as go

    suffix = check_plot_file(out)

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
    if suffix == ".png":
        write_pngs({out: figure})
        return out
    return _write(figure, out)


def write_study_plots(study: optuna.Study, folder: Path, *, png: bool = False) -> dict[str, Path]:
    """``history``, ``parallel`` and (with two or more finished trials whose parameters vary)
    ``importance`` pages for ``study`` in ``folder``; with ``png``, also ``history.png`` ...
    (keys ``history_png`` ...), rendered with one browser start.

    Raises:
        InvalidInputError: ``png`` asked for and PNG export unavailable here (the HTML pages
            are written first).
    """
    from optuna import visualization
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    figures = {
        "history": visualization.plot_optimization_history(study),
        "parallel": visualization.plot_parallel_coordinate(study),
    }
    if len(done) >= 2:
        # Every parameter constant: no importance to show.
        with contextlib.suppress(RuntimeError, ValueError, ZeroDivisionError):
            figures["importance"] = visualization.plot_param_importances(study)
    written = {name: _write(figure, folder / f"{name}.html") for name, figure in figures.items()}
    if png:
        images = write_pngs({folder / f"{name}.png": figure for name, figure in figures.items()})
        written.update({f"{path.stem}_png": path for path in images})
    return written


def _write(figure: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(str(out), include_plotlyjs=True, full_html=True)
    return out
