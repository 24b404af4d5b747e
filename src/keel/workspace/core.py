"""Opening, initialising and switching the mode of a workspace."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import Session

from keel import audit
from keel.audit import checkpoints, keys
from keel.config import Settings
from keel.errors import WorkspaceError
from keel.identity import Actor
from keel.store import driver, make_engine, schema, transaction
from keel.workspace.tables import SettingRow

EMBEDDED, SERVER = "embedded", "server"
MODES = (EMBEDDED, SERVER)


@dataclass
class Workspace:
    settings: Settings
    engine: Engine
    _signer: object = None  # the audit signing key, loaded on first use
    _checked_at: float = 0.0  # when this process last looked whether a checkpoint is due

    @property
    def name(self) -> str:
        """The workspace's stable name, the prefix of its logs' origins: keel.dev/<id>."""
        with self.read() as session:
            return workspace_name(session)

    def signer(self):
        """The audit signing key, or None where this machine does not hold it."""
        from keel.audit import keys

        if self._signer is None:
            try:
                if (self.settings.home / keys.PENDING_FILE).exists():
                    with self.read() as session:
                        keys.settle(session, self.settings.home, self.name)
                self._signer = keys.load_signer(self.settings.home, self.name)
            except WorkspaceError:
                return None
        return self._signer

    @contextmanager
    def read(self) -> Iterator[Session]:
        with transaction(self.engine, write=False) as session:
            yield session

    @contextmanager
    def write(self, actor: Actor) -> Iterator[Session]:
        """A write transaction for `actor`; local identities are refused in server mode."""
        with transaction(self.engine, write=True) as session:
            if actor.via == "local" and get_mode(session) == SERVER:
                raise WorkspaceError(
                    "this workspace is in server mode: changes go through the API "
                    "(set KEEL_URL and KEEL_TOKEN to an API token)"
                )
            yield session
            now = time.monotonic()
            if now - self._checked_at >= 1.0:  # a signed checkpoint at most once a second
                self._checked_at = now
                signer = self.signer()
                if signer is not None:
                    checkpoints.checkpoint(session, signer, force=False)

    def close(self) -> None:
        self.engine.dispose()


def open_workspace(settings: Settings) -> Workspace:
    """An initialised workspace at its current schema; raises WorkspaceError otherwise."""
    if settings.embedded and not (settings.home / "keel.db").exists():
        raise WorkspaceError(f"no Keel workspace at {settings.home}: run `keel init` first")
    engine = _engine(settings)
    try:
        revision = schema.current_revision(engine)
    except DatabaseError as exc:
        engine.dispose()
        raise WorkspaceError(f"cannot use the store: {_first_line(exc)}") from None
    if revision is None:
        engine.dispose()
        raise WorkspaceError("the store has no Keel schema: run `keel init` first")
    if revision != schema.HEAD:
        engine.dispose()
        raise WorkspaceError(
            f"the store is at schema {revision}, this Keel expects {schema.HEAD}: run `keel init`"
        )
    return Workspace(settings, engine)


def init_workspace(settings: Settings, actor: Actor) -> tuple[Workspace, bool]:
    """Create or upgrade the workspace; returns it and whether it was created just now."""
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(
            f"cannot create the workspace {settings.home}: {exc.strerror or exc}"
        ) from None
    engine = _engine(settings)
    try:
        schema.upgrade(engine)
    except DatabaseError as exc:
        engine.dispose()
        raise WorkspaceError(f"cannot use the store: {_first_line(exc)}") from None
    ws = Workspace(settings, engine)
    with transaction(engine, write=True) as session:
        if session.get(SettingRow, "id") is None:  # also for workspaces made before it existed
            session.add(SettingRow(key="id", value=uuid.uuid4().hex[:16]))
            session.flush()
        keys.ensure_key(session, settings.home, workspace_name(session))
    with ws.write(actor) as session:
        created = session.get(SettingRow, "mode") is None
        if created:
            session.add(SettingRow(key="mode", value=EMBEDDED))
            audit.append(
                session,
                actor,
                [
                    audit.Change(
                        "workspace.store.created",
                        "workspace",
                        {"mode": EMBEDDED, "schema": schema.HEAD},
                    )
                ],
            )
    return ws, created


def _engine(settings: Settings) -> Engine:
    try:
        return make_engine(settings.database_url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise WorkspaceError(
            f"KEEL_DATABASE_URL is not a usable SQLite or PostgreSQL URL: {_first_line(exc)}"
        ) from None


def workspace_name(session: Session) -> str:
    value = session.execute(select(SettingRow.value).where(SettingRow.key == "id")).scalar()
    if value is None:
        raise WorkspaceError("the workspace has no id yet: run `keel init`")
    return f"keel.dev/{value}"


def get_mode(session: Session) -> str:
    # Every write transaction asks: the driver's cursor takes ~2 us where the ORM took ~130.
    session.flush()  # as an ORM query would, so a mode set in this session counts
    value = driver.scalar(
        session.connection(), "SELECT value FROM workspace_settings WHERE key = ?", ("mode",)
    )
    return value or EMBEDDED


def set_mode(session: Session, actor: Actor, mode: str) -> bool:
    """Switch the workspace's mode; returns False when it already was in that mode."""
    if mode not in MODES:
        raise WorkspaceError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    before = get_mode(session)
    if before == mode:
        return False
    session.merge(SettingRow(key="mode", value=mode))
    audit.append(
        session,
        actor,
        [
            audit.Change(
                "workspace.mode.changed",
                "workspace",
                {"before": before, "after": mode},
            )
        ],
    )
    return True


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
