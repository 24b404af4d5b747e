"""Shared fixtures: one workspace fixture run over both store backends (the contract tests).

The PostgreSQL run uses the server at KEEL_TEST_DATABASE_URL (default: 127.0.0.1:5432,
database `test`), each test in a schema of its own that is dropped afterwards. Off CI a
missing server skips those runs; on CI (CI=true) it fails them: they must run there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from keel.config import DB_FILE, Settings
from keel.identity import Actor, user_actor
from keel.workspace import Workspace, init_workspace

PG_URL = os.environ.get(
    "KEEL_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPO = Path(__file__).resolve().parents[1]
# test material written by other projects, vendored unchanged (each folder's SOURCE.txt says whence)
VECTORS = REPO / "tests" / "vectors"
BACKSTAGE_EXAMPLES = VECTORS / "backstage" / "examples"
EXAMPLES = REPO / "examples"
GERMAN_CREDIT = EXAMPLES / "demo" / "data" / "german_credit" / "german.data"
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_url() -> str:
    problem = _pg_available()
    if problem:
        if ON_CI:
            pytest.fail(f"PostgreSQL must be reachable on CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    return PG_URL


@pytest.fixture
def pg_schema_url(pg_url: str) -> Iterator[str]:
    """A database URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"keel_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path: Path) -> Settings:
    """Workspace settings on each backend."""
    if request.param == "sqlite":
        return Settings(home=tmp_path / "ws", database_url=f"sqlite:///{tmp_path / 'ws' / DB_FILE}")
    url = request.getfixturevalue("pg_schema_url")
    return Settings(home=tmp_path / "ws", database_url=url)


@pytest.fixture
def admin() -> Actor:
    return user_actor("user:alice", "local")


@pytest.fixture
def ws(settings: Settings, admin: Actor) -> Iterator[Workspace]:
    """An initialised workspace on each backend."""
    workspace, _ = init_workspace(settings, admin)
    yield workspace
    workspace.close()


@pytest.fixture
def sqlite_ws(tmp_path: Path, admin: Actor) -> Iterator[Workspace]:
    """An initialised embedded workspace, for tests that are not about the backend."""
    settings = Settings(home=tmp_path / "ws", database_url=f"sqlite:///{tmp_path / 'ws' / DB_FILE}")
    workspace, _ = init_workspace(settings, admin)
    yield workspace
    workspace.close()


@pytest.fixture
def demo_ws(ws: Workspace, admin: Actor) -> Workspace:
    """A workspace (each backend) holding the demo catalog."""
    from keel.catalog import service

    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    with ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
    return ws


@pytest.fixture(scope="session")
def credit_artifacts(tmp_path_factory) -> dict[str, Path]:
    """name -> .skops file of each demo credit model, trained on German Credit."""
    from skops.io import dump

    from keel.demo.credit import train

    folder = tmp_path_factory.mktemp("artifacts")
    out = {}
    for model in train(GERMAN_CREDIT):
        out[model.name] = folder / f"{model.name}.skops"
        dump(model.pipeline, out[model.name])
    return out
