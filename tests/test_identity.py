"""Identities: who an event names, and server mode refusing local identities."""

from __future__ import annotations

import pytest

from keel import audit
from keel.errors import IdentityError, WorkspaceError
from keel.identity import local_actor, user_actor
from keel.workspace import SERVER
from keel.workspace.core import set_mode


def test_local_actor_precedence():
    assert local_actor("user:bob", "carol").id == "user:default/bob"
    assert local_actor(None, "carol").id == "user:default/carol"
    assert local_actor(None, None).via == "local"  # the OS login


@pytest.mark.parametrize("bad", ["group:ops", "user:", "a:b:c"])
def test_identities_must_be_users(bad):
    with pytest.raises(IdentityError):
        user_actor(bad, "local")


def test_server_mode_refuses_local_changes(ws, admin):
    with ws.write(admin) as session:
        assert set_mode(session, admin, SERVER) is True
    with pytest.raises(WorkspaceError, match="server mode"), ws.write(admin):
        pass
    token_user = user_actor("alice", "token")
    with ws.write(token_user) as session:  # the API's identities still may act
        assert set_mode(session, token_user, SERVER) is False
    with ws.read() as session:
        actions = [(e.action, e.details) for e in audit.list_events(session)]
    assert actions[-1] == ("workspace.mode.changed", {"before": "embedded", "after": "server"})
