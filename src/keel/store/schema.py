"""The schema: every package's tables, and the Alembic migrations that create and upgrade them.

`HEAD` names the newest migration; a workspace whose store is at another revision must be
upgraded with `keel init` before use. A test checks that `HEAD` is Alembic's head and that
the migrated schema matches the tables declared in code.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

from keel.store.base import Base

HEAD = "0011"
MIGRATIONS = Path(__file__).parent / "migrations"


def metadata():
    """All tables of all packages, imported here so Alembic and tests see one MetaData."""
    import keel.audit.tables
    import keel.auth.tables
    import keel.catalog.tables
    import keel.gateway.tables
    import keel.incidents.tables
    import keel.notifications.tables
    import keel.pipeline.tables
    import keel.readiness.tables
    import keel.worker.tables
    import keel.workspace.tables  # noqa: F401

    return Base.metadata


def current_revision(engine: Engine) -> str | None:
    """The store's migration revision, or None for an empty store."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the store to HEAD (creates it when empty). Safe to run again."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
