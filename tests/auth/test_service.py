"""Tokens, login codes and sessions on each store: who a secret stands for, and for how long."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keel.audit import list_events
from keel.auth import create_token, exchange_login_code, list_tokens, revoke_tokens, verify
from keel.catalog import service
from keel.errors import NotFoundError, UsageError
from tests.catalog.helpers import entity


@pytest.fixture
def people(ws, admin):
    users = [entity("User", name, {"memberOf": []}) for name in ("ana", "bo")]
    with ws.write(admin) as session:
        service.apply(session, admin, service.load_text(_yaml(users)))
    return ws


def _yaml(docs):
    import yaml

    return yaml.safe_dump_all(docs)


def test_a_token_stands_for_its_user_and_role_until_revoked(people, admin):
    with people.write(admin) as session:
        info, secret = create_token(session, admin, "ana", "editor", note="ci")
    with people.read() as session:
        principal = verify(session, secret)
        assert principal.actor.id == "user:default/ana" and principal.actor.via == "token"
        assert principal.role == "editor" and principal.token_id == info.id
        assert verify(session, secret + "x") is None
        assert verify(session, secret, kind="session") is None  # an API token is not a session
        assert [t.id for t in list_tokens(session)] == [info.id]
    with people.write(admin) as session:
        assert revoke_tokens(session, admin, token_id=info.id) == [info.id]
    with people.read() as session:
        assert verify(session, secret) is None
        assert [e.action for e in list_events(session, subject="user:default/ana")] == [
            "catalog.entity.created",
            "auth.token.created",
            "auth.token.revoked",
        ]
        assert secret not in str([e.details for e in list_events(session)])  # never logged


@pytest.mark.parametrize(
    "user, role, ttl, error",
    [
        ("ana", "owner", None, UsageError),
        ("nobody", "viewer", None, NotFoundError),
        ("ana", "viewer", timedelta(0), UsageError),
    ],
)
def test_bad_requests_create_nothing(people, admin, user, role, ttl, error):
    with pytest.raises(error), people.write(admin) as session:
        create_token(session, admin, user, role, ttl=ttl)
    with people.read() as session:
        assert list_tokens(session) == []


def test_a_login_code_is_spent_once_and_its_session_dies_with_the_token_it_came_from(people, admin):
    with people.write(admin) as session:
        token, _ = create_token(session, admin, "bo", "viewer")
        _, code = create_token(session, admin, "bo", "viewer", kind="login", parent=token.id)
    with people.write(admin) as session:
        principal, session_secret = exchange_login_code(session, code)
        assert principal.kind == "session" and principal.actor.id == "user:default/bo"
    with people.write(admin) as session:
        assert exchange_login_code(session, code) is None  # spent
        assert verify(session, session_secret, kind="session") is not None
        revoke_tokens(session, admin, token_id=token.id)
    with people.read() as session:
        assert verify(session, session_secret, kind="session") is None


def test_revoking_a_user_revokes_every_live_credential(people, admin):
    with people.write(admin) as session:
        ids = {create_token(session, admin, "ana", "viewer")[0].id for _ in range(3)}
        create_token(session, admin, "bo", "viewer")
    with people.write(admin) as session:
        assert set(revoke_tokens(session, admin, user="ana")) == ids
    with pytest.raises(NotFoundError), people.write(admin) as session:
        revoke_tokens(session, admin, user="ana")  # nothing live is left
    with people.read() as session:
        assert [t.user for t in list_tokens(session)] == ["user:default/bo"]
