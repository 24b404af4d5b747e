"""The workspace's signing keys: created by `keel init`, kept in KEEL_HOME (mode 0600).

Two keys, one per log: `audit-ed25519.pem` signs the governance log (the control plane's),
`audit-traffic-ed25519.pem` the traffic log (the gateway's, which never needs the first).
`audit_keys` holds every public key the workspace has used, so exports carry that history;
which of them a verifier trusts is decided by `keel.audit.trust`, never by that table.

A store has one governance key: `keel init` creates it only for a store that has none, and
a second host joins a store only with a copy of its key file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keel.audit.note import VerifierKey, key_hash
from keel.audit.tables import KeyRow
from keel.clock import stamp
from keel.errors import WorkspaceError

KEY_FILE = "audit-ed25519.pem"
TRAFFIC_KEY_FILE = "audit-traffic-ed25519.pem"
PENDING_FILE = "audit-ed25519.next.pem"  # a rotation's new key, until its transaction commits


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    @property
    def key_id(self) -> str:
        return key_hash(self.name, self.public_key).hex()


def _write_key(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def load_signer(home: Path, name: str, file: str = KEY_FILE) -> Signer:
    path = home / file
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise WorkspaceError(
            f"no signing key at {path}: run `keel init` where it was created"
        ) from None
    except ValueError:
        raise WorkspaceError(f"{path} is not a PEM Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise WorkspaceError(f"{path} is not an Ed25519 key")
    return Signer(name, key)


def ensure_key(session: Session, home: Path, name: str) -> Signer:
    """The governance key: created (file and history row) only for a store that has none.

    A store that has a key is joined only with a copy of it; any other key file, or none,
    is refused with one line saying how, so two hosts never sign with different keys.
    """
    path = home / KEY_FILE
    current = (
        session.execute(select(KeyRow).where(KeyRow.name == name, KeyRow.retired_at.is_(None)))
        .scalars()
        .all()
    )
    if current:
        ids = ", ".join(r.key_id for r in current)
        if not path.exists():
            raise WorkspaceError(
                f"this store is signed with key {ids}, which {home} does not hold: copy "
                f"{KEY_FILE} from the host that made the store into {home} (mode 0600) and run "
                "`keel init` again (init never makes a second key for a store)"
            )
        signer = load_signer(home, name)
        if signer.key_id not in {r.key_id for r in current}:
            raise WorkspaceError(
                f"{path} holds key {signer.key_id}, but this store is signed with {ids}: copy "
                f"the store's {KEY_FILE} from a host that holds it, or use another KEEL_HOME"
            )
        return signer
    if session.execute(select(KeyRow.key_id).where(KeyRow.name == name).limit(1)).first():
        raise WorkspaceError(
            "this store's signing keys are all retired: the key history is damaged; "
            "run `keel audit verify`"
        )
    if not path.exists():
        _write_key(path, Ed25519PrivateKey.generate())
    signer = load_signer(home, name)
    _add(session, signer)
    return signer


def ensure_traffic_key(session: Session, home: Path, name: str) -> Signer | None:
    """The traffic key, created with its history row when the store has none; None when the
    store has one that this host does not hold (copy it to the gateway's host)."""
    current = (
        session.execute(
            select(KeyRow.key_id).where(KeyRow.name == name, KeyRow.retired_at.is_(None))
        )
        .scalars()
        .all()
    )
    path = home / TRAFFIC_KEY_FILE
    if current:
        if not path.exists():
            return None
        signer = load_signer(home, name, TRAFFIC_KEY_FILE)
        return signer if signer.key_id in current else None
    if not path.exists():
        _write_key(path, Ed25519PrivateKey.generate())
    signer = load_signer(home, name, TRAFFIC_KEY_FILE)
    _add(session, signer)
    return signer


def _add(session: Session, signer: Signer) -> None:
    if session.get(KeyRow, signer.key_id) is None:
        session.add(
            KeyRow(
                key_id=signer.key_id,
                name=signer.name,
                public_key=signer.public_key,
                created_at=stamp(),
                retired_at=None,
            )
        )
        session.flush()


def rotate(session: Session, home: Path, name: str) -> tuple[Signer, Signer]:
    """A new key replaces the current one, which is kept (retired) in the history.

    The new key is written beside the current one and takes its place only once the
    history says so (`settle`), so a crash on either side of the commit leaves the key
    file and the history in agreement.
    """
    old = load_signer(home, name)
    _write_key(home / f"audit-ed25519.{old.key_id}.retired.pem", old.private_key)
    new = Signer(name, Ed25519PrivateKey.generate())
    _write_key(home / PENDING_FILE, new.private_key)
    _add(session, new)
    session.execute(update(KeyRow).where(KeyRow.key_id == old.key_id).values(retired_at=stamp()))
    session.flush()
    return old, new


def settle(session: Session, home: Path, name: str) -> None:
    """Finish or undo an interrupted rotation: the pending key becomes the key file if its
    rotation committed (the history holds it, current), and is deleted if it did not."""
    pending = home / PENDING_FILE
    if not pending.exists():
        return
    key = serialization.load_pem_private_key(pending.read_bytes(), password=None)
    signer = Signer(name, key)  # type: ignore[arg-type]
    row = session.get(KeyRow, signer.key_id)
    if row is not None and row.retired_at is None:
        os.replace(pending, home / KEY_FILE)
    else:
        pending.unlink()


def history(session: Session) -> list[dict]:
    rows = session.execute(select(KeyRow).order_by(KeyRow.created_at, KeyRow.key_id)).scalars()
    return [
        {
            "key_id": r.key_id,
            "name": r.name,
            "public_key": bytes(r.public_key).hex(),
            "created_at": r.created_at,
            "retired_at": r.retired_at,
        }
        for r in rows
    ]


def verifier_keys(entries: list[dict]) -> list[VerifierKey]:
    return [VerifierKey(e["name"], bytes.fromhex(e["public_key"])) for e in entries]
