"""Schema inference: types, ranges, categories, null rates, text lengths and file types.

The inferred schema is stored with every version (in its facts) so ``data check`` can compare a
version with its parent without reading the parent's data again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MAX_CATEGORIES = 50
"""A text or integer column with at most this many distinct values is treated as categorical."""


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def infer_table_schema(frame: pd.DataFrame, *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The schema of every column of ``frame`` except ``skip``, as JSON-ready data.

    Each column gets ``type`` (``integer``, ``float``, ``boolean``, ``datetime``, ``text``),
    ``null_rate``, and, by type, ``min``/``max``, ``categories`` (value counts when there are few
    distinct values) or ``length`` (min/mean/max characters of text).
    """
    import pandas as pd

    columns: dict[str, Any] = {}
    rows = len(frame)
    for name in frame.columns:
        if name in skip:
            continue
        series = frame[name]
        info: dict[str, Any] = {
            "null_rate": round(float(series.isna().mean()) if rows else 0.0, 6),
        }
        present = series.dropna()
        if pd.api.types.is_bool_dtype(series):
            info["type"] = "boolean"
        elif pd.api.types.is_numeric_dtype(series):
            info["type"] = "integer" if pd.api.types.is_integer_dtype(series) else "float"
            if len(present):
                info["min"] = _number(present.min())
                info["max"] = _number(present.max())
        elif pd.api.types.is_datetime64_any_dtype(series):
            info["type"] = "datetime"
            if len(present):
                info["min"] = str(present.min())
                info["max"] = str(present.max())
        else:
            info["type"] = "text"
            text = present.astype(str)
            if len(text):
                lengths = text.str.len()
                info["length"] = {
                    "min": int(lengths.min()),
                    "mean": round(float(lengths.mean()), 2),
                    "max": int(lengths.max()),
                }
        if info["type"] in {"text", "integer", "boolean"}:
            distinct = present.nunique()
            if 0 < distinct <= MAX_CATEGORIES:
                counts = present.astype(str).value_counts()
                info["categories"] = {str(k): int(v) for k, v in sorted(counts.items())}
        columns[str(name)] = info
    return {"kind": "table", "rows": rows, "columns": columns}


def infer_files_schema(relpaths: Sequence[str], sizes: Sequence[int]) -> dict[str, Any]:
    """The schema of a folder dataset: file types (by suffix), size range and empty files."""
    types = Counter(_suffix(p) for p in relpaths)
    return {
        "kind": "files",
        "files": len(relpaths),
        "file_types": dict(sorted(types.items())),
        "size": {
            "min": min(sizes, default=0),
            "max": max(sizes, default=0),
            "total": sum(sizes),
        },
        "empty_files": sum(1 for s in sizes if s == 0),
    }


def _suffix(relpath: str) -> str:
    name = relpath.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else "(none)"
