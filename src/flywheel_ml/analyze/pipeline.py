"""Pipeline accuracy: models in a row, each fed by the one before, measured end to end.

A pipeline is a named, ordered list of steps. Each step has a model, the column holding the
ground truth of its output, and a link: a Python callable ``link(frame, upstream)`` that builds
the step's model input from the data and the previous step's output (``None`` for the first
step). The default link writes the upstream output into the upstream step's truth column and
selects the step's feature columns, so a classifier that reads an OCR field gets the OCR's
output where the data holds the true text.

Besides end-to-end accuracy, each step is measured fed by the real upstream, fed by perfect
upstream (its isolated accuracy), and as the upper bound of the whole when it alone is perfect.
An OCR step at 60% feeding a 95% classifier makes a product of about 57%; the OCR's upper bound
shows what fixing it would buy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from flywheel_ml.analyze.entities import Model, PipelineResult, StageAccuracy
from flywheel_ml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

Link = Callable[["pd.DataFrame", "npt.NDArray[Any] | None"], Any]
"""Builds a step's model input from the data and the upstream output (None for the first)."""


@dataclass(frozen=True, slots=True)
class PipelineStep:
    """One model of a pipeline.

    Attributes:
        name: the step's name (a model reference such as ``ocr@v1``).
        model: anything with ``predict``.
        truth: the column holding the ground truth of this step's output.
        features: the columns the default link selects (ignored when ``link`` is given).
        link: builds the model input; None uses the default link described above.
    """

    name: str
    model: Model
    truth: str
    features: tuple[str, ...] = ()
    link: Link | None = None


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A named, ordered list of steps; the last step's output is the product's output."""

    name: str
    steps: tuple[PipelineStep, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise InvalidInputError(
                f"pipeline {self.name!r} has no steps", hint="give at least one model"
            )


def default_link(step: PipelineStep, upstream_truth: str | None) -> Link:
    """The link that puts the upstream output in ``upstream_truth`` and selects features."""

    def link(frame: pd.DataFrame, upstream: npt.NDArray[Any] | None) -> Any:
        fed = frame
        if upstream is not None and upstream_truth is not None:
            fed = frame.copy()
            fed[upstream_truth] = upstream
        missing = [f for f in step.features if f not in fed.columns]
        if missing:
            raise InvalidInputError(
                f"step {step.name} needs columns {', '.join(missing[:10])} the data lacks",
                hint="give the step a link callable that builds its input",
            )
        columns = fed[list(step.features)]
        if getattr(step.model, "feature_names_in_", None) is not None:
            return columns
        return columns.to_numpy()

    return link


def _links(pipeline: Pipeline) -> list[Link]:
    links = []
    for i, step in enumerate(pipeline.steps):
        upstream_truth = pipeline.steps[i - 1].truth if i else None
        links.append(step.link or default_link(step, upstream_truth))
    return links


def _run(
    pipeline: Pipeline,
    frame: pd.DataFrame,
    links: Sequence[Link],
    *,
    perfect: Mapping[int, npt.NDArray[Any]],
) -> list[npt.NDArray[Any]]:
    # ``perfect`` replaces a step's output by its ground truth (the step "were perfect").
    outputs: list[npt.NDArray[Any]] = []
    upstream: npt.NDArray[Any] | None = None
    for i, (step, link) in enumerate(zip(pipeline.steps, links, strict=True)):
        if i in perfect:
            output = perfect[i]
        else:
            output = np.asarray(step.model.predict(link(frame, upstream)))
        outputs.append(output)
        upstream = output
    return outputs


def measure_pipeline(
    pipeline: Pipeline, frame: pd.DataFrame, *, dataset: str = ""
) -> PipelineResult:
    """Per-step and end-to-end accuracy of ``pipeline`` on ``frame`` (truth for every step).

    Rows missing any step's ground truth are left out.

    Raises:
        InvalidInputError: a truth column is missing or no row has every truth.
    """
    from sklearn.metrics import accuracy_score

    truths = [step.truth for step in pipeline.steps]
    missing = [t for t in truths if t not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"the data lacks the ground-truth column(s) {', '.join(missing)}",
            hint="every step needs a column with the true value of its output",
        )
    frame = frame.dropna(subset=truths).reset_index(drop=True)
    if len(frame) == 0:
        raise InvalidInputError(
            "no row holds the ground truth of every step", hint="label every step's output"
        )
    links = _links(pipeline)
    truth_values = [_comparable(frame[t].to_numpy()) for t in truths]
    final = truth_values[-1]

    def end_to_end(outputs: Sequence[npt.NDArray[Any]]) -> float:
        return float(accuracy_score(final, _comparable(outputs[-1])))

    real = _run(pipeline, frame, links, perfect={})
    overall = end_to_end(real)
    stages = []
    for i, step in enumerate(pipeline.steps):
        upstream_perfect = {j: frame[truths[j]].to_numpy() for j in range(i)}
        isolated = _run(pipeline, frame, links, perfect=upstream_perfect)[i]
        bound = end_to_end(_run(pipeline, frame, links, perfect={i: frame[truths[i]].to_numpy()}))
        stages.append(
            StageAccuracy(
                name=step.name,
                truth=step.truth,
                accuracy=float(accuracy_score(truth_values[i], _comparable(real[i]))),
                isolated_accuracy=float(accuracy_score(truth_values[i], _comparable(isolated))),
                upper_bound=bound,
                cost=bound - overall,
            )
        )
    return PipelineResult(pipeline.name, dataset, len(frame), overall, tuple(stages))


def _comparable(values: npt.NDArray[Any]) -> npt.NDArray[np.str_]:
    # Outputs and truths may differ in type (3 vs "3" vs 3.0); compare them as text.
    if values.dtype.kind == "f" and np.all(np.mod(values[~np.isnan(values)], 1) == 0):
        values = values.astype(np.int64)
    return np.asarray([str(v) for v in values.tolist()], dtype=str)
