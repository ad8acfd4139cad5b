"""Team-server users and token records (:class:`flywheel_ml.core.access.AuthStore`) in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata
from flywheel_ml.backends.sql.timestamps import aware, required
from flywheel_ml.core.access import Role, TokenRecord, User
from flywheel_ml.errors import ConflictError

auth_users = sa.Table(
    "auth_users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

auth_tokens = sa.Table(
    "auth_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("auth_users.name"), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_auth_tokens_user", "user_name"),
)


def _user(row: Any) -> User:
    return User(
        name=row["name"],
        role=Role[str(row["role"]).upper()],
        created_at=required(row["created_at"]),
        created_by=row["created_by"],
    )


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        user=row["user_name"],
        secret_sha256=row["secret_sha256"],
        created_at=required(row["created_at"]),
        expires_at=aware(row["expires_at"]),
        revoked_at=aware(row["revoked_at"]),
    )


class SqlAuthStore:
    """Users and token records on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add_user(self, user: User) -> None:
        """Add ``user``.

        Raises:
            ConflictError: a user of that name exists.
        """

        def work(conn: Connection) -> None:
            conn.execute(
                auth_users.insert().values(
                    name=user.name,
                    role=user.role.label,
                    created_at=user.created_at,
                    created_by=user.created_by,
                )
            )

        try:
            self._db.write(work)
        except SqlIntegrityError:
            raise ConflictError(
                f"user {user.name!r} exists already", hint="pick another name"
            ) from None

    def get_user(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(auth_users).where(auth_users.c.name == name)).mappings()
            found = row.first()
        return None if found is None else _user(found)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(auth_users).order_by(auth_users.c.name)).mappings()
            return [_user(r) for r in rows]

    def add_token(self, record: TokenRecord) -> None:
        """Store a token record."""

        def work(conn: Connection) -> None:
            conn.execute(
                auth_tokens.insert().values(
                    id=record.id,
                    user_name=record.user,
                    secret_sha256=record.secret_sha256,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    revoked_at=record.revoked_at,
                )
            )

        self._db.write(work)

    def get_token(self, token_id: str) -> TokenRecord | None:
        """The token record ``token_id``, or None."""
        with self._db.read() as conn:
            found = (
                conn.execute(sa.select(auth_tokens).where(auth_tokens.c.id == token_id))
                .mappings()
                .first()
            )
        return None if found is None else _token(found)

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Every token record (of ``user`` when given), oldest first."""
        query = sa.select(auth_tokens).order_by(auth_tokens.c.created_at, auth_tokens.c.id)
        if user is not None:
            query = query.where(auth_tokens.c.user_name == user)
        with self._db.read() as conn:
            return [_token(r) for r in conn.execute(query).mappings()]

    def revoke_token(self, token_id: str, *, at: datetime) -> TokenRecord | None:
        """Mark the token revoked at ``at`` unless it already is; None when unknown."""

        def work(conn: Connection) -> TokenRecord | None:
            conn.execute(
                auth_tokens.update()
                .where(auth_tokens.c.id == token_id, auth_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            found = (
                conn.execute(sa.select(auth_tokens).where(auth_tokens.c.id == token_id))
                .mappings()
                .first()
            )
            return None if found is None else _token(found)

        return self._db.write(work)
