"""Ground truth that arrives after the prediction: importing delayed labels, joining them to
the prediction log, and the live accuracy they measure."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from flywheel_ml.core.clock import utc_now
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.monitor.entities import DelayedLabel
from flywheel_ml.monitor.logscan import log_parts, scan_log

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_ml.monitor.stage import MonitorStage


@dataclass(frozen=True, slots=True)
class LiveAccuracy:
    """Accuracy on logged predictions whose delayed labels arrived."""

    model: str
    accuracy: float | None
    labelled_rows: int
    logged_rows: int


def import_delayed_labels(monitor: MonitorStage, source: str | Path | io.TextIOBase) -> int:
    """Import ground truth that arrived later: CSV with ``request_id``, ``label`` and an
    optional ``row`` (default 0). Everything is validated before anything is written.

    Raises:
        InvalidInputError: a missing column, an empty file or a bad row number.
    """
    if isinstance(source, str | Path):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read {source}: {exc.strerror}", hint="give a CSV file path"
            ) from exc
    else:
        text = source.read()
    reader = csv.DictReader(io.StringIO(text))
    fields = set(reader.fieldnames or ())
    if not {"request_id", "label"} <= fields:
        raise InvalidInputError(
            "the label file needs the columns request_id and label",
            hint="header line: request_id,label[,row]",
        )
    at = utc_now()
    labels = []
    for n, rec in enumerate(reader, start=2):
        rid, label = (rec.get("request_id") or "").strip(), (rec.get("label") or "").strip()
        try:
            row = int(rec.get("row") or 0)
        except ValueError:
            raise InvalidInputError(f"line {n}: row must be an integer", hint="e.g. 0") from None
        if not rid or not label:
            raise InvalidInputError(f"line {n}: empty request_id or label", hint="fill both")
        labels.append(DelayedLabel(rid[:64], row, label, at))
    if not labels:
        raise InvalidInputError("the label file has no rows", hint="add request_id,label rows")
    count = monitor.store.add_labels(labels)
    monitor.record_event("labels.imported", "delayed labels", {"rows": count})
    return count


def joined_labels(monitor: MonitorStage, model: str, start: datetime | None) -> pd.DataFrame:
    """The logged rows of ``model`` since ``start`` joined with their delayed labels
    (column ``true_label``); rows without one are left out."""
    import pandas as pd

    log = monitor.serve.read_log(since=start, model=model)
    if log.empty:
        return log
    labels = monitor.store.get_labels(log["request_id"].unique().tolist())
    if not labels:
        return log.iloc[0:0]
    found = pd.DataFrame(
        {"request_id": [x.request_id for x in labels], "row": [x.row for x in labels],
         "true_label": [x.label for x in labels]}
    )  # fmt: skip
    log = log.assign(row=log["row"].astype(int))
    return log.merge(found, on=["request_id", "row"], how="inner")


def labels_in_window(monitor: MonitorStage, model: str, start: datetime | None) -> list[str]:
    """Delayed labels of the logged rows in the window (reads two log columns only)."""
    if monitor.store.count_labels() == 0:
        return []
    found: list[str] = []
    parts = log_parts(monitor.serve.log_dir, since=start)
    for table in scan_log(parts, model=model, since=start, columns=("request_id", "row")):
        ids = table["request_id"].to_pylist()
        rows = table["row"].to_pylist()
        known = {(x.request_id, x.row): x.label for x in monitor.store.get_labels(list(set(ids)))}
        found.extend(known[k] for k in zip(ids, rows, strict=True) if k in known)
    return found


def live_accuracy(
    monitor: MonitorStage,
    model: str,
    *,
    window: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> LiveAccuracy:
    """Accuracy of ``model``'s logged answers whose delayed labels arrived in the window."""
    start = (now or utc_now()) - window
    logged = len(monitor.serve.read_log(since=start, model=model))
    joined = joined_labels(monitor, model, start)
    if joined.empty:
        return LiveAccuracy(model, None, 0, logged)
    correct = joined["prediction"].astype(str) == joined["true_label"].astype(str)
    return LiveAccuracy(model, float(correct.mean()), len(joined), logged)
