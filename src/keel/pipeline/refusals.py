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

Those callers are found in a read transaction (`standing`: `release_standing`,
`system_standing`), before the write transaction is opened: a caller who may not act at all
never waits for, nor holds, the store's writer lock (SQLite's, PostgreSQL's advisory lock).
The checks inside the write transaction stay; the first pass only spares the lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from keel.audit.events import Change, append
from keel.errors import (
    InputError,
    KeelError,
    NoStanding,
    NotFoundError,
    PermissionDenied,
    UsageError,
)
from keel.identity import Actor

T = TypeVar("T")
MAX_SUBJECT = 300


def logged(
    ws,
    actor: Actor,
    refused: str,
    subject: str,
    work: Callable[[Session], T],
    *,
    standing: Callable[[Session], None] | None = None,
) -> T:
    """`subject` as typed; a release reference is logged under the release's full name.
    `standing` runs first, in a read transaction (`standing_first`)."""
    from keel.pipeline.releases import release_key

    if standing is not None:
        standing_first(ws, standing)
    with contextlib.suppress(UsageError):  # otherwise logged as typed, still naming it
        subject = release_key(subject)
    # The refusal is recorded in the transaction that decided it (the work rolled back to a
    # savepoint): under the same writer lock, so two attempts at once cannot both see the
    # state before either and both be refused and logged.
    refusal: KeelError | None = None
    with ws.write(actor) as session:
        try:
            with session.begin_nested():
                return work(session)
        except (NoStanding, NotFoundError, InputError):
            raise
        except (PermissionDenied, UsageError) as exc:
            append(
                session,
                actor,
                [Change(refused, subject[:MAX_SUBJECT], {"reason": str(exc)[:2000]})],
            )
            refusal = exc
    raise refusal


def standing_first(ws, standing: Callable[[Session], None]) -> None:
    """Run `standing` in a read transaction: a caller with no standing (or a request about
    nothing) is refused there, without the writer lock. Any other refusal it meets is left to
    the write transaction, where it is decided (and logged) as before."""
    try:
        with ws.read() as session:
            standing(session)
    except (NoStanding, NotFoundError, InputError):
        raise
    except (PermissionDenied, UsageError):
        return


def release_standing(actor: Actor, ref: str) -> Callable[[Session], None]:
    """The standing check of an act on a release: the actor is in its system's pod."""
    from keel.catalog.pods import require_standing
    from keel.pipeline.releases import get_release

    return lambda session: require_standing(session, actor, get_release(session, ref).system or "")


def system_standing(actor: Actor, system: str) -> Callable[[Session], None]:
    """The standing check of an act on a system (a stage move, a review)."""
    from keel.catalog.pods import require_standing
    from keel.catalog.queries import system_key

    return lambda session: require_standing(session, actor, system_key(session, system))
