"""The workspace's signing key: created by `keel init`, kept in KEEL_HOME (mode 0600).

The key file holds the current private key; `audit_keys` holds every public key the
workspace has used, so checkpoints signed before a rotation still verify, and exports
carry that history.
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


def load_signer(home: Path, name: str) -> Signer:
    path = home / KEY_FILE
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
    """The workspace's key, created (file and history row) when there is none yet."""
    path = home / KEY_FILE
    if not path.exists():
        _write_key(path, Ed25519PrivateKey.generate())
    signer = load_signer(home, name)
    if session.get(KeyRow, signer.key_id) is None:
        session.add(
            KeyRow(
                key_id=signer.key_id,
                name=name,
                public_key=signer.public_key,
                created_at=stamp(),
                retired_at=None,
            )
        )
        session.flush()
    return signer


def rotate(session: Session, home: Path, name: str) -> tuple[Signer, Signer]:
    """A new key replaces the current one, which is kept (retired) in the history.

    The new key is written beside the current one and takes its place only once the
    history says so (`settle`), so a crash on either side of the commit leaves the key
    file and the history in agreement.
    """
    old = ensure_key(session, home, name)
    _write_key(home / f"audit-ed25519.{old.key_id}.retired.pem", old.private_key)
    new = Signer(name, Ed25519PrivateKey.generate())
    _write_key(home / PENDING_FILE, new.private_key)
    session.add(
        KeyRow(
            key_id=new.key_id,
            name=name,
            public_key=new.public_key,
            created_at=stamp(),
            retired_at=None,
        )
    )
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
