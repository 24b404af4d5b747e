"""The audit spine: every change and decision as an event in a verifiable Merkle log.

`append()` is the one function that writes events, inside the caller's transaction; each
event's canonical bytes are a leaf of its log's RFC 6962 tree (`tree`), whose signed
checkpoints (`checkpoints`, C2SP signed notes with Ed25519) anyone can check offline
(`verify`, which needs only the standard library and `cryptography`).

Names are resolved lazily so that `python -m keel.audit.verify` never imports SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "canonical_bytes": "keel.audit.canonical",
    "digest": "keel.audit.canonical",
    "GOVERNANCE": "keel.audit.events",
    "Change": "keel.audit.events",
    "Event": "keel.audit.events",
    "append": "keel.audit.events",
    "head": "keel.audit.events",
    "list_events": "keel.audit.events",
    "new_op": "keel.audit.events",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'keel.audit' has no attribute {name!r}")
