"""Core vocabulary: digests, ids, the clock, the actor, the error tree, lifecycle status."""

from __future__ import annotations

import time
from datetime import UTC
from pathlib import Path

import pytest

from flywheel_ml.core import current_actor, digest_bytes, digest_file, new_id, parse_digest, utc_now
from flywheel_ml.core.clock import as_utc
from flywheel_ml.core.ids import is_id
from flywheel_ml.core.lifecycle import STAGES, Deliverable, StageStatus
from flywheel_ml.errors import FlywheelError, InvalidInputError, WorkspaceNotFoundError

# BLAKE3 of the empty input, from the reference test vectors.
EMPTY = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def test_digest_of_empty_input_matches_the_reference_vector() -> None:
    assert digest_bytes(b"") == EMPTY


def test_digest_file_matches_digest_bytes_small_and_memory_mapped(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"hello")
    assert digest_file(small) == digest_bytes(b"hello")
    big = tmp_path / "big"
    data = bytes(range(256)) * (3 * 4096 + 7)  # > 1 MiB: the mmap path
    big.write_bytes(data)
    assert digest_file(big) == digest_bytes(data)


@pytest.mark.parametrize(
    "text",
    [
        "blake3:../../x",
        "blake3:" + "A" * 64,
        "blake3:" + "a" * 63,
        "blake3:" + "a" * 65,
        "sha256:" + "a" * 64,
        "a" * 64,
        "blake3:" + "a" * 62 + "/x",
        "blake3:" + "a" * 64 + "\n",
        "",
    ],
)
def test_parse_digest_rejects_anything_but_64_lowercase_hex(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_digest(text)


def test_parse_digest_accepts_a_real_digest() -> None:
    assert parse_digest(EMPTY) == EMPTY


def test_ids_are_unique_time_ordered_hex() -> None:
    first = new_id()
    time.sleep(0.002)
    ids = [new_id() for _ in range(1000)]
    assert all(is_id(i) for i in ids)
    assert len(set(ids)) == 1000
    assert all(first < i for i in ids)
    assert not is_id("xyz")


def test_clock_is_timezone_aware_utc() -> None:
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == UTC.utcoffset(None)
    naive = now.replace(tzinfo=None)
    assert as_utc(naive) == now


def test_current_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_USER", "  ada  ")
    assert current_actor() == "ada"
    monkeypatch.setenv("FLYWHEEL_USER", "")
    assert current_actor()  # the login name, or "unknown"


def test_error_one_line_and_dict() -> None:
    err = InvalidInputError("bad\nthing", hint="do this")
    assert err.one_line() == "bad thing — do this"
    assert err.exit_code == 2
    assert err.to_dict() == {"error": "invalid_input", "message": "bad\nthing", "hint": "do this"}
    assert FlywheelError("plain").one_line() == "plain"
    assert isinstance(WorkspaceNotFoundError("x"), FlywheelError)


def test_lifecycle_has_the_nine_stages_in_order() -> None:
    assert [s[0] for s in STAGES] == [
        "plan",
        "data",
        "label",
        "track",
        "tune",
        "analyze",
        "registry",
        "serve",
        "monitor",
    ]
    assert not StageStatus("plan", "q").done
    assert StageStatus("plan", "q", (Deliverable("a", True),)).done
    assert not StageStatus("plan", "q", (Deliverable("a", True), Deliverable("b", False))).done
