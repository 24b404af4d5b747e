"""The auth package's table: API tokens, one-time login codes and web sessions, by digest."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class TokenRow(Base):
    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80), unique=True)  # sha256 of the secret
    kind: Mapped[str] = mapped_column(String(16))  # api | login | session
    user: Mapped[str] = mapped_column(String(300), index=True)
    role: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The credential a login code or session was made from: revoking it ends them too.
    parent: Mapped[str | None] = mapped_column(String(32), nullable=True)
