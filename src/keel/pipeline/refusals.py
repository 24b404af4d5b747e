"""Refusals are decisions too: an approval or promotion that may not happen is logged.

`logged(ws, actor, refused, subject, work)` runs `work(session)` in a write transaction; when
it refuses (a permission or a usage error), nothing it did is kept, and a `refused` event
(e.g. `pipeline.promotion.refused`) in a transaction of its own records who asked for what and
why it was refused.

A caller with no standing at all (`NoStanding`: outside the pod) is refused without an
event: that is not a governance decision, and one client could otherwise append one event
per request. The API counts those refusals instead (`keel_api_refusals_unrecorded_total`).
Nor is a request about nothing: a reference that does not resolve (`NotFoundError`) or is
malformed (`InputError`) is refused without an event, whoever sent it, so no caller can
store subjects of their choosing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from keel.audit.events import Change, append
from keel.errors import InputError, NoStanding, NotFoundError, PermissionDenied, UsageError
from keel.identity import Actor

T = TypeVar("T")
MAX_SUBJECT = 300


def logged(ws, actor: Actor, refused: str, subject: str, work: Callable[[Session], T]) -> T:
    """`subject` as typed; a release reference is logged under the release's full name."""
    from keel.pipeline.releases import release_key

    with contextlib.suppress(UsageError):  # otherwise logged as typed, still naming it
        subject = release_key(subject)
    try:
        with ws.write(actor) as session:
            return work(session)
    except (NoStanding, NotFoundError, InputError):
        raise
    except (PermissionDenied, UsageError) as exc:
        with ws.write(actor) as session:
            append(
                session,
                actor,
                [Change(refused, subject[:MAX_SUBJECT], {"reason": str(exc)[:2000]})],
            )
        raise
