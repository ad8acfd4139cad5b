"""The auth store contract (:class:`flywheel_ml.core.access.AuthStore`) on both backends, and
the token check (:class:`flywheel_ml.core.access.Access`) on top of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flywheel_ml.backends.sql.auth_store import SqlAuthStore
from flywheel_ml.backends.sql.database import Database
from flywheel_ml.core.access import (
    Access,
    AuthenticationError,
    Role,
    TokenRecord,
    User,
    new_token,
    secret_digest,
)
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_users_are_kept_with_role_and_names_are_unique(database: Database) -> None:
    store = SqlAuthStore(database)
    assert store.list_users() == []
    assert store.get_user("ann") is None
    store.add_user(User(name="bob", role=Role.LEAD, created_at=AT, created_by="root"))
    store.add_user(User(name="ann", role=Role.VIEWER, created_at=AT, created_by="root"))
    assert [(u.name, u.role) for u in store.list_users()] == [
        ("ann", Role.VIEWER),
        ("bob", Role.LEAD),
    ]
    assert store.get_user("bob") == User(
        name="bob", role=Role.LEAD, created_at=AT, created_by="root"
    )
    with pytest.raises(ConflictError):
        store.add_user(User(name="bob", role=Role.ADMIN, created_at=AT, created_by="x"))
    assert store.get_user("bob").role == Role.LEAD  # type: ignore[union-attr]


def test_token_records_round_trip_and_revoke_once(database: Database) -> None:
    store = SqlAuthStore(database)
    store.add_user(User(name="ann", role=Role.SCIENTIST, created_at=AT, created_by="root"))
    record = TokenRecord(
        id="0" * 31 + "1",
        user="ann",
        secret_sha256=secret_digest("s" * 43),
        created_at=AT,
        expires_at=AT + timedelta(days=90),
    )
    store.add_token(record)
    assert store.get_token(record.id) == record
    assert store.get_token("f" * 32) is None
    revoked = store.revoke_token(record.id, at=AT + timedelta(hours=1))
    assert revoked is not None and revoked.revoked_at == AT + timedelta(hours=1)
    again = store.revoke_token(record.id, at=AT + timedelta(hours=2))
    assert again is not None and again.revoked_at == AT + timedelta(hours=1)
    assert store.revoke_token("f" * 32, at=AT) is None
    assert store.list_tokens("ann") == [revoked]
    assert store.list_tokens("nobody") == []


def test_access_issues_checks_expires_and_revokes_tokens(database: Database) -> None:
    access = Access(SqlAuthStore(database))
    with pytest.raises(NotFoundError):
        access.create_token("ann")
    access.add_user("ann", role="scientist", actor="root")
    with pytest.raises(InvalidInputError):
        access.add_user("b/../c", role="viewer", actor="root")
    with pytest.raises(InvalidInputError):
        access.add_user("carl", role="superuser", actor="root")
    issued = access.create_token("ann", expires="1d")
    stored = access.list_tokens("ann")[0]
    assert issued.token not in repr(stored)  # only the digest is stored
    assert stored.secret_sha256 != issued.token.rsplit("_", 1)[1]
    principal = access.authenticate(issued.token)
    assert (principal.user, principal.role, principal.token_id) == (
        "ann",
        Role.SCIENTIST,
        issued.record.id,
    )
    assert issued.record.expires_at is not None
    with pytest.raises(AuthenticationError, match="expired"):
        access.authenticate(issued.token, now=issued.record.expires_at + timedelta(seconds=1))
    forged = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError, match="not valid"):
        access.authenticate(forged)
    unknown, _id, _secret = new_token()
    with pytest.raises(AuthenticationError, match="not valid"):
        access.authenticate(unknown)
    access.revoke_token(issued.record.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        access.authenticate(issued.token)
    with pytest.raises(NotFoundError):
        access.revoke_token("f" * 32)
    forever = access.create_token("ann", expires="never")
    assert forever.record.expires_at is None
    assert access.authenticate(forever.token, now=AT + timedelta(days=10_000)).user == "ann"
