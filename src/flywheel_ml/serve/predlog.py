"""The prediction log: every answered row, appended off the request path to Parquet parts.

A request only appends one :class:`LogEntry` to an in-memory buffer (a lock and a deque append).
A background thread turns the buffer into columns, one log row per input row, and writes them as
row groups into the open part file ``.part-<id>.parquet.tmp`` (with :mod:`.logparts`: numpy and
the standard library, so a gateway never imports pyarrow or pandas to log). A part is closed (its
footer written, fsynced and renamed to ``part-<first ms>-<last ms>-<id>.parquet``) once it is
``max_part_bytes`` large or ``max_part_age_s`` old, so readers only ever see whole files. The
buffer is bounded: when the writer falls behind by ``max_buffered_rows`` rows, new entries are
dropped and counted in :attr:`PredictionLog.dropped_rows` rather than slowing requests down or
growing memory without limit.

Input rows and probabilities are stored as float64 bytes per row (Parquet's nested lists cost
~20x more to write) and come back from :func:`read_predictions` (which reads with pyarrow and
returns a pandas DataFrame) as numpy arrays.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from flywheel_ml.core.ids import new_id
from flywheel_ml.serve.logparts import (
    BYTE_ARRAY,
    DOUBLE,
    INT32,
    INT64,
    Chunk,
    Column,
    PartWriter,
    plain_texts,
    plain_vectors,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

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


_COLUMNS = (
    Column("ts", INT64, "timestamp_us_utc"),
    Column("request_id", BYTE_ARRAY, "string"),
    Column("model", BYTE_ARRAY, "string"),
    Column("version", BYTE_ARRAY, "string"),
    Column("key", BYTE_ARRAY, "string"),
    Column("row", INT32),
    Column("latency_ms", DOUBLE),
    Column("features", BYTE_ARRAY),
    Column("prediction", BYTE_ARRAY, "string"),
    Column("probabilities", BYTE_ARRAY),
    Column("shadow_version", BYTE_ARRAY, "string"),
    Column("shadow_prediction", BYTE_ARRAY, "string"),
    Column("baseline_version", BYTE_ARRAY, "string"),
    Column("baseline_prediction", BYTE_ARRAY, "string"),
)

# base64 of ``_schema().serialize()``, checked by a test: the footer names these Arrow types so
# pyarrow reads the parts back exactly as it would have written them.
_ARROW_SCHEMA = (
    "/////xgDAAAQAAAAAAAKAAwABgAFAAgACgAAAAABBAAMAAAACAAIAAAABAAIAAAABAAAAA4AAACsAgAAaAIA"
    "ADwCAAAQAgAA6AEAALABAAB0AQAARAEAABQBAADgAAAArAAAAHQAAAA8AAAABAAAAJz9//8AAAEFEAAAACQA"
    "AAAEAAAAAAAAABMAAABiYXNlbGluZV9wcmVkaWN0aW9uANT9///Q/f//AAABBRAAAAAkAAAABAAAAAAAAAAQ"
    "AAAAYmFzZWxpbmVfdmVyc2lvbgAAAAAI/v//BP7//wAAAQUQAAAAJAAAAAQAAAAAAAAAEQAAAHNoYWRvd19w"
    "cmVkaWN0aW9uAAAAPP7//zj+//8AAAEFEAAAACAAAAAEAAAAAAAAAA4AAABzaGFkb3dfdmVyc2lvbgAAbP7/"
    "/2j+//8AAAETEAAAACAAAAAEAAAAAAAAAA0AAABwcm9iYWJpbGl0aWVzAAAAnP7//5j+//8AAAEFEAAAABwA"
    "AAAEAAAAAAAAAAoAAABwcmVkaWN0aW9uAADI/v//xP7//wAAARMQAAAAHAAAAAQAAAAAAAAACAAAAGZlYXR1"
    "cmVzAAAAAPT+///w/v//AAABAxAAAAAkAAAABAAAAAAAAAAKAAAAbGF0ZW5jeV9tcwAAAAAGAAgABgAGAAAA"
    "AAACACj///8AAAECEAAAABwAAAAEAAAAAAAAAAMAAAByb3cACAAMAAgABwAIAAAAAAAAASAAAABc////AAAB"
    "BRAAAAAUAAAABAAAAAAAAAADAAAAa2V5AIT///+A////AAABBRAAAAAYAAAABAAAAAAAAAAHAAAAdmVyc2lv"
    "bgCs////qP///wAAAQUQAAAAGAAAAAQAAAAAAAAABQAAAG1vZGVsAAAA1P///9D///8AAAEFEAAAACAAAAAE"
    "AAAAAAAAAAoAAAByZXF1ZXN0X2lkAAAEAAQABAAAABAAFAAIAAYABwAMAAAAEAAQAAAAAAABChAAAAAcAAAA"
    "BAAAAAAAAAACAAAAdHMAAAgADAAGAAgACAAAAAAAAgAEAAAAAwAAAFVUQwA="
)


def _decode_vectors(column: pa.ChunkedArray) -> list[Any]:
    """The float64 vectors of a binary column as numpy arrays (None where null)."""
    return [
        None if cell is None else np.frombuffer(cell, dtype="<f8") for cell in column.to_pylist()
    ]


def _mask(flags: list[bool], counts: list[int]) -> npt.NDArray[np.bool_] | None:
    return None if all(flags) else np.repeat(np.asarray(flags, dtype=bool), counts)


def _per_request(values: list[str | None], counts: list[int]) -> Chunk:
    """A text column holding one value per request, repeated for each of its rows."""
    cells = []
    for value, count in zip(values, counts, strict=True):
        if value is not None:
            data = value.encode()
            cells.append((len(data).to_bytes(4, "little") + data) * count)
    return Chunk(cells, _mask([v is not None for v in values], counts))


def _per_row_text(parts: list[npt.NDArray[Any] | None], counts: list[int]) -> Chunk:
    """A text column holding one value per row (answers as their ``str``)."""
    texts = [np.asarray(p).astype(str).reshape(-1) for p in parts if p is not None]
    values = [plain_texts(np.concatenate(texts))] if texts else []
    return Chunk(values, _mask([p is not None for p in parts], counts))


def _per_row_vectors(parts: list[npt.NDArray[np.float64] | None], counts: list[int]) -> Chunk:
    """One float64 vector per row, stored as its little-endian bytes (null where none).

    Binary cells cost a fraction of Parquet's nested lists to write (one buffer, no repetition
    levels), which keeps the log thread cheap at 1,000-row batches.
    """
    blocks = [
        plain_vectors(np.asarray(p, dtype=np.float64).reshape(c, -1))
        for p, c in zip(parts, counts, strict=True)
        if p is not None
    ]
    return Chunk(blocks, _mask([p is not None for p in parts], counts))


def encode_entries(entries: list[LogEntry]) -> Iterator[Chunk]:
    """The log rows of ``entries`` (one per input row) as column chunks of :data:`_COLUMNS`,
    made one column at a time as the writer takes them."""
    counts = [len(e.predictions) for e in entries]
    ts = np.repeat(np.asarray([e.at for e in entries]) * 1e6, counts).astype("<i8")
    yield Chunk([ts.tobytes()])
    yield _per_request([e.request_id for e in entries], counts)
    yield _per_request([e.model for e in entries], counts)
    yield _per_request([e.version for e in entries], counts)
    yield _per_request([e.key for e in entries], counts)
    rows = np.concatenate([np.arange(c, dtype="<i4") for c in counts] or [np.zeros(0, "<i4")])
    yield Chunk([rows.tobytes()])
    yield Chunk([np.repeat(np.asarray([e.latency_ms for e in entries], "<f8"), counts).tobytes()])
    yield _per_row_vectors([e.inputs for e in entries], counts)
    yield _per_row_text([e.predictions for e in entries], counts)
    yield _per_row_vectors([e.probabilities for e in entries], counts)
    yield _per_request([e.shadow_version for e in entries], counts)
    yield _per_row_text([e.shadow_predictions for e in entries], counts)
    yield _per_request([e.baseline_version for e in entries], counts)
    yield _per_row_text([e.baseline_predictions for e in entries], counts)


class PredictionLog:
    """Appends prediction rows to Parquet parts under ``directory`` from a background thread.

    Args:
        directory: where the parts go (created when missing).
        max_part_bytes: close a part once its file is this large.
        max_part_age_s: close a part once it is this old (so readers see rows this soon).
        flush_interval_s: how often the thread writes what is buffered.
        flush_rows: write as soon as this many rows wait, rather than at the next interval
            (1,000-row batches would otherwise pile up tens of megabytes between flushes).
        max_buffered_rows: rows that may wait in memory; beyond it entries are dropped.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_part_bytes: int = 64 << 20,
        max_part_age_s: float = 10.0,
        flush_interval_s: float = 0.25,
        flush_rows: int = 8192,
        max_buffered_rows: int = 100_000,
    ) -> None:
        self.directory = directory
        self.max_part_bytes = max_part_bytes
        self.max_part_age_s = max_part_age_s
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self.max_buffered_rows = max_buffered_rows
        self.dropped_rows = 0
        self.written_rows = 0
        self._buffer: deque[LogEntry] = deque()
        self._buffered_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._writer: PartWriter | None = None
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
            due = self._buffered_rows >= self.flush_rows
        if due and not self._wake.is_set():
            self._wake.set()
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
        assert self._writer is not None
        old = time.monotonic() - self._part_opened >= self.max_part_age_s
        return old or self._writer.size >= self.max_part_bytes

    def _write(self, entries: list[LogEntry]) -> None:
        rows = sum(len(e.predictions) for e in entries)
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._part_id = new_id()
            path = self.directory / f".part-{self._part_id}.parquet.tmp"
            self._writer = PartWriter(path, _COLUMNS, metadata={"ARROW:schema": _ARROW_SCHEMA})
            self._part_opened = time.monotonic()
            self._part_first_ms = int(entries[0].at * 1000)
        self._writer.write(encode_entries(entries), rows)
        self._part_last_ms = max(self._part_last_ms, int(entries[-1].at * 1000) + 1)
        self.written_rows += rows

    def _close_part(self) -> None:
        assert self._writer is not None
        self._writer.close()  # footer written and fsynced
        final = self.directory / (
            f"part-{self._part_first_ms:013d}-{self._part_last_ms:013d}-{self._part_id}.parquet"
        )
        os.replace(self._writer.path, final)
        self._writer = None
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
