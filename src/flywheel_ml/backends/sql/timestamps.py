"""Datetimes read back from SQLite lose their timezone; every store reads them through here."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite returns naive UTC values)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def required(value: datetime) -> datetime:
    """Like :func:`aware` for a NOT NULL column."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
