"""The migrations create exactly the declared tables, on both backends, and re-run harmlessly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from keel import audit
from keel.store import schema
from keel.workspace import init_workspace


def test_head_constant_is_alembics_head():
    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == schema.HEAD


def test_migrated_schema_matches_the_declared_tables(ws):
    with ws.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata())
    assert diff == []


def test_init_twice_changes_nothing(ws, settings, admin):
    again, created = init_workspace(settings, admin)
    again.close()
    assert created is False
    with ws.read() as session:
        events = audit.list_events(session)
    assert [e.action for e in events] == ["workspace.created"]
    assert schema.current_revision(ws.engine) == schema.HEAD
