"""Consumer API keys: issued per consumer, scoped to endpoints, one environment and
operations, with optional expiry and limits; shown once, stored as SHA-256 digests.

A key is `keel_gw_` + 256 random bits, so a plain SHA-256 digest is as strong as a slow
password hash here and costs about a microsecond per request (a slow hash would cost
~50 ms). Creating and revoking keys are `gateway.key.*` events in the governance log.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel import audit
from keel.clock import stamp
from keel.errors import NotFoundError, UsageError
from keel.gateway.routes import check_environment, endpoint_key
from keel.gateway.tables import KeyRow
from keel.identity import Actor

PREFIX = "keel_gw_"
OPERATIONS = ("chat", "embeddings", "predict", "models")
CONSUMER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$")


@dataclass(frozen=True, slots=True)
class Key:
    """A key as the gateway and the CLI see it (never its secret)."""

    id: str
    consumer: str
    environment: str
    endpoints: tuple[str, ...]
    operations: tuple[str, ...]
    rpm: int | None
    tpm: int | None
    created_at: str
    created_by: str
    expires_at: str | None
    revoked_at: str | None
    digest: str = ""

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("digest")
        out["endpoints"], out["operations"] = list(self.endpoints), list(self.operations)
        return out


def digest(secret: str | bytes) -> str:
    """What the store keeps of a key (the gateway digests the header's bytes as they come)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def create_key(
    session: Session,
    actor: Actor,
    consumer: str,
    endpoints: list[str],
    environment: str,
    *,
    operations: list[str] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    ttl: timedelta | None = None,
) -> tuple[Key, str]:
    """A new key; returns it and its secret, which is shown only now."""
    if not CONSUMER.match(consumer or ""):
        raise UsageError(f"consumer {consumer!r} is not a name (letters, digits, . _ : @ / -)")
    check_environment(environment)
    if not endpoints:
        raise UsageError("a key is scoped to at least one endpoint (--endpoint)")
    scoped = sorted({endpoint_key(session, e) for e in endpoints})
    ops = sorted(set(operations or OPERATIONS))
    unknown = [o for o in ops if o not in OPERATIONS]
    if unknown:
        raise UsageError(f"operation {unknown[0]!r} is not one of {', '.join(OPERATIONS)}")
    for name, value in (("--rpm", rpm), ("--tpm", tpm)):
        if value is not None and value <= 0:
            raise UsageError(f"{name} must be positive")
    if ttl is not None and ttl <= timedelta(0):
        raise UsageError("an expiry must be in the future")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = KeyRow(
        id="gk_" + secrets.token_hex(6),
        digest=digest(secret),
        consumer=consumer,
        environment=environment,
        endpoints=json.dumps(scoped),
        operations=json.dumps(ops),
        rpm=rpm,
        tpm=tpm,
        created_at=stamp(now),
        created_by=actor.id,
        expires_at=stamp(now + ttl) if ttl else None,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    key = _key(row)
    details = key.as_dict()
    for field in ("created_at", "created_by", "revoked_at", "consumer"):
        details.pop(field)
    audit.append(
        session, actor, [audit.Change("gateway.key.created", f"consumer:{consumer}", details)]
    )
    return key, secret


def revoke_keys(
    session: Session, actor: Actor, *, key: str | None = None, consumer: str | None = None
) -> list[str]:
    """Revoke one key (by id or by its secret), or every live key of a consumer."""
    query = select(KeyRow).where(KeyRow.revoked_at.is_(None))
    if key:
        field = KeyRow.digest if key.startswith(PREFIX) else KeyRow.id
        query = query.where(field == (digest(key) if key.startswith(PREFIX) else key))
    elif consumer:
        query = query.where(KeyRow.consumer == consumer)
    else:
        raise UsageError("name a key or a consumer to revoke")
    rows = list(session.scalars(query))
    if not rows:
        raise NotFoundError("no live key matches")
    now = stamp()
    for row in rows:
        row.revoked_at = now
    session.flush()
    audit.append(
        session,
        actor,
        [
            audit.Change("gateway.key.revoked", f"consumer:{row.consumer}", {"key": row.id})
            for row in rows
        ],
    )
    return [row.id for row in rows]


def list_keys(session: Session, *, revoked: bool = False, expired: bool = False) -> list[Key]:
    """Keys, oldest first; without revoked and expired ones unless asked for."""
    query = select(KeyRow).order_by(KeyRow.created_at, KeyRow.id)
    if not revoked:
        query = query.where(KeyRow.revoked_at.is_(None))
    keys = [_key(r) for r in session.scalars(query)]
    if not expired:
        now = stamp()
        keys = [k for k in keys if not (k.expires_at and k.expires_at <= now)]
    return keys


def _key(row: KeyRow) -> Key:
    return Key(
        row.id,
        row.consumer,
        row.environment,
        tuple(json.loads(row.endpoints)),
        tuple(json.loads(row.operations)),
        row.rpm,
        row.tpm,
        row.created_at,
        row.created_by,
        row.expires_at,
        row.revoked_at,
        row.digest,
    )
