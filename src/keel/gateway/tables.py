"""The gateway's tables: routes (endpoint x environment → upstream) and consumer API keys.

Only `keel.gateway.routes` and `keel.gateway.keys` read and write them; the running gateway
sees them through `keel.gateway.config.load`, never by querying them itself.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class RouteRow(Base):
    __tablename__ = "gateway_routes"

    endpoint: Mapped[str] = mapped_column(String(300), primary_key=True)  # api:ns/name
    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    upstream: Mapped[str] = mapped_column(String(1000))  # a base URL ending in /v1
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the upstream's name
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)  # per endpoint, all keys
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timeout: Mapped[float | None] = mapped_column(Float, nullable=True)  # seconds
    capture: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the name of an environment variable on the gateway's host holding the upstream's API
    # key: the secret itself is never stored, logged or sent anywhere but that upstream
    credential_env: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # the guard policy as JSON: NULL the default policy, `false` no guard, an object the
    # route's own policy (keel.guard.parse_policy's format, over the default)
    guard: Mapped[str | None] = mapped_column(Text, nullable=True)
    # when the limit store (Redis) cannot be asked: NULL or "closed" refuses (503),
    # "open" serves the request unchecked and records it so
    limits_fail: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # a production route whose API's model has no release in production: refused (false,
    # the default) or served with every request recorded as ungoverned (true)
    allow_ungoverned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(300))


class KeyRow(Base):
    __tablename__ = "gateway_keys"
    __table_args__ = (
        Index("ix_gateway_keys_digest", "digest", unique=True),
        Index("ix_gateway_keys_consumer", "consumer"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80))  # sha256:<hex> of the secret
    consumer: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(16))
    endpoints: Mapped[str] = mapped_column(Text)  # JSON list of api:ns/name keys
    operations: Mapped[str] = mapped_column(Text)  # JSON list
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
