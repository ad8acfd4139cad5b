"""The prediction log: round trip, rotation by size and age, a bounded buffer, ``since``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flywheel_ml.serve.predlog import LOG_COLUMNS, LogEntry, PredictionLog, read_predictions


def _entry(i: int, *, rows: int = 2, at: float | None = None, **extra: object) -> LogEntry:
    X = np.arange(rows * 3, dtype=np.float64).reshape(rows, 3) + i
    return LogEntry(
        at=time.time() if at is None else at,
        request_id=f"req{i}",
        model="m",
        version="m@v1",
        key=None if i % 2 else f"user{i}",
        latency_ms=0.5,
        inputs=X,
        predictions=np.arange(rows) + i,
        probabilities=np.full((rows, 2), 0.5),
        **extra,  # type: ignore[arg-type]
    )


def test_round_trip_one_row_per_input_row(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_interval_s=0.01)
    log.append(_entry(0))
    shadow = np.array([9, 1])
    log.append(_entry(1, shadow_version="m@v3", shadow_predictions=shadow))
    log.close()
    frame = read_predictions(tmp_path)
    assert list(frame.columns) == list(LOG_COLUMNS)
    assert len(frame) == 4
    first = frame.iloc[0]
    assert (first["request_id"], first["version"], first["key"], first["row"]) == (
        "req0",
        "m@v1",
        "user0",
        0,
    )
    assert list(first["features"]) == [0.0, 1.0, 2.0]
    assert list(frame["prediction"]) == ["0", "1", "1", "2"]
    assert list(frame.iloc[1]["probabilities"]) == [0.5, 0.5]
    assert frame["shadow_prediction"].tolist()[2:] == ["9", "1"]
    assert frame["shadow_version"].isna().tolist() == [True, True, False, False]
    assert str(frame["ts"].dt.tz) == "UTC"


def test_parts_rotate_by_size_and_only_closed_parts_are_read(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_part_bytes=1, flush_interval_s=0.01)
    for i in range(5):
        log.append(_entry(i))
        deadline = time.monotonic() + 10
        while log.written_rows < 2 * (i + 1) and time.monotonic() < deadline:
            time.sleep(0.005)
    log.close()
    parts = sorted(tmp_path.glob("part-*.parquet"))
    assert len(parts) >= 2
    assert not list(tmp_path.glob(".part-*"))
    assert len(read_predictions(tmp_path)) == 10


def test_parts_rotate_by_age_without_closing_the_log(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_part_age_s=0.05, flush_interval_s=0.01)
    log.append(_entry(0))
    deadline = time.monotonic() + 10
    while not list(tmp_path.glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(read_predictions(tmp_path)) == 2
    log.close()


def test_a_full_buffer_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_buffered_rows=5, flush_interval_s=60)
    accepted = [log.append(_entry(i)) for i in range(4)]
    assert accepted == [True, True, False, False]
    assert log.dropped_rows == 4
    log.close()
    assert len(read_predictions(tmp_path)) == 4


def test_since_and_model_filter(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_interval_s=0.01)
    old = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    log.append(_entry(0, at=old))
    log.close()
    log = PredictionLog(tmp_path, flush_interval_s=0.01)
    log.append(_entry(1))
    log.close()
    assert len(read_predictions(tmp_path)) == 4
    recent = read_predictions(tmp_path, since=datetime(2026, 2, 1, tzinfo=UTC))
    assert recent["request_id"].unique().tolist() == ["req1"]
    assert read_predictions(tmp_path, model="other").empty
    assert read_predictions(tmp_path / "missing").empty


def test_parts_are_parquet_files_of_the_log_schema(tmp_path: Path) -> None:
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    from flywheel_ml.serve.predlog import _ARROW_SCHEMA, _schema

    declared = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(_ARROW_SCHEMA)))
    assert declared.equals(_schema())
    log = PredictionLog(tmp_path, flush_interval_s=0.01)
    for i in range(20):  # more row groups than the short list header holds
        log.append(_entry(i, rows=1 + i % 3, shadow_version="m@v2" if i % 4 else None))
        deadline = time.monotonic() + 10
        while log.buffered_rows and time.monotonic() < deadline:
            time.sleep(0.002)
    log.close()
    (part,) = sorted(tmp_path.glob("part-*.parquet"))
    table = pq.read_table(part)
    table.validate(full=True)
    assert table.schema.equals(_schema())
    assert table.num_rows == sum(1 + i % 3 for i in range(20))
    frame = read_predictions(tmp_path)
    assert frame["key"].isna().sum() == sum(1 + i % 3 for i in range(20) if i % 2)
    assert frame["shadow_version"].isna().sum() == sum(1 + i % 3 for i in range(0, 20, 4))
    last = frame.iloc[-1]
    assert list(last["features"]) == [22.0, 23.0, 24.0]  # entry 19 has 2 rows
    assert last["prediction"] == "20"


def test_text_cells_of_any_length_and_script() -> None:
    from flywheel_ml.serve.logparts import plain_texts

    for texts in (["a", "bb", "", "ccc"], ["été", "x", "日本"], ["7"] * 5, []):
        expected = b"".join(len(t.encode()).to_bytes(4, "little") + t.encode() for t in texts)
        assert plain_texts(np.array(texts, dtype=str)) == expected


def test_a_gateway_logs_without_importing_pyarrow_or_pandas(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, time\n"
        "import numpy as np\n"
        "from pathlib import Path\n"
        "import flywheel_ml.server.gateway\n"
        "from flywheel_ml.serve.predlog import LogEntry, PredictionLog\n"
        "log = PredictionLog(Path(sys.argv[1]), flush_interval_s=0.01)\n"
        "log.append(LogEntry(at=time.time(), request_id='r', model='m', version='m@v1',\n"
        "    key=None, latency_ms=1.0, inputs=np.zeros((3, 2)), predictions=np.arange(3)))\n"
        "log.close()\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'pandas'})\n"
        "print(json.dumps(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []
    frame = read_predictions(tmp_path)
    assert frame["prediction"].tolist() == ["0", "1", "2"]
