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
    assert [e.action for e in events] == ["workspace.store.created"]
    assert schema.current_revision(ws.engine) == schema.HEAD


def test_upgrading_from_0002_builds_the_tree_of_existing_events(tmp_path, admin):
    """A store made before the audit tree existed gets its tree on `keel init`."""
    from alembic import command
    from alembic.config import Config

    from keel.audit import merkle, tree
    from keel.config import DB_FILE, Settings
    from keel.store import make_engine

    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / DB_FILE}")
    engine = make_engine(settings.database_url)
    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        bodies = [f'{{"seq":{i},"v":1}}'.encode() for i in range(1, 6)]
        for i, body in enumerate(bodies, start=1):
            conn.exec_driver_sql(
                "INSERT INTO audit_events (log, seq, time, actor, action, subject, op, body) "
                "VALUES ('governance', ?, 't', 'a', 'x', 's', 'o', ?)",
                (i, body),
            )
        conn.commit()
    engine.dispose()
    ws, _ = init_workspace(settings, admin)
    with ws.read() as session:
        root = tree.root(session.connection(), "governance", 5)
    ws.close()
    assert root == merkle.MemoryTree(bodies).root()
