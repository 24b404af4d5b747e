"""A workspace: opened only when initialised at this Keel's schema; its mode guards changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from keel import audit
from keel.config import DB_FILE, Settings
from keel.errors import WorkspaceError
from keel.identity import user_actor
from keel.store import schema
from keel.workspace import EMBEDDED, SERVER, init_workspace, open_workspace
from keel.workspace.core import get_mode, set_mode


def test_a_missing_workspace_is_not_opened(tmp_path):
    settings = Settings(
        home=tmp_path / "nowhere", database_url=f"sqlite:///{tmp_path / 'nowhere' / DB_FILE}"
    )
    with pytest.raises(WorkspaceError, match="run `keel init` first"):
        open_workspace(settings)


def test_a_store_at_another_schema_is_not_opened(ws, settings):
    with ws.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(WorkspaceError, match=f"at schema 0001, this Keel expects {schema.HEAD}"):
        open_workspace(settings)


def test_init_twice_opens_the_same_workspace(ws, settings, admin):
    again, created = init_workspace(settings, admin)
    try:
        assert created is False and again.name == ws.name
    finally:
        again.close()


def test_the_mode_changes_once_and_is_logged(ws, admin):
    with ws.write(admin) as session:
        assert get_mode(session) == EMBEDDED
        assert set_mode(session, admin, SERVER) is True
    token_actor = user_actor("user:alice", "token")
    with ws.write(token_actor) as session:  # a token's user may still change it
        assert set_mode(session, token_actor, SERVER) is False
    with (
        pytest.raises(WorkspaceError, match="mode must be one of"),
        ws.write(token_actor) as session,
    ):
        set_mode(session, token_actor, "cluster")
    with ws.read() as session:
        changes = audit.list_events(session, action="workspace.mode.changed")
    assert [(e.details["before"], e.details["after"]) for e in changes] == [(EMBEDDED, SERVER)]


def test_server_mode_refuses_a_local_change_and_keeps_nothing(ws, admin):
    with ws.write(admin) as session:
        set_mode(session, admin, SERVER)
    with ws.read() as session:
        before = audit.head(session)
    with pytest.raises(WorkspaceError, match="server mode"), ws.write(admin) as session:
        audit.append(session, admin, [audit.Change("catalog.entity.created", "x:y/z", {})])
    with ws.read() as session:
        assert audit.head(session) == before
