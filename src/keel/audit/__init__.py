"""The audit spine: every change and decision as an event, stored as canonical bytes.

`append()` is the one function that writes events, inside the caller's transaction.
"""

from keel.audit.canonical import canonical_bytes, digest
from keel.audit.events import GOVERNANCE, Change, Event, append, head, list_events, new_op

__all__ = [
    "GOVERNANCE",
    "Change",
    "Event",
    "append",
    "canonical_bytes",
    "digest",
    "head",
    "list_events",
    "new_op",
]
