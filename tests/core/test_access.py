"""The pure rules of the team server: roles, token format, lifetimes and the policy table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flywheel_ml.core.access import (
    AuthenticationError,
    Role,
    bearer_token,
    check_user_name,
    new_token,
    parse_duration,
    parse_role,
    parse_token,
    secret_digest,
)
from flywheel_ml.core.policy import POLICY, allows, is_public, required_role
from flywheel_ml.errors import InvalidInputError


def test_roles_are_ordered_and_parsed() -> None:
    assert Role.VIEWER < Role.ANNOTATOR < Role.SCIENTIST < Role.LEAD < Role.ADMIN
    assert parse_role(" Lead ") is Role.LEAD
    with pytest.raises(InvalidInputError, match="unknown role"):
        parse_role("root")


def test_tokens_have_a_fixed_shape_and_only_their_hash_is_kept() -> None:
    token, token_id, secret = new_token()
    assert token == f"fwt_{token_id}_{secret}"
    assert len(secret) == 43  # 32 random bytes, base64url without padding
    assert parse_token(token) == (token_id, secret)
    assert secret_digest(secret) != secret and len(secret_digest(secret)) == 64
    assert new_token()[0] != token
    for bad in ("", "fwt", "abc_" + token_id + "_" + secret, f"fwt_{token_id}_short",
                f"fwt_nothex_{secret}", token + "x" * 200):  # fmt: skip
        with pytest.raises(AuthenticationError):
            parse_token(bad)


def test_bearer_header_and_lifetimes() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("never") is None
    for bad in ("0d", "-1d", "90", "d", "1y", "99999d"):
        with pytest.raises(InvalidInputError):
            parse_duration(bad)


def test_user_names_cannot_carry_paths() -> None:
    assert check_user_name("ann.lee-2") == "ann.lee-2"
    for bad in ("../x", "a/b", "", ".hidden", "a" * 64, "a\x00b", "a b"):
        with pytest.raises(InvalidInputError):
            check_user_name(bad)


def test_policy_denies_what_it_does_not_name() -> None:
    assert required_role("GET", "/api/v1/not-in-the-table") is None
    assert not allows(Role.ADMIN, "GET", "/api/v1/not-in-the-table")
    assert not allows(Role.ADMIN, "DELETE", "/api/v1/plan")
    assert allows(Role.VIEWER, "GET", "/api/v1/plan")
    assert allows(Role.VIEWER, "HEAD", "/api/v1/plan")
    assert not allows(Role.SCIENTIST, "POST", "/api/v1/serve/{model}/{action}")
    assert allows(Role.LEAD, "POST", "/api/v1/serve/{model}/{action}")
    assert is_public("GET", "/healthz") and not is_public("POST", "/healthz")
    assert not is_public("GET", "/api/v1/plan")
    assert all(isinstance(role, Role) for role in POLICY.values())
