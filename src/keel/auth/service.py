"""Issuing, checking and revoking credentials.

A credential is a random secret shown once; the store keeps only its SHA-256 digest (the
secret carries 256 bits, so a plain hash is as strong as a slow one here and costs
microseconds per request). Three kinds share one table and one check:

- `api` tokens (`keel_pat_...`): for scripts and the CLI in server mode; optional expiry.
- `login` codes (`keel_code_...`): one use, ten minutes; exchanged for a web session.
- `session` cookies (`keel_ses_...`): what a browser holds after logging in; twelve hours.

Creating and revoking tokens, and each login, are events in the audit record.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keel import audit
from keel.auth.tables import TokenRow
from keel.catalog.service import user_exists
from keel.clock import stamp
from keel.errors import NotFoundError, UsageError
from keel.identity import Actor, user_actor

ROLES = ("viewer", "editor", "admin")
PREFIX = {"api": "keel_pat_", "login": "keel_code_", "session": "keel_ses_"}
LOGIN_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class Principal:
    """A verified caller: the actor its events name, and its API role."""

    actor: Actor
    role: str
    token_id: str
    kind: str


@dataclass(frozen=True)
class TokenInfo:
    id: str
    kind: str
    user: str
    role: str
    note: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def role_allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def _digest(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    actor: Actor,
    user: str,
    role: str,
    *,
    kind: str = "api",
    ttl: timedelta | None = None,
    note: str = "",
    parent: str | None = None,
) -> tuple[TokenInfo, str]:
    """A new credential for `user`; returns its record and the secret, shown only now."""
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if kind not in PREFIX:
        raise UsageError(f"unknown credential kind {kind!r}")
    user_key = user_actor(user, "token").id
    if not user_exists(session, user_key):
        raise NotFoundError(f"no such user {user_key}: apply a User entity first")
    if ttl is None:
        ttl = {"login": LOGIN_TTL, "session": SESSION_TTL}.get(kind)
    if ttl is not None and ttl <= timedelta(0):
        raise UsageError("an expiry must be in the future")
    token_id = secrets.token_hex(8)
    secret = PREFIX[kind] + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = stamp(now + ttl) if ttl else None
    if parent is not None:  # never outlive the credential it was made from
        parent_row = session.get(TokenRow, parent)
        if parent_row is not None and parent_row.expires_at:
            expires = min(expires, parent_row.expires_at) if expires else parent_row.expires_at
    row = TokenRow(
        id=token_id,
        digest=_digest(secret),
        kind=kind,
        user=user_key,
        role=role,
        note=note[:200],
        created_at=stamp(now),
        expires_at=expires,
        revoked_at=None,
        parent=parent,
    )
    session.add(row)
    session.flush()
    action = {
        "api": "auth.token.created",
        "login": "auth.login_code.created",
        "session": "auth.session.created",
    }[kind]
    audit.append(
        session,
        actor,
        [
            audit.Change(
                action,
                user_key,
                {
                    "token": token_id,
                    "role": role,
                    "expires": row.expires_at,
                    "note": row.note,
                },
            )
        ],
    )
    return _info(row), secret


def verify(session: Session, presented: str | None, *, kind: str | None = None) -> Principal | None:
    """The principal a presented secret stands for, or None if unknown, expired or revoked."""
    if not presented or len(presented) > 200:
        return None
    row = session.execute(select(TokenRow).where(TokenRow.digest == _digest(presented))).scalar()
    if row is None or (kind and row.kind != kind) or not _live(row):
        return None
    if row.parent is not None:  # a session made from a token that is now revoked or expired
        parent = session.get(TokenRow, row.parent)
        if parent is None or not _live(parent):
            return None
    return Principal(user_actor(row.user, "token"), row.role, row.id, row.kind)


def _live(row: TokenRow) -> bool:
    return not row.revoked_at and not (row.expires_at and row.expires_at <= stamp())


def exchange_login_code(session: Session, code: str) -> tuple[Principal, str] | None:
    """Spend a one-time login code; returns the new web session's principal and secret."""
    principal = verify(session, code, kind="login")
    if principal is None:
        return None
    # Revoking first means a code can only ever be spent once, even under a race:
    # the second update finds it revoked and matches no row.
    spent = session.execute(
        update(TokenRow)
        .where(TokenRow.id == principal.token_id, TokenRow.revoked_at.is_(None))
        .values(revoked_at=stamp())
    )
    if spent.rowcount != 1:
        return None
    info, secret = create_token(
        session,
        principal.actor,
        principal.actor.id,
        principal.role,
        kind="session",
        note=f"login with code {principal.token_id}",
        parent=_parent_of(session, principal.token_id),
    )
    return Principal(principal.actor, info.role, info.id, "session"), secret


def _parent_of(session: Session, token_id: str) -> str | None:
    row = session.get(TokenRow, token_id)
    return row.parent if row is not None else None


def revoke_tokens(
    session: Session, actor: Actor, *, token_id: str | None = None, user: str | None = None
) -> list[str]:
    """Revoke one token, or every live credential of a user; returns the revoked ids."""
    query = select(TokenRow).where(TokenRow.revoked_at.is_(None))
    if token_id:
        query = query.where(TokenRow.id == token_id)
    elif user:
        query = query.where(TokenRow.user == user_actor(user, "token").id)
    else:
        raise UsageError("name a token id or a user to revoke")
    rows = list(session.execute(query).scalars())
    if not rows:
        raise NotFoundError("no live token matches")
    now = stamp()
    for row in rows:
        row.revoked_at = now
    session.flush()
    audit.append(
        session,
        actor,
        [
            audit.Change("auth.token.revoked", row.user, {"token": row.id, "kind": row.kind})
            for row in rows
        ],
    )
    return [row.id for row in rows]


def list_tokens(session: Session, *, kinds: tuple[str, ...] = ("api",)) -> list[TokenInfo]:
    """Live credentials of the given kinds (API tokens by default; sessions on request)."""
    query = select(TokenRow).where(TokenRow.kind.in_(kinds)).order_by(TokenRow.created_at)
    return [_info(row) for row in session.execute(query).scalars() if _live(row)]


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.kind,
        row.user,
        row.role,
        row.note,
        row.created_at,
        row.expires_at,
        row.revoked_at,
    )
