"""Credentials: roles in order, only digests stored, expiry, revocation that ends what was
made from a token, single-use login codes, and kinds that never stand in for each other."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from keel.auth import ROLES, create_token, exchange_login_code, revoke_tokens, role_allows, verify
from keel.auth.tables import TokenRow
from keel.errors import NotFoundError, UsageError
from keel.identity import user_actor

ADMIN = user_actor("ana.lima", "local")


@given(st.sampled_from(ROLES), st.sampled_from(ROLES))
def test_roles_are_ordered(have, need):
    assert role_allows(have, need) == (ROLES.index(have) >= ROLES.index(need))


def test_only_the_digest_is_stored_and_the_secret_verifies(demo_ws):
    with demo_ws.write(ADMIN) as session:
        info, secret = create_token(session, ADMIN, "dara.kim", "viewer")
    with demo_ws.read() as session:
        stored = session.execute(sa.select(TokenRow.digest)).scalars().all()
        found = verify(session, secret, kind="api")
        assert verify(session, secret + "x") is None
        assert verify(session, "x" * 201) is None
    assert secret.startswith("keel_pat_") and all(secret not in d for d in stored)
    assert found is not None and (found.actor.id, found.role) == ("user:default/dara.kim", "viewer")
    assert found.token_id == info.id


def test_bad_requests_for_credentials(demo_ws):
    with demo_ws.write(ADMIN) as session:
        with pytest.raises(UsageError, match="role must be one of"):
            create_token(session, ADMIN, "dara.kim", "root")
        with pytest.raises(NotFoundError, match="no such user"):
            create_token(session, ADMIN, "nobody.here", "viewer")
        with pytest.raises(UsageError, match="in the future"):
            create_token(session, ADMIN, "dara.kim", "viewer", ttl=timedelta(0))
        with pytest.raises(UsageError, match="name a token id or a user"):
            revoke_tokens(session, ADMIN)


def test_an_expired_token_does_not_verify(demo_ws):
    with demo_ws.write(ADMIN) as session:
        info, secret = create_token(session, ADMIN, "dara.kim", "editor", ttl=timedelta(days=1))
        session.get(TokenRow, info.id).expires_at = "2000-01-01T00:00:00Z"
    with demo_ws.read() as session:
        assert verify(session, secret) is None


def test_a_session_dies_with_its_token_and_kinds_do_not_mix(demo_ws):
    with demo_ws.write(ADMIN) as session:
        token, secret = create_token(session, ADMIN, "dara.kim", "editor")
        _, cookie = create_token(
            session, ADMIN, "dara.kim", "editor", kind="session", parent=token.id
        )
    with demo_ws.read() as session:
        assert verify(session, cookie, kind="session") is not None
        assert verify(session, cookie, kind="api") is None  # a cookie is not an API token
        assert verify(session, secret, kind="session") is None
    with demo_ws.write(ADMIN) as session:
        assert revoke_tokens(session, ADMIN, token_id=token.id) == [token.id]
    with demo_ws.read() as session:
        assert verify(session, cookie, kind="session") is None  # its token is revoked
    with demo_ws.write(ADMIN) as session, pytest.raises(NotFoundError):
        revoke_tokens(session, ADMIN, token_id=token.id)  # already revoked


def test_a_login_code_is_spent_once(demo_ws):
    with demo_ws.write(ADMIN) as session:
        _, code = create_token(session, ADMIN, "dara.kim", "viewer", kind="login")
    with demo_ws.write(ADMIN) as session:
        first = exchange_login_code(session, code)
    with demo_ws.write(ADMIN) as session:
        again = exchange_login_code(session, code)
    assert first is not None and again is None
    principal, cookie = first
    assert principal.kind == "session" and principal.role == "viewer"
    with demo_ws.read() as session:
        assert verify(session, cookie, kind="session").actor.id == "user:default/dara.kim"
