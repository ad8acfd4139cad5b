"""The prediction log: every answered row, appended off the request path to Parquet parts.

A request only appends one :class:`LogEntry` to an in-memory buffer (a lock and a deque append).
A background thread turns the buffer into Arrow columns, one log row per input row, and writes
them as row groups into the open part file ``.part-<id>.parquet.tmp``. A part is closed (its
footer written, fsynced and renamed to ``part-<first ms>-<last ms>-<id>.parquet``) once it is
``max_part_bytes`` large or ``max_part_age_s`` old, so readers only ever see whole files. The
buffer is bounded: when the writer falls behind by ``max_buffered_rows`` rows, new entries are
dropped and counted in :attr:`PredictionLog.dropped_rows` rather than slowing requests down or
growing memory without limit.

Input rows and probabilities are stored as float64 bytes per row (Parquet's nested lists cost
~20x more to write) and come back from :func:`read_predictions` as numpy arrays.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from flywheel_ml.core.ids import new_id

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

LOG_COLUMNS = (
    "ts",
    "request_id",
    "model",
    "version",
    "key",
    "row",
    "latency_ms",
    "features",
    "prediction",
    "probabilities",
    "shadow_version",
    "shadow_prediction",
    "baseline_version",
    "baseline_prediction",
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One answered request (``inputs`` has one row per prediction).

    Attributes:
        at: when the request arrived, seconds since the epoch.
        request_id: the id returned to the client.
        model: the model name.
        version: the reference that answered.
        key: the routing key, or None.
        latency_ms: time from arrival to the answer being ready.
        inputs: the 2-D float input.
        predictions: the answers, one per row.
        probabilities: class probabilities ``(n, classes)`` or None.
        shadow_version: the shadow reference, or None.
        shadow_predictions: the shadow's answers, or None.
        baseline_version: the champion when a canary answered, or None.
        baseline_predictions: the champion's answers on the same rows, or None.
    """

    at: float
    request_id: str
    model: str
    version: str
    key: str | None
    latency_ms: float
    inputs: npt.NDArray[np.float64]
    predictions: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None = None
    shadow_version: str | None = None
    shadow_predictions: npt.NDArray[Any] | None = None
    baseline_version: str | None = None
    baseline_predictions: npt.NDArray[Any] | None = None


def _schema() -> pa.Schema:
    import pyarrow as pa

    vectors = pa.large_binary()
    return pa.schema(
        [
            ("ts", pa.timestamp("us", tz="UTC")),
            ("request_id", pa.string()),
            ("model", pa.string()),
            ("version", pa.string()),
            ("key", pa.string()),
            ("row", pa.int32()),
            ("latency_ms", pa.float64()),
            ("features", vectors),
            ("prediction", pa.string()),
            ("probabilities", vectors),
            ("shadow_version", pa.string()),
            ("shadow_prediction", pa.string()),
            ("baseline_version", pa.string()),
            ("baseline_prediction", pa.string()),
        ]
    )


def _vector_column(parts: list[npt.NDArray[np.float64] | None], counts: list[int]) -> pa.Array:
    """One float64 vector per row, stored as its little-endian bytes (null where none).

    Binary cells cost a fraction of Parquet's nested lists to write (one buffer, no repetition
    levels), which keeps the log thread cheap at 1,000-row batches.
    """
    import pyarrow as pa

    offsets = [np.zeros(1, dtype=np.int64)]
    data: list[bytes] = []
    valid: list[npt.NDArray[np.bool_]] = []
    end = 0
    for part, count in zip(parts, counts, strict=True):
        if part is None:
            offsets.append(np.full(count, end, dtype=np.int64))
            valid.append(np.zeros(count, dtype=bool))
            continue
        block = np.ascontiguousarray(part, dtype="<f8").reshape(count, -1)
        offsets.append(end + block.shape[1] * 8 * np.arange(1, count + 1, dtype=np.int64))
        end += block.nbytes
        data.append(block.tobytes())
        valid.append(np.ones(count, dtype=bool))
    mask = np.concatenate(valid) if valid else np.zeros(0, dtype=bool)
    validity = None if mask.all() else pa.array(mask).buffers()[1]
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        int(mask.size),
        [validity, pa.py_buffer(np.concatenate(offsets)), pa.py_buffer(b"".join(data))],
        null_count=int((~mask).sum()),
    )


def _decode_vectors(column: pa.ChunkedArray) -> list[Any]:
    """The float64 vectors of a binary column as numpy arrays (None where null)."""
    return [
        None if cell is None else np.frombuffer(cell, dtype="<f8") for cell in column.to_pylist()
    ]


def _text_column(parts: list[npt.NDArray[Any] | None], counts: list[int]) -> pa.Array:
    import pyarrow as pa

    chunks = [
        np.full(c, None, dtype=object) if p is None else np.asarray(p).astype(str).astype(object)
        for p, c in zip(parts, counts, strict=True)
    ]
    return pa.array(np.concatenate(chunks) if chunks else [], type=pa.string())


def entries_to_table(entries: list[LogEntry]) -> pa.Table:
    """The log rows of ``entries`` (one per input row) as an Arrow table of the log schema."""
    import pyarrow as pa

    counts = [len(e.predictions) for e in entries]

    def repeat(values: list[Any]) -> npt.NDArray[Any]:
        return np.repeat(np.asarray(values, dtype=object), counts)

    ts = np.repeat(np.asarray([e.at for e in entries]) * 1e6, counts).astype("int64")
    rows = np.concatenate([np.arange(c, dtype=np.int32) for c in counts] or [np.zeros(0, np.int32)])
    columns = {
        "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "request_id": pa.array(repeat([e.request_id for e in entries]), type=pa.string()),
        "model": pa.array(repeat([e.model for e in entries]), type=pa.string()),
        "version": pa.array(repeat([e.version for e in entries]), type=pa.string()),
        "key": pa.array(repeat([e.key for e in entries]), type=pa.string()),
        "row": pa.array(rows, type=pa.int32()),
        "latency_ms": pa.array(np.repeat([e.latency_ms for e in entries], counts)),
        "features": _vector_column([e.inputs for e in entries], counts),
        "prediction": _text_column([e.predictions for e in entries], counts),
        "probabilities": _vector_column([e.probabilities for e in entries], counts),
        "shadow_version": pa.array(repeat([e.shadow_version for e in entries]), type=pa.string()),
        "shadow_prediction": _text_column([e.shadow_predictions for e in entries], counts),
        "baseline_version": pa.array(
            repeat([e.baseline_version for e in entries]), type=pa.string()
        ),
        "baseline_prediction": _text_column([e.baseline_predictions for e in entries], counts),
    }
    return pa.table(columns, schema=_schema())


class PredictionLog:
    """Appends prediction rows to Parquet parts under ``directory`` from a background thread.

    Args:
        directory: where the parts go (created when missing).
        max_part_bytes: close a part once its file is this large.
        max_part_age_s: close a part once it is this old (so readers see rows this soon).
        flush_interval_s: how often the thread writes what is buffered.
        max_buffered_rows: rows that may wait in memory; beyond it entries are dropped.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_part_bytes: int = 64 << 20,
        max_part_age_s: float = 10.0,
        flush_interval_s: float = 0.25,
        max_buffered_rows: int = 100_000,
    ) -> None:
        self.directory = directory
        self.max_part_bytes = max_part_bytes
        self.max_part_age_s = max_part_age_s
        self.flush_interval_s = flush_interval_s
        self.max_buffered_rows = max_buffered_rows
        self.dropped_rows = 0
        self.written_rows = 0
        self._buffer: deque[LogEntry] = deque()
        self._buffered_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._writer: pq.ParquetWriter | None = None
        self._part_path: Path | None = None
        self._part_id = ""
        self._part_opened = 0.0
        self._part_first_ms = 0
        self._part_last_ms = 0
        self._thread = threading.Thread(target=self._run, name="flywheel-predlog", daemon=True)
        self._thread.start()

    def append(self, entry: LogEntry) -> bool:
        """Queue ``entry`` for writing; False (and counted as dropped) when the buffer is full."""
        rows = len(entry.predictions)
        with self._lock:
            if self._buffered_rows + rows > self.max_buffered_rows:
                self.dropped_rows += rows
                return False
            self._buffer.append(entry)
            self._buffered_rows += rows
        return True

    @property
    def buffered_rows(self) -> int:
        """Rows waiting to be written."""
        return self._buffered_rows

    def close(self) -> None:
        """Write everything buffered, close the open part and stop the thread."""
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def _take(self) -> list[LogEntry]:
        with self._lock:
            entries = list(self._buffer)
            self._buffer.clear()
            self._buffered_rows = 0
        return entries

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            stopping = self._stopping
            entries = self._take()
            if entries:
                self._write(entries)
            if self._writer is not None and (stopping or self._part_due()):
                self._close_part()
            if stopping:
                return

    def _part_due(self) -> bool:
        assert self._part_path is not None
        old = time.monotonic() - self._part_opened >= self.max_part_age_s
        return old or self._part_path.stat().st_size >= self.max_part_bytes

    def _write(self, entries: list[LogEntry]) -> None:
        import pyarrow.parquet as pq

        table = entries_to_table(entries)
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._part_id = new_id()
            self._part_path = self.directory / f".part-{self._part_id}.parquet.tmp"
            self._writer = pq.ParquetWriter(self._part_path, table.schema, compression="snappy")
            self._part_opened = time.monotonic()
            self._part_first_ms = int(entries[0].at * 1000)
        self._writer.write_table(table)
        self._part_last_ms = max(self._part_last_ms, int(entries[-1].at * 1000) + 1)
        self.written_rows += table.num_rows

    def _close_part(self) -> None:
        assert self._writer is not None and self._part_path is not None
        self._writer.close()
        with open(self._part_path, "rb") as handle:
            os.fsync(handle.fileno())
        final = self.directory / (
            f"part-{self._part_first_ms:013d}-{self._part_last_ms:013d}-{self._part_id}.parquet"
        )
        os.replace(self._part_path, final)
        self._writer = None
        self._part_path = None
        self._part_last_ms = 0


def read_predictions(
    directory: Path, *, since: datetime | None = None, model: str | None = None
) -> pd.DataFrame:
    """The logged rows (closed parts only) at or after ``since``, oldest first.

    Returns:
        A DataFrame with the columns of :data:`LOG_COLUMNS` (empty when nothing was logged).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    since_ms = None if since is None else int(since.timestamp() * 1000)
    files = []
    for path in sorted(directory.glob("part-*.parquet")):
        parts = path.name.split("-")
        if since_ms is not None and len(parts) >= 4 and int(parts[2]) <= since_ms:
            continue
        files.append(path)
    if not files:
        return cast("pd.DataFrame", _schema().empty_table().to_pandas())
    table = pa.concat_tables([pq.read_table(f) for f in files])
    if since is not None:
        import pyarrow.compute as pc

        table = table.filter(
            pc.greater_equal(table["ts"], pa.scalar(since, pa.timestamp("us", "UTC")))
        )
    if model is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.equal(table["model"], model))
    vectors = {name: _decode_vectors(table[name]) for name in ("features", "probabilities")}
    frame = cast("pd.DataFrame", table.drop_columns(list(vectors)).to_pandas())
    for name, values in vectors.items():
        frame.insert(LOG_COLUMNS.index(name), name, pd.Series(values, dtype=object))
    return frame.sort_values(["ts", "request_id", "row"], kind="stable").reset_index(drop=True)
