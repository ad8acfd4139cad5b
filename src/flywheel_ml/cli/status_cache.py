"""A cache of ``flywheel status`` for embedded (SQLite) workspaces.

SQLAlchemy alone takes ~0.35 s to import on a 2-core machine, more than the 0.3 s budget of
``flywheel status``. Every committed SQLite write transaction increments
``workspace_meta.changes`` (see ``backends/sql/database.py``), so (that counter, schema version,
project file, code version) identifies the evidence. That key is read with the standard
library's ``sqlite3`` in a few milliseconds; when it matches the cached one the status is
printed without importing SQLAlchemy. The key is taken *before* the status is computed, so a
write that races with the computation makes the stored key stale rather than the stored status
wrong. A short time-to-live bounds anything time-dependent (ages, staleness) in the evidence.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from flywheel_ml import __version__
from flywheel_ml.backends.sql.revisions import head_revision
from flywheel_ml.config import PROJECT_FILE, Settings

_TTL_SECONDS = 300.0
_FILE = "status.json"


def cache_key(settings: Settings) -> list[Any] | None:
    """The evidence key of an embedded workspace, or None when the cache does not apply."""
    prefix = "sqlite:///"
    if not settings.db_url.startswith(prefix):
        return None
    db_path = settings.db_url[len(prefix) :]
    if not Path(db_path).is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            changes = conn.execute(
                "SELECT value FROM workspace_meta WHERE key = 'changes'"
            ).fetchone()
            schema = conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    project = (settings.root / PROJECT_FILE).stat()
    return [
        __version__,
        head_revision(),
        list(changes or ()),
        schema[0],
        project.st_mtime_ns,
        project.st_size,
        settings.db_url,
    ]


def load(settings: Settings, key: list[Any] | None) -> dict[str, Any] | None:
    """The cached status for ``key``, or None on a miss."""
    if key is None:
        return None
    path = settings.state_dir / "cache" / _FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("key") != key or time.time() - float(doc.get("at", 0)) > _TTL_SECONDS:
        return None
    data = doc.get("data")
    return data if isinstance(data, dict) else None


def store(settings: Settings, key: list[Any] | None, data: dict[str, Any]) -> None:
    """Keep ``data`` under ``key``; failures to write the cache are ignored (it is only a cache)."""
    if key is None:
        return
    folder = settings.state_dir / "cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_FILE}.{os.getpid()}"
        tmp.write_text(
            json.dumps({"key": key, "at": time.time(), "data": data}, default=str), encoding="utf-8"
        )
        tmp.replace(folder / _FILE)
    except OSError:
        pass
