"""Canonical bytes and the one digest function of Keel.

Canonical form: UTF-8 JSON, keys sorted, no insignificant whitespace, no NaN or infinity.
For Keel's values (strings, integers, booleans, null, finite floats, lists, objects) this
is stable across runs and machines; events are stored as exactly these bytes, and the same
bytes will be the Merkle leaves. Digests are written `sha256:<hex>`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# One encoder for all calls: json.dumps with options builds a new one each time (~20% of it).
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_bytes(value: Any) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


def digest(value: Any) -> str:
    """`sha256:<hex>` of the canonical bytes of `value` (or of raw bytes as given)."""
    data = value if isinstance(value, bytes) else canonical_bytes(value)
    return "sha256:" + hashlib.sha256(data).hexdigest()
