"""Subscriptions and the deliveries they are owed: the functions the CLI and API call.

Creating and removing a subscription are governance events
(`notifications.subscription.created|removed`); a subscription receives the events appended
after its own creation. Everything is checked before anything is written, so a refused
subscription leaves no row and no event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from keel import audit
from keel.catalog.refs import parse_ref
from keel.catalog.registry import lookup
from keel.clock import stamp
from keel.errors import ConflictError, InputError, NotFoundError
from keel.identity import Actor
from keel.notifications import catalog, targets
from keel.notifications.tables import AttemptRow, DeliveryRow, SubscriptionRow

KINDS = ("webhook", "email")
STATUSES = ("pending", "delivered", "dead", "cancelled")


@dataclass(frozen=True)
class Subscription:
    id: str
    event: str
    subject: str | None
    kind: str
    target: str
    secret_ref: str | None
    created_at: str
    created_by: str
    removed_at: str | None

    @classmethod
    def of(cls, row: SubscriptionRow) -> Subscription:
        return cls(
            row.id,
            row.event,
            row.subject,
            row.kind,
            row.target,
            row.secret_ref,
            row.created_at,
            row.created_by,
            row.removed_at,
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Delivery:
    id: str  # the webhook-id
    subscription: str
    event_seq: int
    action: str
    subject: str
    status: str
    attempts: int
    next_at: str
    created_at: str
    done_at: str | None
    last_error: str | None

    @classmethod
    def of(cls, row: DeliveryRow) -> Delivery:
        return cls(
            row.id,
            row.subscription,
            row.event_seq,
            row.action,
            row.subject,
            row.status,
            row.attempts,
            row.next_at,
            row.created_at,
            row.done_at,
            row.last_error,
        )

    def as_dict(self) -> dict:
        return asdict(self)


def subject_filter(subject: str | None) -> str | None:
    """A catalog entity's reference normalised as events name it (`system:credit` is
    `system:default/credit`); a prefix (ending in `*`, `/` or `:`) or any other subject
    (`INC-7`, `job:audit.verify`, `workspace`) as given."""
    if subject is None or not subject.strip():
        return None
    subject = subject.strip()
    if len(subject) > 300:
        raise InputError("subject: at most 300 characters")
    kind = subject.partition(":")[0] if ":" in subject else None
    if subject.endswith(("*", "/", ":")) or kind is None or lookup(kind) is None:
        return subject
    try:
        return parse_ref(subject).key
    except ValueError as exc:
        raise InputError(f"subject: {exc}") from None


def subscribe(
    session: Session,
    actor: Actor,
    *,
    event: str,
    subject: str | None = None,
    webhook: str | None = None,
    secret_ref: str | None = None,
    email: str | None = None,
    recipients: bool = False,
    own: set[tuple[str, int]],
) -> Subscription:
    """A new subscription of `event` (an action, `a.b.*`, or an alias) to one target: a
    webhook, an e-mail address, or (`recipients`) an e-mail to each person the event names
    as its recipients (an approval request's pod members), at their address in the map.

    `own` are the control plane's origins (`targets.control_plane`), refused as webhooks."""
    pattern = catalog.resolve(event)
    wanted = subject_filter(subject)
    if sum((bool(webhook), bool(email), bool(recipients))) != 1:
        raise InputError(
            "give one target: a webhook URL, an e-mail address, or the event's recipients"
        )
    if recipients:
        named = [a for a in pattern.split(",") if not catalog.names_recipients(a)]
        if named:
            raise InputError(
                f"{named[0]} names no recipients; only {', '.join(catalog.WITH_RECIPIENTS)} do"
            )
        email = targets.RECIPIENTS
    if webhook:
        target, kind = targets.check_webhook(webhook, own), "webhook"
        if not secret_ref:
            raise InputError(
                "a webhook needs --secret-ref env:NAME or file:/path (its signing key)"
            )
        ref = targets.check_ref(secret_ref, "the signing secret")
    else:
        target = email if recipients else targets.check_email(email or "")
        kind = "email"
        if secret_ref:
            raise InputError("--secret-ref signs webhooks; an e-mail subscription takes none")
        ref = None
    number = (session.execute(select(func.max(SubscriptionRow.number))).scalar() or 0) + 1
    row = SubscriptionRow(
        id=f"sub-{number}",
        number=number,
        event=pattern,
        subject=wanted,
        kind=kind,
        target=target,
        secret_ref=ref,
        after_seq=audit.head(session),
        created_at=stamp(),
        created_by=actor.id,
    )
    session.add(row)
    shown = targets.shown(target) if kind == "webhook" else target
    details = {"event": pattern, "subject": wanted, "kind": kind, "target": shown}
    if ref:
        details["secret_ref"] = ref  # the reference's name, never the secret
    audit.append(
        session, actor, [audit.Change("notifications.subscription.created", row.id, details)]
    )
    return Subscription.of(row)


def get(session: Session, subscription_id: str) -> SubscriptionRow:
    row = session.get(SubscriptionRow, subscription_id.strip().lower())
    if row is None:
        raise NotFoundError(f"no subscription {subscription_id!r} (see `keel notify list`)")
    return row


def list_subscriptions(session: Session, *, removed: bool = False) -> list[Subscription]:
    query = select(SubscriptionRow).order_by(SubscriptionRow.number)
    if not removed:
        query = query.where(SubscriptionRow.removed_at.is_(None))
    return [Subscription.of(r) for r in session.execute(query).scalars()]


def remove(session: Session, actor: Actor, subscription_id: str) -> Subscription:
    """End a subscription; deliveries it still owed are cancelled (kept, with their attempts)."""
    row = get(session, subscription_id)
    if row.removed_at is not None:
        raise ConflictError(f"subscription {row.id} was already removed at {row.removed_at}")
    row.removed_at = stamp()
    cancelled = session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.subscription == row.id, DeliveryRow.status == "pending")
        .values(status="cancelled", done_at=row.removed_at)
    ).rowcount
    audit.append(
        session,
        actor,
        [audit.Change("notifications.subscription.removed", row.id, {"cancelled": cancelled})],
    )
    return Subscription.of(row)


def deliveries(
    session: Session,
    *,
    status: str | None = None,
    subscription: str | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """The newest `limit` deliveries, newest first."""
    if status is not None and status not in STATUSES:
        raise InputError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    query = select(DeliveryRow).order_by(
        DeliveryRow.created_at.desc(), DeliveryRow.event_seq.desc()
    )
    if status:
        query = query.where(DeliveryRow.status == status)
    if subscription:
        query = query.where(DeliveryRow.subscription == subscription.strip().lower())
    return [Delivery.of(r) for r in session.execute(query.limit(limit)).scalars()]


def attempts(session: Session, delivery_id: str) -> list[dict]:
    rows = session.execute(
        select(AttemptRow).where(AttemptRow.delivery == delivery_id).order_by(AttemptRow.number)
    ).scalars()
    return [
        {
            "number": r.number,
            "at": r.at,
            "outcome": r.outcome,
            "status": r.status,
            "error": r.error,
            "ms": r.ms,
        }
        for r in rows
    ]
