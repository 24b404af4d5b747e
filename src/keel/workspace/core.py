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
from keel.audit import checkpoints, keys, trust
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
    _appended: bool = False  # a write committed since the log was last signed here
    _sealer: object = None  # the thread signing the tail of a long-running process

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

    def pinned(self) -> list:
        """The keys a verifier here trusts from outside the store: the key file's public key
        (none where this machine does not hold it). Never the store's key table."""
        from keel.audit.note import VerifierKey

        signer = self.signer()
        return [] if signer is None else [VerifierKey(signer.name, signer.public_key)]

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
            self._appended = True
            now = time.monotonic()
            if now - self._checked_at >= 1.0:  # a signed checkpoint at most once a second
                self._checked_at = now
                signer = self.signer()
                if signer is not None:
                    checkpoints.checkpoint(session, signer, force=False)

    def seal(self) -> None:
        """Sign the governance log's unsigned tail now, if this host holds its key.

        Every CLI command that wrote calls it before it exits (`close`), and long-running
        processes every second (`start_sealing`), so no event stays unsigned for long:
        `keel audit verify` fails when one has for longer than its bound.
        """
        self._appended = False
        signer = self.signer()
        if signer is None:
            return
        with transaction(self.engine, write=True) as session:
            checkpoints.checkpoint(session, signer, force=True)

    def start_sealing(self, every: float = 1.0) -> None:
        """Sign the tail every `every` seconds while writes arrive (a long-running process)."""
        from keel.audit.sealer import Sealer

        self._sealer = Sealer(self.seal, lambda: self._appended, every)
        self._sealer.start()

    def close(self) -> None:
        """Stop sealing, sign what this process appended, and let go of the store."""
        try:
            if self._sealer is not None:
                self._sealer.stop()
                self._sealer = None
            if self._appended:
                self.seal()
        finally:
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
    try:
        with transaction(engine, write=True) as session:
            if session.get(SettingRow, "id") is None:  # also for workspaces made before it
                session.add(SettingRow(key="id", value=uuid.uuid4().hex[:16]))
                session.flush()
            keys.ensure_key(session, settings.home, workspace_name(session))
    except WorkspaceError:
        engine.dispose()
        raise
    with ws.write(actor) as session:
        created = session.get(SettingRow, "mode") is None
        name = workspace_name(session)
        if created:
            session.add(SettingRow(key="mode", value=EMBEDDED))
            details = {"mode": EMBEDDED, "schema": schema.HEAD}
            introduces = _traffic_key(session, settings, name)
            if introduces:  # the traffic key, introduced by the first event
                details["introduces"] = introduces
            audit.append(
                session, actor, [audit.Change("workspace.store.created", "workspace", details)]
            )
        else:
            introduces = _traffic_key(session, settings, name)
            if introduces:  # a workspace made before the traffic log had a key
                audit.append(
                    session, actor, [audit.Change(trust.INTRODUCED, "workspace", introduces)]
                )
    ws.seal()
    return ws, created


def _traffic_key(session: Session, settings: Settings, name: str) -> dict | None:
    """The details that introduce the traffic log's own key, when it needs introducing.

    The gateway signs its log with this key, never the governance key; the governance key
    endorses it, and verifiers trust it once a governance checkpoint covers the event.
    """
    from keel.audit import log as audit_log

    traffic = keys.ensure_traffic_key(session, settings.home, trust.key_name(name, "traffic"))
    if traffic is None or audit_log.introduced(session, traffic.key_id):
        return None
    governance = keys.load_signer(settings.home, name)
    return audit_log.introduction(governance, traffic, "traffic")


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
        session.connection(),
        "SELECT value FROM workspace_settings WHERE key = ?",
        ("mode",),
        prepare=True,
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
