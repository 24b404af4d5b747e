"""The outbox, read: fan the governance log out into deliveries, then attempt those due.

The log is the outbox. Every event Keel cares about is appended in the transaction of its
change, so nothing is lost between a change and its notification:

1. `fan_out` reads the events after the stored cursor, inserts one delivery row per
   (subscription, event) that matches, and moves the cursor, in one transaction: a crash
   leaves either all of it or none.
2. `attempt_due` sends each due delivery (`send`) and records the attempt: a row per attempt,
   the delivery's new state, and, when it dead-letters, one `notifications.delivery.failed`
   event. A process killed between a send and its record leaves the delivery due, so it is
   sent again under the same `webhook-id`: at least once, never lost.

Retries back off exponentially with jitter: attempt n waits a random time between half and
all of `base * 2**(n-1)`, capped at `cap`; after `attempts` tries a delivery is dead.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keel import audit
from keel.audit.events import after
from keel.audit.events import now as event_time
from keel.clock import stamp
from keel.errors import UsageError
from keel.identity import Actor
from keel.notifications import catalog, send, targets
from keel.notifications.tables import AttemptRow, CursorRow, DeliveryRow, SubscriptionRow
from keel.workspace.core import workspace_name

BATCH = 1000  # events read per fan-out


@dataclass(frozen=True)
class Policy:
    attempts: int = 8
    base: float = 30.0  # seconds before the second attempt (half to all of it)
    cap: float = 3600.0
    timeout: float = send.TIMEOUT  # per attempt
    per_pass: int = 50  # deliveries attempted per pass
    budget: float | None = None  # seconds after which a pass starts no more attempts

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)


def fan_out(session: Session, *, now: datetime | None = None, batch: int = BATCH) -> int:
    """Deliveries for the events after the cursor (one batch), due at `now`; returns how
    many it added."""
    cursor = session.get(CursorRow, audit.GOVERNANCE)
    if cursor is None:
        cursor = CursorRow(log=audit.GOVERNANCE, seq=0)
        session.add(cursor)
    subs = list(
        session.execute(
            select(SubscriptionRow).where(SubscriptionRow.removed_at.is_(None))
        ).scalars()
    )
    if not subs:  # nothing can match what is appended before a subscription exists
        cursor.seq = max(cursor.seq, audit.head(session))
        return 0
    start = max(cursor.seq, min(s.after_seq for s in subs))
    events = after(session, start, limit=batch)
    created = stamp()
    due = stamp(now) if now else created
    name = workspace_name(session)
    added = 0
    for event in events:
        for sub in subs:
            if (
                event.seq > sub.after_seq
                and catalog.matches(sub.event, event.action)
                and catalog.subject_matches(sub.subject, event.subject)
            ):
                session.add(
                    DeliveryRow(
                        id=delivery_id(name, sub.id, event.seq),
                        subscription=sub.id,
                        event_seq=event.seq,
                        action=event.action,
                        subject=event.subject,
                        status="pending",
                        attempts=0,
                        next_at=due,
                        created_at=created,
                    )
                )
                added += 1
    cursor.seq = events[-1].seq if events else max(cursor.seq, start)
    session.flush()
    return added


def delivery_id(workspace: str, subscription: str, seq: int) -> str:
    """The `webhook-id` of (subscription, event): derived, not drawn, so a fan-out that
    rolled back (a worker killed mid-pass) makes the same id again when it is redone."""
    digest = hashlib.sha256(f"{workspace}\n{subscription}\n{seq}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def _base(public_url: str | None) -> str:
    """The web UI's address: as configured, else where `keel serve` serves by default."""
    default = f"http://{targets.DEFAULT_SERVE[0]}:{targets.DEFAULT_SERVE[1]}"
    return (public_url or default).rstrip("/")


def link(public_url: str | None, seq: int) -> str:
    return f"{_base(public_url)}/events/{seq}"


def payload(event: audit.Event, sub_id: str, msg_id: str, public_url: str | None) -> str:
    """The webhook body: the same bytes on every attempt of a delivery."""
    body = {
        "type": event.action,
        "timestamp": event.time,
        "subscription": sub_id,
        "id": msg_id,
        "data": {
            "log": event.log,
            "seq": event.seq,
            "subject": event.subject,
            "actor": event.actor,
            "op": event.op,
            "details": event.details,
        },
        "links": {"event": link(public_url, event.seq)}
        | ({"release": decide} if (decide := release_link(public_url, event)) else {}),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def release_link(public_url: str | None, event: audit.Event) -> str | None:
    """The release page of an event about a release (`model:ns/name@N`), where its
    approvers decide; None for other events."""
    kind, _, rest = event.subject.partition(":")
    namespace, _, name = rest.partition("/")
    if kind != "model" or "@" not in name or not namespace:
        return None
    return f"{_base(public_url)}/releases/{namespace}/{name}"


def message(event: audit.Event, sub_id: str, public_url: str | None) -> tuple[str, str]:
    """The e-mail's subject and text."""
    subject = f"[Keel] {event.action}: {event.subject}"
    decide = release_link(public_url, event)
    details = json.dumps(event.details, indent=2, sort_keys=True, ensure_ascii=False)
    text = (
        f"Keel event #{event.seq}: {event.action}\n"
        f"subject: {event.subject}\n"
        f"by:      {event.actor.get('id')} ({event.actor.get('via')})\n"
        f"at:      {event.time}\n\n"
        f"{details}\n\n"
        f"See it: {link(public_url, event.seq)}\n"
        + (f"Decide: {decide}\n" if decide else "")
        + "\n"
        + f"You get this through subscription {sub_id}; end it with `keel notify remove {sub_id}`.\n"
    )
    return subject, text


def attempt_one(
    sub: SubscriptionRow,
    event: audit.Event,
    msg_id: str,
    policy: Policy,
    public_url: str | None,
    own: set[tuple[str, int]],
    recipients: list[str] | None = None,
) -> send.Outcome:
    """One attempt of one delivery, nothing written; `recipients` the addresses of a
    subscription that mails the event's recipients (`recipient_addresses`)."""
    if sub.kind == "webhook":
        try:
            targets.check_webhook(sub.target, own)  # the control plane's address may have moved
        except UsageError as exc:
            return send.Outcome(False, False, None, str(exc), 0)
        body = payload(event, sub.id, msg_id, public_url)
        signed_at = datetime.now(UTC)  # receivers refuse a timestamp minutes off their clock
        return send.webhook(
            sub.target, sub.secret_ref or "", msg_id, body, signed_at, timeout=policy.timeout
        )
    try:
        settings = send.smtp_settings()
    except UsageError as exc:
        return send.Outcome(False, True, None, str(exc), 0)
    to = sub.target
    if to == targets.RECIPIENTS:
        if not recipients:
            why = (
                "a recipients subscription mails the people each event names, and a test "
                "names none: subscribe an address (--email) to try the SMTP settings"
                if event.action == TEST_TYPE
                else "none of the event's recipients has an e-mail address in the map "
                "(spec.profile.email of their User)"
            )
            return send.Outcome(False, False, None, why, 0)
        to = ", ".join(recipients)
    subject, text = message(event, sub.id, public_url)
    return send.email(settings, to, subject, text, msg_id, timeout=policy.timeout)


def recipient_addresses(session: Session, event: audit.Event) -> list[str]:
    """The e-mail addresses (spec.profile.email) of the users the event's details name as
    `recipients`, each once, in their order; people without a valid address are left out."""
    from keel.catalog.queries import get_entity
    from keel.errors import KeelError

    found: list[str] = []
    for entry in event.details.get("recipients") or []:
        user = entry.get("user") if isinstance(entry, dict) else entry
        if not isinstance(user, str):
            continue
        try:
            spec = get_entity(session, user)["entity"].get("spec") or {}
            address = targets.check_email(str((spec.get("profile") or {}).get("email") or ""))
        except KeelError:
            continue
        if address not in found:
            found.append(address)
    return found


def record(
    session: Session,
    actor: Actor,
    delivery_id: str,
    outcome: send.Outcome,
    policy: Policy,
    now: datetime,
    rng: random.Random | None = None,
) -> str:
    """Write one attempt's row and the delivery's new state; returns that state."""
    row = session.get(DeliveryRow, delivery_id)
    if row is None:
        return "gone"
    number = (
        session.execute(
            select(func.max(AttemptRow.number)).where(AttemptRow.delivery == delivery_id)
        ).scalar()
        or 0
    ) + 1
    last = number >= policy.attempts
    outcome_name = (
        "delivered" if outcome.ok else ("retry" if outcome.retry and not last else "final")
    )
    session.add(
        AttemptRow(
            delivery=delivery_id,
            number=number,
            at=stamp(),  # when it happened; `now` only schedules
            outcome=outcome_name,
            status=outcome.status,
            error=outcome.error,
            ms=outcome.ms,
        )
    )
    row.attempts = number
    if row.status != "pending":  # finished meanwhile (another deliverer, a removal)
        return row.status
    if outcome.ok:
        row.status, row.done_at = "delivered", stamp()
        row.last_error = outcome.error  # None, or the recipients a server refused
    elif outcome_name == "retry":
        row.last_error = outcome.error
        row.next_at = stamp(now + timedelta(seconds=policy.delay(number, rng)))
    else:
        row.status, row.done_at, row.last_error = "dead", stamp(), outcome.error
        audit.append(
            session,
            actor,
            [
                audit.Change(
                    "notifications.delivery.failed",
                    row.subscription,
                    {
                        "delivery": row.id,
                        "subscription": row.subscription,
                        "event": row.event_seq,
                        "action": row.action,
                        "attempts": number,
                        "error": outcome.error,
                    },
                )
            ],
        )
    session.flush()
    return row.status


@dataclass
class Pass:
    fanned: int = 0
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    def summary(self) -> str | None:
        if not (self.fanned or self.attempted):
            return None
        return (
            f"{self.fanned} new, {self.attempted} attempted: {self.delivered} delivered, "
            f"{self.retrying} to retry, {self.dead} dead"
        )

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def run_pass(
    write: Callable[[], AbstractContextManager[Session]],
    actor: Actor,
    *,
    now: datetime | None = None,
    public_url: str | None = None,
    own: set[tuple[str, int]] | None = None,
    policy: Policy | None = None,
    batches: int = 20,
) -> Pass:
    """Fan out what the log gained (up to `batches` batches), then attempt what is due at
    `now` (default: the clock; signatures always carry the clock's time).

    `write()` opens a new transaction for each step: the fan-out, then the record of each
    attempt as soon as it is made. Sending happens between them, outside any transaction,
    so a slow receiver never holds the store's writer lock."""
    policy = policy or Policy()
    own = own if own is not None else targets.control_plane(public_url)
    now = now or datetime.now(UTC)
    done = Pass()
    with write() as session:
        for _ in range(batches):
            done.fanned += fan_out(session, now=now)
            if session.get(CursorRow, audit.GOVERNANCE).seq >= audit.head(session):
                break
        due = list(
            session.execute(
                select(DeliveryRow.id, DeliveryRow.subscription, DeliveryRow.event_seq)
                .where(DeliveryRow.status == "pending", DeliveryRow.next_at <= stamp(now))
                .order_by(DeliveryRow.next_at, DeliveryRow.event_seq)
                .limit(policy.per_pass)
            )
        )
        subs = {s.id: s for s in session.execute(select(SubscriptionRow)).scalars()}
        events = {seq: audit.list_events(session, seq=seq)[0] for seq in {d[2] for d in due}}
        addressed = {  # read now, so each attempt sends to the map's current addresses
            seq: recipient_addresses(session, events[seq])
            for _, sub_id, seq in due
            if subs[sub_id].target == targets.RECIPIENTS
        }
    deadline = None if policy.budget is None else time.monotonic() + policy.budget
    for delivery_id, sub_id, seq in due:  # rows stay readable: sessions keep them on commit
        if deadline is not None and time.monotonic() >= deadline:
            break  # the rest stay due for the next pass
        outcome = attempt_one(
            subs[sub_id], events[seq], delivery_id, policy, public_url, own, addressed.get(seq)
        )
        with write() as session:
            state = record(session, actor, delivery_id, outcome, policy, now)
        done.attempted += 1
        if state == "delivered":
            done.delivered += 1
        elif state == "dead":
            done.dead += 1
        elif state == "pending":
            done.retrying += 1
    return done


TEST_TYPE = "keel.test"  # not an audit action: a sample, sent by `keel notify test`


def send_test(
    sub: SubscriptionRow,
    public_url: str | None,
    own: set[tuple[str, int]],
    policy: Policy | None = None,
) -> send.Outcome:
    """Send a sample notification to `sub` now, as a delivery would be sent; writes nothing."""
    when = event_time()
    sample = audit.Event(
        log=audit.GOVERNANCE,
        seq=0,
        time=when,
        actor={"id": "user:keel/system", "via": "system"},
        action=TEST_TYPE,
        subject=sub.id,
        op="0" * 32,
        details={"note": "a test notification from `keel notify test`"},
        body=b"",
    )
    msg_id = f"msg_test_{os.urandom(8).hex()}"
    return attempt_one(sub, sample, msg_id, policy or Policy(), public_url, own)
