"""The object store on a real S3-compatible server (moto's server mode on 127.0.0.1), through
s3fs: a whole workspace (data, runs, models) with its objects in a bucket."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

moto_server = pytest.importorskip("moto.server")
pytest.importorskip("s3fs")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port())
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket_url(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # botocore reads the endpoint and credentials from the environment, as it would in CI.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    bucket = f"flywheel-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem().mkdir(bucket)
    return f"s3://{bucket}/objects"


def test_workspace_objects_live_in_the_bucket(
    bucket_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    import flywheel_ml as fw
    from flywheel_ml.backends.blobs import FsspecObjectStore

    monkeypatch.setenv("FLYWHEEL_BLOB_URL", bucket_url)
    files = tmp_path / "images"
    for label in ("cat", "dog"):
        (files / label).mkdir(parents=True)
        for i in range(3):
            (files / label / f"{i}.bin").write_bytes(f"{label}-{i}".encode() * 50)
    table = pd.DataFrame({"id": [f"r{i}" for i in range(40)], "x": range(40), "y": [0, 1] * 20})
    with fw.init_workspace(tmp_path / "ws") as ws:
        assert isinstance(ws.objects, FsspecObjectStore)
        folder = ws.data.add(files, name="pets", label_from_folder=True)
        ws.data.add(table, name="rows", label="y", id="id")
        with ws.track.start_run(name="r") as run:
            run.log_text("notes.txt", "stored in S3")
            run_id = run.id
        assert folder.items == 6
        loaded = ws.data.load("rows@v1", split="train")
        assert set(loaded["x"]) <= set(range(40)) and len(loaded) > 0
        notes = ws.track.artifact(run_id, "notes.txt")
        assert ws.objects.get_bytes(notes.digest) == b"stored in S3"
        report = ws.verify()
        assert report.ok and report.checked > 0
        keys = ws.objects.fs.find(bucket_url)
        assert keys and not any("/tmp/" in key for key in keys)  # no half-written object left
        assert not (tmp_path / "ws" / ".flywheel" / "objects").exists()


def test_altered_bytes_in_the_bucket_are_caught(bucket_url: str) -> None:
    from flywheel_ml.backends.blobs import FsspecObjectStore
    from flywheel_ml.errors import IntegrityError

    store = FsspecObjectStore(bucket_url)
    digest = store.put_bytes(b"the real bytes")
    assert store.put_bytes(b"the real bytes") == digest
    hexdigest = digest.removeprefix("blake3:")
    store.fs.pipe_file(f"{bucket_url}/{hexdigest[:2]}/{hexdigest[2:]}", b"tampered!")
    with pytest.raises(IntegrityError):
        store.get_bytes(digest)
    assert not store.check(digest)
    assert [d for d in store.iter_digests()] == [digest]


def test_unreachable_endpoint_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    from flywheel_ml.backends.blobs import FsspecObjectStore
    from flywheel_ml.errors import StoreUnavailableError

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    store = FsspecObjectStore("s3://nowhere/objects")
    with pytest.raises(StoreUnavailableError) as info:
        store.put_bytes(b"x")
    line = info.value.one_line()
    assert "s3://nowhere/objects" in line and "FLYWHEEL_BLOB_URL" in line and "\n" not in line
