"""Reading annotation files (JSONL, CSV, Label Studio JSON export) and class keys of labels.

Every reader returns :class:`RawAnnotation` rows; the stage checks them against the dataset and
the label document before anything is stored, so a bad file stores nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.entities import SOURCES

FORMATS = ("jsonl", "csv", "label-studio")


@dataclass(frozen=True, slots=True)
class RawAnnotation:
    """One annotation read from a file, before checks."""

    item: str
    label: Any
    annotator: str | None = None
    source: str = "human"
    duration_s: float | None = None
    hard: bool = False
    note: str = ""
    created_at: datetime | None = None
    confidence: float | None = None
    line: int = 0


def class_key(label: Any) -> str | None:
    """The class a scalar label names, as text (``3`` and ``"3"`` are one class); None for
    multi-label lists, span objects and missing labels."""
    if label is None or isinstance(label, list | dict):
        return None
    if isinstance(label, bool):
        return str(label).lower()
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def detect_format(path: Path) -> str:
    """``jsonl``, ``csv`` or ``label-studio`` from the file name (``.json`` = Label Studio)."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "label-studio"
    raise InvalidInputError(
        f"cannot tell the format of {path.name}",
        hint="use .jsonl, .csv or a Label Studio .json export, or pass --format",
    )


def read_annotations(
    path: Path, *, format: str | None = None, id_field: str = "item"
) -> list[RawAnnotation]:
    """The annotations in a file.

    Raises:
        NotFoundError: no such file.
        InvalidInputError: malformed lines (the line number is named).
    """
    if not path.is_file():
        from flywheel_ml.errors import NotFoundError

        raise NotFoundError(f"no such file: {path}", hint="check the path")
    fmt = format or detect_format(path)
    data = path.read_bytes()
    if fmt == "jsonl":
        return list(_jsonl(data))
    if fmt == "csv":
        return list(_csv(data.decode("utf-8-sig")))
    if fmt == "label-studio":
        return list(_label_studio(data, id_field=id_field))
    raise InvalidInputError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def _time(value: Any, line: int) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"line {line}: bad time {value!r}", hint="use ISO 8601, e.g. 2026-03-01T09:30:00Z"
        ) from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _float(value: Any, line: int, what: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"line {line}: {what} {value!r} is not a number",
            hint=f"give {what} in seconds as a number",
        ) from None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y"}
    return bool(value)


def _from_mapping(row: dict[str, Any], line: int) -> RawAnnotation:
    if row.get("item") in (None, ""):
        raise InvalidInputError(
            f"line {line}: no item id", hint='each record needs "item" and "label"'
        )
    if "label" not in row and not _flag(row.get("hard")):
        raise InvalidInputError(f"line {line}: no label", hint='give "label" (or "hard": true)')
    source = str(row.get("source") or "human")
    if source not in SOURCES:
        raise InvalidInputError(
            f"line {line}: unknown source {source!r}", hint="use human, model or lf"
        )
    return RawAnnotation(
        item=str(row["item"]),
        label=row.get("label"),
        annotator=None if row.get("annotator") in (None, "") else str(row["annotator"]),
        source=source,
        duration_s=_float(row.get("duration"), line, "duration"),
        hard=_flag(row.get("hard")),
        note=str(row.get("note") or ""),
        created_at=_time(row.get("created_at"), line),
        confidence=_float(row.get("confidence"), line, "confidence"),
        line=line,
    )


def _jsonl(data: bytes) -> Iterable[RawAnnotation]:
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidInputError(
                f"line {number} is not JSON",
                hint='one object per line: {"item": ..., "label": ...}',
            ) from None
        if not isinstance(row, dict):
            raise InvalidInputError(
                f"line {number} is not a JSON object", hint='{"item": ..., "label": ...}'
            )
        yield _from_mapping(row, number)


def _csv(text: str) -> Iterable[RawAnnotation]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "item" not in reader.fieldnames:
        raise InvalidInputError(
            "the CSV has no `item` column",
            hint="columns: item,label[,annotator,duration,hard,note]",
        )
    for number, row in enumerate(reader, start=2):
        yield _from_mapping(dict(row), number)


def _label_studio(data: bytes, *, id_field: str) -> Iterable[RawAnnotation]:
    try:
        tasks = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidInputError(
            "the file is not JSON", hint="export from Label Studio as JSON"
        ) from None
    if not isinstance(tasks, list):
        raise InvalidInputError(
            "a Label Studio export is a JSON list of tasks",
            hint="export from Label Studio as JSON (not JSON-MIN)",
        )
    for number, task in enumerate(tasks, start=1):
        item = (task.get("data") or {}).get(id_field)
        if item in (None, ""):
            raise InvalidInputError(
                f"task #{number} has no data.{id_field}",
                hint="pass --id-field with the task field holding item ids",
            )
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            who = annotation.get("completed_by")
            if isinstance(who, dict):
                who = who.get("email") or who.get("id")
            yield RawAnnotation(
                item=str(item),
                label=_studio_label(annotation.get("result") or []),
                annotator=None if who is None else str(who),
                duration_s=_float(annotation.get("lead_time"), number, "lead_time"),
                created_at=_time(annotation.get("created_at"), number),
                line=number,
            )


def _studio_label(results: list[dict[str, Any]]) -> Any:
    """A class for one ``choices`` result; a list for several choices; span/box objects else."""
    choices: list[str] = []
    regions: list[dict[str, Any]] = []
    for result in results:
        value = result.get("value") or {}
        if "choices" in value:
            choices.extend(str(c) for c in value["choices"])
        else:
            regions.append({k: v for k, v in value.items()})
    if regions:
        return regions
    if len(choices) == 1:
        return choices[0]
    return choices or None
