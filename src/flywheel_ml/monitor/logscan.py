"""Reading the prediction log for monitoring: part by part, batch by batch, few columns.

:func:`flywheel_ml.serve.read_predictions` builds a DataFrame of the whole log with one numpy
array per row; drift over millions of rows needs the opposite: only the columns asked for, one
record batch at a time, and the packed float64 input vectors turned into a 2-D array with one
``frombuffer`` (every row of a batch has the same width).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


def log_parts(log_dir: Path, *, since: datetime | None = None) -> list[Path]:
    """The closed part files holding rows at or after ``since`` (by the times in their names)."""
    since_ms = None if since is None else int(since.timestamp() * 1000)
    found = []
    for path in sorted(log_dir.glob("part-*.parquet")):
        bits = path.name.split("-")
        if since_ms is not None and len(bits) >= 4 and int(bits[2]) <= since_ms:
            continue
        found.append(path)
    return found


def decode_vectors(column: Any) -> npt.NDArray[np.float64]:
    """A binary column of packed float64 vectors as an ``(n, width)`` array (NaN rows for nulls).

    Raises:
        ValueError: rows have different widths.
    """
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(array)
    if n == 0:
        return np.zeros((0, 0))
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    lengths = np.diff(offsets)
    width_bytes = int(lengths.max())
    present = lengths > 0
    if np.any(lengths[present] != width_bytes):
        raise ValueError("input vectors of different widths in one batch")
    data = buffers[2]
    width = width_bytes // 8
    if present.all():
        flat = np.frombuffer(data, dtype="<f8", count=n * width, offset=int(offsets[0]))
        return flat.reshape(n, width)
    out = np.full((n, width), np.nan)
    raw = np.frombuffer(data, dtype="<f8")
    starts = offsets[:-1][present] // 8
    out[present] = raw[starts[:, None] + np.arange(width)]
    return out


def scan_log(
    parts: Sequence[Path],
    *,
    model: str | None,
    since: datetime | None,
    version: str | None = None,
    columns: Sequence[str] = ("features", "prediction"),
    batch_rows: int = 262_144,
) -> Iterator[Any]:
    """Record batches (Arrow tables) of ``columns`` for ``model``'s rows at or after ``since``
    (and answered by ``version``, when given)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = list(dict.fromkeys(["ts", "model", *(["version"] if version else []), *columns]))
    for path in parts:
        handle = pq.ParquetFile(path)
        for batch in handle.iter_batches(batch_size=batch_rows, columns=wanted):
            table = pa.Table.from_batches([batch])
            keep = None
            if model is not None:
                keep = pc.equal(table["model"], model)
            if since is not None:
                recent = pc.greater_equal(table["ts"], pa.scalar(since, pa.timestamp("us", "UTC")))
                keep = recent if keep is None else pc.and_(keep, recent)
            if version is not None:
                answered = pc.equal(table["version"], version)
                keep = answered if keep is None else pc.and_(keep, answered)
            # A batch wholly kept is not copied (the vectors make most of its bytes).
            if keep is not None and not pc.all(keep).as_py():
                table = table.filter(keep)
            if table.num_rows:
                yield table


def feature_batch(table: Any, feature_names: Sequence[str]) -> dict[str, Any]:
    """A log batch as monitored columns: one array per feature, plus ``prediction``.

    Raises:
        ValueError: the logged vectors do not have one value per feature name.
    """
    out: dict[str, Any] = {}
    if "features" in table.column_names:
        matrix = decode_vectors(table["features"])
        if matrix.shape[1] != len(feature_names):
            raise ValueError(
                f"logged inputs have {matrix.shape[1]} values, the model has "
                f"{len(feature_names)} features"
            )
        for j, name in enumerate(feature_names):
            out[name] = np.ascontiguousarray(matrix[:, j])
    if "prediction" in table.column_names:
        out["prediction"] = table["prediction"]
    return out
