"""Tokens, login codes and web sessions: who is calling the API, with which role.

API roles (`viewer` < `editor` < `admin`) decide which calls a token may make; they never
stand in for a delivery-pod role (see keel.catalog.pods).
"""

from keel.auth.service import (
    ROLES,
    Principal,
    TokenInfo,
    create_token,
    exchange_login_code,
    list_tokens,
    revoke_tokens,
    role_allows,
    verify,
)

__all__ = [
    "ROLES",
    "Principal",
    "TokenInfo",
    "create_token",
    "exchange_login_code",
    "list_tokens",
    "revoke_tokens",
    "role_allows",
    "verify",
]
