"""Parquet part files written with numpy and the standard library alone.

The prediction gateway writes its log as Parquet, but importing pyarrow to do so costs it
~50 MB of memory (and pyarrow then imports pandas, ~50 MB more), a third of the gateway's
footprint. The log's columns are few and flat, so this module writes the file format itself:
one row group per flush, one uncompressed ``PLAIN`` data page per column chunk, every column
``OPTIONAL`` with its definition levels as one run-length/bit-packed run, and the footer's
Thrift structures in the compact protocol. The footer carries the Arrow schema the columns stand
for (key ``ARROW:schema``), so pyarrow reads the parts back with exactly the types it would have
written (``large_binary``, ``timestamp[us, tz=UTC]``).

Format reference: https://github.com/apache/parquet-format (``parquet.thrift``, ``Encodings.md``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

MAGIC = b"PAR1"

# parquet.thrift enums
INT32, INT64, DOUBLE, BYTE_ARRAY = 1, 2, 5, 6
_OPTIONAL = 1
_UTF8, _TIMESTAMP_MICROS = 0, 10
_PLAIN, _RLE = 0, 3
_UNCOMPRESSED = 0
_DATA_PAGE = 0

# Thrift compact protocol type ids
_I32, _I64, _BINARY, _LIST, _STRUCT = 5, 6, 8, 9, 12
_TRUE = 1


@dataclass(frozen=True, slots=True)
class Column:
    """One flat column of a part file.

    Attributes:
        name: the column name.
        physical: its Parquet physical type (:data:`INT32`, :data:`INT64`, :data:`DOUBLE` or
            :data:`BYTE_ARRAY`).
        logical: ``"string"`` (UTF-8 text), ``"timestamp_us_utc"`` (int64 microseconds since
            the epoch, UTC) or ``""`` (plain numbers or bytes).
    """

    name: str
    physical: int
    logical: str = ""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One column's values in one row group, already ``PLAIN``-encoded.

    Attributes:
        values: the encoded non-null values, in pieces written one after another (so a batch's
            half megabyte of input vectors is not copied into one buffer first).
        present: which rows hold a value (False is null), or None when all do.
    """

    values: Sequence[bytes | memoryview]
    present: npt.NDArray[np.bool_] | None = None


class _Thrift:
    """A writer of the Thrift compact protocol, just what Parquet's footer needs."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._last: list[int] = [0]

    def _varint(self, value: int) -> None:
        while value > 0x7F:
            self.out.append((value & 0x7F) | 0x80)
            value >>= 7
        self.out.append(value)

    def _zigzag(self, value: int) -> None:
        self._varint((value << 1) ^ (value >> 63))

    def _field(self, fid: int, kind: int) -> None:
        delta = fid - self._last[-1]
        if 0 < delta <= 15:
            self.out.append((delta << 4) | kind)
        else:
            self.out.append(kind)
            self._zigzag(fid)
        self._last[-1] = fid

    def i32(self, fid: int, value: int) -> None:
        self._field(fid, _I32)
        self._zigzag(value)

    def i64(self, fid: int, value: int) -> None:
        self._field(fid, _I64)
        self._zigzag(value)

    def true(self, fid: int) -> None:
        self._field(fid, _TRUE)

    def binary(self, fid: int, value: bytes) -> None:
        self._field(fid, _BINARY)
        self._varint(len(value))
        self.out += value

    def begin(self, fid: int | None = None) -> None:
        """Open a struct (a field ``fid``, or a list element when None)."""
        if fid is not None:
            self._field(fid, _STRUCT)
        self._last.append(0)

    def end(self) -> None:
        """Close the innermost struct."""
        self.out.append(0)
        self._last.pop()

    def list_header(self, fid: int, kind: int, size: int) -> None:
        self._field(fid, _LIST)
        if size < 15:
            self.out.append((size << 4) | kind)
        else:
            self.out.append(0xF0 | kind)
            self._varint(size)

    def i32_list(self, fid: int, values: Sequence[int]) -> None:
        self.list_header(fid, _I32, len(values))
        for value in values:
            self._zigzag(value)

    def binary_list(self, fid: int, values: Sequence[bytes]) -> None:
        self.list_header(fid, _BINARY, len(values))
        for value in values:
            self._varint(len(value))
            self.out += value


def definition_levels(present: npt.NDArray[np.bool_] | None, rows: int) -> bytes:
    """The definition levels of an optional flat column: a 4-byte length, then one RLE run
    (every row present) or one bit-packed run (bit width 1)."""
    if present is None or bool(present.all()):
        body = _uvarint(rows << 1) + b"\x01"
    else:
        groups = (rows + 7) // 8
        bits = np.packbits(present.astype(np.uint8), bitorder="little").tobytes()
        body = _uvarint((groups << 1) | 1) + bits
    return len(body).to_bytes(4, "little") + body


def _uvarint(value: int) -> bytes:
    thrift = _Thrift()
    thrift._varint(value)
    return bytes(thrift.out)


def plain_texts(texts: npt.NDArray[np.str_]) -> bytes:
    """``PLAIN`` ``BYTE_ARRAY`` values of a 1-D text array, UTF-8 encoded: each value's
    little-endian 4-byte length, then its bytes.

    Vectorised (no Python call per value): the rows of answers a batch logs are thousands of
    short labels. Trailing NUL characters of a value are dropped (numpy's bytes type strips them).
    """
    try:
        raw = texts.astype(np.bytes_)
    except UnicodeEncodeError:
        raw = np.char.encode(texts, "utf-8")
    n, width = len(raw), raw.dtype.itemsize
    if n == 0:
        return b""
    lengths = np.char.str_len(raw).astype("<u4")
    cell = 4 + lengths.astype(np.int64)
    cells = np.empty((n, 4 + width), dtype=np.uint8)
    cells[:, :4] = lengths.view(np.uint8).reshape(n, 4)
    cells[:, 4:] = raw.view(np.uint8).reshape(n, width)
    if int(lengths.min()) == width:  # all the same length: the rows are the cells
        return cells.tobytes()
    keep = np.arange(4 + width) < cell[:, None]
    return cells[keep].tobytes()


def plain_vectors(block: npt.NDArray[np.float64]) -> memoryview:
    """``PLAIN`` ``BYTE_ARRAY`` values of the rows of a 2-D float array, as little-endian f8."""
    rows = np.ascontiguousarray(block, dtype="<f8")
    n, width = rows.shape
    out = np.empty((n, 4 + 8 * width), dtype=np.uint8)
    out[:, :4] = np.frombuffer((8 * width).to_bytes(4, "little"), dtype=np.uint8)
    out[:, 4:] = rows.view(np.uint8).reshape(n, 8 * width)
    return out.reshape(-1).data


class PartWriter:
    """Writes one Parquet file: row groups appended as they come, the footer on :meth:`close`.

    Args:
        path: the file to create (truncated if it exists).
        columns: the columns every row group has, in order.
        metadata: key/value pairs for the footer (e.g. ``ARROW:schema``).
    """

    def __init__(
        self, path: Path, columns: Sequence[Column], *, metadata: dict[str, str] | None = None
    ) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.metadata = dict(metadata or {})
        self._handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._handle.write(MAGIC)
        self._offset = len(MAGIC)
        self._groups: list[tuple[int, list[tuple[int, int]]]] = []
        self.rows = 0

    @property
    def size(self) -> int:
        """Bytes written so far (the footer not included)."""
        return self._offset

    def write(self, chunks: Iterable[Chunk], rows: int) -> None:
        """Append one row group of ``rows`` rows; ``chunks`` follows :attr:`columns`.

        Each chunk is written before the next is taken, so a generator of chunks keeps only one
        column's bytes in memory at a time.
        """
        placed = []
        for chunk in chunks:
            levels = definition_levels(chunk.present, rows)
            page = len(levels) + sum(len(piece) for piece in chunk.values)
            header = _Thrift()
            header.i32(1, _DATA_PAGE)
            header.i32(2, page)
            header.i32(3, page)
            header.begin(5)
            header.i32(1, rows)
            header.i32(2, _PLAIN)
            header.i32(3, _RLE)
            header.i32(4, _RLE)
            header.end()
            header.out.append(0)
            self._handle.writelines((header.out, levels, *chunk.values))
            placed.append((self._offset, len(header.out) + page))
            self._offset += len(header.out) + page
        if len(placed) != len(self.columns):
            raise ValueError(f"{len(placed)} chunks for {len(self.columns)} columns")
        self._groups.append((rows, placed))
        self.rows += rows

    def close(self) -> None:
        """Write the footer, fsync and close the file."""
        footer = self._footer()
        self._handle.write(footer)
        self._handle.write(len(footer).to_bytes(4, "little") + MAGIC)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()

    def _footer(self) -> bytes:
        t = _Thrift()
        t.i32(1, 1)
        t.list_header(2, _STRUCT, len(self.columns) + 1)
        t.begin()
        t.binary(4, b"schema")
        t.i32(5, len(self.columns))
        t.end()
        for column in self.columns:
            _schema_element(t, column)
        t.i64(3, self.rows)
        t.list_header(4, _STRUCT, len(self._groups))
        for rows, placed in self._groups:
            t.begin()
            t.list_header(1, _STRUCT, len(placed))
            for column, (offset, size) in zip(self.columns, placed, strict=True):
                t.begin()
                t.i64(2, offset)
                t.begin(3)
                t.i32(1, column.physical)
                t.i32_list(2, [_PLAIN, _RLE])
                t.binary_list(3, [column.name.encode()])
                t.i32(4, _UNCOMPRESSED)
                t.i64(5, rows)
                t.i64(6, size)
                t.i64(7, size)
                t.i64(9, offset)
                t.end()
                t.end()
            t.i64(2, sum(size for _, size in placed))
            t.i64(3, rows)
            t.end()
        if self.metadata:
            t.list_header(5, _STRUCT, len(self.metadata))
            for key, value in self.metadata.items():
                t.begin()
                t.binary(1, key.encode())
                t.binary(2, value.encode())
                t.end()
        t.binary(6, b"flywheel-ml logparts")
        t.out.append(0)
        return bytes(t.out)


def _schema_element(t: _Thrift, column: Column) -> None:
    t.begin()
    t.i32(1, column.physical)
    t.i32(3, _OPTIONAL)
    t.binary(4, column.name.encode())
    if column.logical == "string":
        t.i32(6, _UTF8)
        t.begin(10)
        t.begin(1)  # LogicalType.STRING
        t.end()
        t.end()
    elif column.logical == "timestamp_us_utc":
        t.i32(6, _TIMESTAMP_MICROS)
        t.begin(10)
        t.begin(8)  # LogicalType.TIMESTAMP
        t.true(1)  # isAdjustedToUTC
        t.begin(2)  # unit
        t.begin(2)  # MICROS
        t.end()
        t.end()
        t.end()
        t.end()
    t.end()
