"""Who may use the team server: users, roles, API tokens, and which role may call which route.

Pure rules, no framework: the SQL store keeps users and token records
(``backends/sql/auth_store.py``), the Starlette middleware (``server/team_auth.py``) applies
:func:`required_role` to the route a request matched and :meth:`Access.authenticate` to its
``Authorization: Bearer`` token.

- **Roles** are ordered: viewer < annotator < scientist < lead < admin; a role may do what every
  lower role may.
- **Tokens** look like ``fwt_<id>_<secret>``: ``id`` (32 hex) names the stored record, ``secret``
  is 32 random bytes (base64url). Only the SHA-256 of the secret is stored and it is compared in
  constant time, so a database dump yields no usable token. Every token may expire and be
  revoked; there are no default credentials — the first user is created on the server host.
- **The policy table** (:data:`POLICY`) maps each route (method and path template as the app
  declares it) to the lowest role allowed to call it. A route missing from the table is denied
  to everyone, admin included: a new endpoint stays closed until someone decides who may use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Protocol

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.ids import is_id, new_id
from flywheel_ml.errors import ConflictError, FlywheelError, InvalidInputError, NotFoundError

TOKEN_PREFIX = "fwt"
_SECRET_BYTES = 32
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_DURATION_RE = re.compile(r"(\d{1,6})([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_TOKEN_LIFETIME = timedelta(days=3650)


class Role(IntEnum):
    """A user's role; a higher role may do everything a lower one may."""

    VIEWER = 10
    ANNOTATOR = 20
    SCIENTIST = 30
    LEAD = 40
    ADMIN = 50

    @property
    def label(self) -> str:
        """The role's name as users type it (``scientist``)."""
        return self.name.lower()


ROLE_NAMES: tuple[str, ...] = tuple(r.label for r in Role)


class AuthenticationError(FlywheelError):
    """No token, or a token that is malformed, unknown, expired or revoked (HTTP 401)."""

    code = "unauthenticated"
    http_status = 401


class ForbiddenError(FlywheelError):
    """An authenticated user whose role may not call this route (HTTP 403)."""

    code = "forbidden"
    http_status = 403


# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    """A person (or service) that may hold tokens."""

    name: str
    role: Role
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token: everything but the secret (only its SHA-256 is kept)."""

    id: str
    user: str
    secret_sha256: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request was authenticated as."""

    user: str
    role: Role
    token_id: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created: ``token`` is shown once and never stored."""

    token: str
    record: TokenRecord


class AuthStore(Protocol):
    """Where users and token records live (the workspace database)."""

    def add_user(self, user: User) -> None:
        """Add ``user``; ConflictError when the name is taken."""
        ...

    def get_user(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        ...

    def list_users(self) -> list[User]:
        """Every user, by name."""
        ...

    def add_token(self, record: TokenRecord) -> None:
        """Store a token record (its user exists)."""
        ...

    def get_token(self, token_id: str) -> TokenRecord | None:
        """The token record ``token_id``, or None."""
        ...

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Every token record (of ``user`` when given), oldest first."""
        ...

    def revoke_token(self, token_id: str, *, at: datetime) -> TokenRecord | None:
        """Mark the token revoked at ``at`` (kept when already revoked); None when unknown."""
        ...


# -- pure rules ----------------------------------------------------------------------------------


def parse_role(text: str) -> Role:
    """The role named ``text`` (case-insensitive).

    Raises:
        InvalidInputError: not one of viewer, annotator, scientist, lead, admin.
    """
    try:
        return Role[text.strip().upper()]
    except KeyError:
        raise InvalidInputError(
            f"unknown role {text[:40]!r}", hint=f"use one of: {', '.join(ROLE_NAMES)}"
        ) from None


def check_user_name(name: str) -> str:
    """``name`` when it is a valid user name (letters, digits, ``.``, ``_``, ``-``; ≤ 63).

    Raises:
        InvalidInputError: the name has other characters or is too long.
    """
    if not _NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"invalid user name {name[:70]!r}",
            hint="use letters, digits, '.', '_' or '-' (at most 63, starting with a letter/digit)",
        )
    return name


def parse_duration(text: str) -> timedelta | None:
    """A lifetime like ``90d``, ``12h``, ``2w``, ``30m``; ``never`` means no expiry (None).

    Raises:
        InvalidInputError: not a positive number with a unit s/m/h/d/w, or longer than 10 years.
    """
    raw = text.strip().lower()
    if raw == "never":
        return None
    found = _DURATION_RE.fullmatch(raw)
    if not found or int(found.group(1)) == 0:
        raise InvalidInputError(
            f"not a token lifetime: {text[:40]!r}",
            hint="give a positive number and a unit: 90d, 12h, 2w, 30m (or 'never')",
        )
    value = timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])
    if value > MAX_TOKEN_LIFETIME:
        raise InvalidInputError(
            f"token lifetime {text!r} is longer than 10 years", hint="use at most 3650d"
        )
    return value


def secret_digest(secret: str) -> str:
    """The stored form of a token secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str, str]:
    """A fresh ``(token, id, secret)``; ``token`` is ``fwt_<id>_<secret>``."""
    token_id = new_id()
    secret = base64.urlsafe_b64encode(secrets.token_bytes(_SECRET_BYTES)).decode().rstrip("=")
    return f"{TOKEN_PREFIX}_{token_id}_{secret}", token_id, secret


def parse_token(text: str) -> tuple[str, str]:
    """The ``(id, secret)`` of a token string.

    Raises:
        AuthenticationError: not of the form ``fwt_<id>_<secret>``.
    """
    parts = text.strip().split("_", 2)
    if (
        len(text) > 200
        or len(parts) != 3
        or parts[0] != TOKEN_PREFIX
        or not is_id(parts[1])
        or len(parts[2]) < 40
    ):
        raise AuthenticationError(
            "the token is malformed",
            hint="send 'Authorization: Bearer fwt_...' with a token from `flywheel server token "
            "create`",
        )
    return parts[1], parts[2]


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def is_expired(record: TokenRecord, now: datetime) -> bool:
    """Whether the token's lifetime is over at ``now``."""
    return record.expires_at is not None and now >= record.expires_at


# -- the service ---------------------------------------------------------------------------------


class Access:
    """Users and tokens of one workspace, and the check of a presented token."""

    def __init__(self, store: AuthStore) -> None:
        self._store = store

    def add_user(self, name: str, *, role: str, actor: str) -> User:
        """Create the user ``name`` with ``role``.

        Raises:
            InvalidInputError: a bad name or role.
            ConflictError: the name is taken.
        """
        user = User(
            name=check_user_name(name),
            role=parse_role(role),
            created_at=utc_now(),
            created_by=actor,
        )
        if self._store.get_user(user.name) is not None:
            raise ConflictError(
                f"user {name!r} exists already", hint="pick another name or create a token for it"
            )
        self._store.add_user(user)
        return user

    def list_users(self) -> list[User]:
        """Every user, by name."""
        return self._store.list_users()

    def create_token(self, user: str, *, expires: str = "90d") -> IssuedToken:
        """A new token for ``user`` valid for ``expires`` (``never``: no expiry).

        Raises:
            NotFoundError: no such user.
            InvalidInputError: a bad lifetime.
        """
        lifetime = parse_duration(expires)
        if self._store.get_user(user) is None:
            raise NotFoundError(
                f"no user {user!r}", hint="create it first: flywheel server user add NAME --role R"
            )
        token, token_id, secret = new_token()
        now = utc_now()
        record = TokenRecord(
            id=token_id,
            user=user,
            secret_sha256=secret_digest(secret),
            created_at=now,
            expires_at=None if lifetime is None else now + lifetime,
        )
        self._store.add_token(record)
        return IssuedToken(token=token, record=record)

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Every token record (of ``user`` when given), oldest first."""
        return self._store.list_tokens(user)

    def revoke_token(self, token_id: str) -> TokenRecord:
        """Revoke a token (idempotent); it answers 401 from then on.

        Raises:
            NotFoundError: no such token.
        """
        record = self._store.revoke_token(token_id.strip(), at=utc_now())
        if record is None:
            raise NotFoundError(
                f"no token {token_id[:40]!r}", hint="list them with flywheel server token list"
            )
        return record

    def authenticate(self, token: str, *, now: datetime | None = None) -> Principal:
        """Who presents ``token``.

        Raises:
            AuthenticationError: malformed, unknown, wrong secret, revoked, expired, or its
                user is gone.
        """
        token_id, secret = parse_token(token)
        record = self._store.get_token(token_id)
        # Compare digests even for an unknown id so timing does not tell which ids exist.
        stored = record.secret_sha256 if record is not None else "0" * 64
        matches = hmac.compare_digest(secret_digest(secret), stored)
        if record is None or not matches:
            raise AuthenticationError(
                "the token is not valid", hint="create one with flywheel server token create"
            )
        if record.revoked_at is not None:
            raise AuthenticationError("the token was revoked", hint="ask an admin for a new token")
        if is_expired(record, now or utc_now()):
            raise AuthenticationError("the token has expired", hint="ask an admin for a new token")
        user = self._store.get_user(record.user)
        if user is None:
            raise AuthenticationError("the token's user no longer exists", hint="")
        return Principal(user=user.name, role=user.role, token_id=record.id)
