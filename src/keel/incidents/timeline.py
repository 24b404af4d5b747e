"""An incident's timeline: what the logs say happened around it, in time order.

Read through `keel.audit.list_events`, in the incident's window (from `LOOKBACK` before it
opened until it was resolved, or now):

- from the governance log, every event whose subject is the incident, one of its systems
  or one of its releases (a promotion, an approval, the incident's own changes);
- from the traffic log, the gateway's anomalies on the systems' endpoints, and the requests
  to those endpoints as per-minute figures (requests, status classes, errors, guard blocks):
  one entry per endpoint and minute, never one per request.

The traffic log's request events have the endpoint as their subject (an indexed column), so
only the incident's endpoints are read. An anomaly names the gateway key, not the endpoint:
it belongs to the timeline when that key called one of the endpoints within its bucket.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from keel.audit.events import Event, list_events
from keel.catalog.queries import get_entity
from keel.errors import NotFoundError
from keel.incidents.service import Incident

TRAFFIC = "traffic"
REQUEST = "gateway.request.handled"
ANOMALY = "gateway.anomaly.detected"
LOOKBACK = timedelta(minutes=30)  # what led up to the incident: a promotion, the first errors
AFTER = timedelta(minutes=5)  # and what followed its resolution
SLACK = timedelta(seconds=2)  # between a request's answer and its batch reaching the log


@dataclass(frozen=True)
class Entry:
    time: str
    source: str  # governance | traffic
    kind: str  # event | anomaly | minute
    title: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "source": self.source,
            "kind": self.kind,
            "title": self.title,
            "subject": self.subject,
            "details": self.details,
        }


def stamp(moment: datetime) -> str:
    """The log's time format: UTC, microseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def window(incident: Incident, now: datetime | None = None) -> tuple[str, str]:
    """The incident's window as log times: (start, end)."""
    start = parse(incident.opened_at) - LOOKBACK
    end = parse(incident.resolved_at) + AFTER if incident.resolved_at else now or datetime.now(UTC)
    return stamp(start), stamp(end)


def endpoints_of(session: Session, systems: list[str]) -> list[str]:
    """The API endpoints (`api:ns/name`) that are part of the systems."""
    found: list[str] = []
    for system in systems:
        try:
            entity = get_entity(session, system)
        except NotFoundError:  # removed from the catalog since
            continue
        for ref in entity["referencedBy"]:
            if ref["type"] == "partOf" and ref["source"].startswith("api:"):
                found.append(ref["source"])
    return sorted(set(found))


def timeline(session: Session, incident: Incident, now: datetime | None = None) -> list[Entry]:
    """The incident's timeline, oldest first (see the module's docstring)."""
    start, end = window(incident, now)
    entries = governance_entries(session, incident, start, end)
    endpoints = endpoints_of(session, incident.systems)
    requests = [
        e
        for endpoint in endpoints
        for e in list_events(session, log=TRAFFIC, subject=endpoint, since=start, until=end)
        if e.action == REQUEST
    ]
    entries += minute_entries(requests)
    entries += anomaly_entries(session, requests, start, end)
    return sorted(entries, key=lambda e: (e.time, e.source, e.subject))


def governance_entries(session: Session, incident: Incident, start: str, end: str) -> list[Entry]:
    subjects = [incident.id, *incident.systems, *incident.releases]
    seen: set[int] = set()
    out: list[Entry] = []
    for subject in subjects:
        for e in list_events(session, subject=subject, since=start, until=end):
            if e.seq in seen:
                continue
            seen.add(e.seq)
            out.append(
                Entry(
                    e.time,
                    "governance",
                    "event",
                    e.action,
                    e.subject,
                    {"seq": e.seq, "actor": e.actor.get("id"), **_brief(e)},
                )
            )
    return out


def _brief(event: Event) -> dict[str, Any]:
    """The few details worth a line of a timeline (an entity's whole body is not)."""
    keep = ("status", "severity", "note", "action", "environment", "release", "role", "reason")
    keep += ("problems", "log", "changed", "previous", "to", "from", "missing")
    return {k: event.details[k] for k in keep if k in event.details}


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def is_error(status: int) -> bool:
    """As the gateway's anomaly detector counts them: answers >= 400 but for 429."""
    return status >= 400 and status != 429


def minute_entries(requests: list[Event]) -> list[Entry]:
    """Requests as one entry per endpoint and minute: counts, status classes, errors, blocks."""
    buckets: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in requests:
        buckets.setdefault((e.time[:16], e.subject), []).append(e.details)
    out = []
    for (minute, endpoint), items in sorted(buckets.items()):
        statuses = Counter(status_class(int(d.get("status", 0))) for d in items)
        decisions = Counter(str(d.get("decision")) for d in items)
        errors = sum(1 for d in items if is_error(int(d.get("status", 0))))
        blocked = decisions.get("blocked", 0)
        figures = {
            "requests": len(items),
            "errors": errors,
            "blocked": blocked,
            "status": dict(sorted(statuses.items())),
            "decisions": dict(sorted(decisions.items())),
        }
        title = f"{len(items)} requests, {errors} errors, {blocked} blocked"
        out.append(Entry(f"{minute}:00Z", "traffic", "minute", title, endpoint, figures))
    return out


def anomaly_entries(session: Session, requests: list[Event], start: str, end: str) -> list[Entry]:
    """The anomalies of the keys that called the endpoints, within each anomaly's bucket."""
    calls: dict[str, list[datetime]] = {}
    consumers: set[str] = set()
    for e in requests:
        key = e.details.get("key")
        if key:
            calls.setdefault(key, []).append(parse(e.time))
            if e.details.get("consumer"):
                consumers.add(e.details["consumer"])
    out = []
    for consumer in sorted(consumers):
        subject = f"consumer:{consumer}"
        found = list_events(session, log=TRAFFIC, subject=subject, since=start, until=end)
        for e in found:
            if e.action != ANOMALY:
                continue
            at = parse(e.time)
            bucket = timedelta(seconds=float(e.details.get("bucket_s") or 10)) + SLACK
            if not any(at - bucket <= t <= at + SLACK for t in calls.get(e.details.get("key"), ())):
                continue
            kind = e.details.get("kind", "anomaly")
            out.append(
                Entry(
                    e.time,
                    "traffic",
                    "anomaly",
                    f"{kind} by {consumer}",
                    subject,
                    {"seq": e.seq, **e.details},
                )
            )
    return out
