"""Request bodies: rows, records, columns, Arrow and Parquet; every malformed one is refused."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_ml.server.bodies import ARROW_STREAM, PARQUET, BodyError, parse_body

FEATURES = ("a", "b", "c")
JSON = "application/json"


def parse(body: bytes, content_type: str = JSON, max_rows: int = 100) -> object:
    return parse_body(body, content_type, FEATURES, max_rows=max_rows)


def test_rows_records_and_columns_give_the_same_array() -> None:
    expected = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    rows = parse_body(b'{"rows": [[1,2,3],[4,5,6]], "key": "u1"}', JSON, FEATURES, max_rows=9)
    records = parse_body(
        b'{"records": [{"c":3,"b":2,"a":1},{"a":4,"b":5,"c":6}]}', JSON, FEATURES, max_rows=9
    )
    columns = parse_body(
        b'{"columns": {"b":[2,5],"a":[1,4],"c":[3,6]}}', JSON, FEATURES, max_rows=9
    )
    for parsed in (rows, records, columns):
        np.testing.assert_array_equal(parsed.X, expected)
    assert rows.key == "u1"
    assert records.key is None


def test_arrow_and_parquet_bodies_by_name_or_position() -> None:
    table = pa.table({"c": [3.0, 6.0], "a": [1, 4], "b": [2.0, 5.0]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    arrow = parse_body(sink.getvalue().to_pybytes(), ARROW_STREAM, FEATURES, max_rows=9)
    np.testing.assert_array_equal(arrow.X, [[1, 2, 3], [4, 5, 6]])
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": [1.0], "y": [2.0], "z": [3.0]}), buffer)
    parquet = parse_body(buffer.getvalue(), PARQUET, FEATURES, max_rows=9)
    np.testing.assert_array_equal(parquet.X, [[1, 2, 3]])


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"rows": [[1, 2]]}', 422, "3 features, got 2"),
        (b'{"rows": [[1, 2, 3], [1, 2]]}', 422, "same length"),
        (b'{"rows": [[1, "x", 3]]}', 422, "numbers only"),
        (b'{"rows": [[1, null, 3]]}', 422, "NaN"),
        (b'{"rows": [[1, 1e999, 3]]}', 400, "infinity"),
        (b'{"rows": [[NaN, 1, 3]]}', 400, "not valid JSON"),
        (b'{"rows": []}', 422, "no rows"),
        (b'{"rows": [1, 2, 3]}', 422, "list of rows"),
        (b'{"records": [{"a": 1, "b": 2}]}', 422, "missing features ['c']"),
        (b'{"records": [{"a": 1, "b": 2, "c": 3, "d": 4}]}', 422, "unknown ones ['d']"),
        (b'{"columns": {"a": [1], "b": [2], "c": [3, 4]}}', 422, "same length"),
        (b'{"data": [[1, 2, 3]]}', 422, "none of 'rows'"),
        (b'{"rows": [[1, 2, 3]], "key": {"x": 1}}', 422, "'key'"),
        (b'{"rows": [[1, 2, 3], [1, 2, 3]]}', 413, "more than the limit of 1"),
    ],
)
def test_malformed_bodies_are_refused_with_a_clear_message(
    body: bytes, status: int, words: str
) -> None:
    with pytest.raises(BodyError) as info:
        parse(body, max_rows=1 if status == 413 else 100)
    assert info.value.http_status == status
    assert words in info.value.message
    assert info.value.to_dict()["error"] == "bad_body"


def test_broken_arrow_body_is_a_400() -> None:
    with pytest.raises(BodyError) as info:
        parse(b"\x00\x01garbage", ARROW_STREAM)
    assert info.value.http_status == 400
