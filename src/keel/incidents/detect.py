"""What opens an incident by itself: a failed audit verify, and the gateway's anomalies.

`detect(session, actor)` is one pass of the `incidents.detect` reconciler. It reads what the
logs gained since its cursor (the last seq it read of each log, kept in `incident_cursors`):

- an `audit.verify.failed` event (governance log; details `log`, `problems`) opens a
  severity-1 incident, cause `audit.verify:<log>`;
- a `gateway.anomaly.detected` event (traffic log) opens an incident for the endpoint the
  anomaly hit, on the endpoint's system: cause `gateway.<kind>:<endpoint>`, where the kind is
  `error_spike` (severity 2), `guard_blocks` (an error spike made mostly of guard blocks,
  severity 2) or `burst` (severity 3).

While an incident with the same cause is not resolved, a repeat adds a note to it instead.
The incidents, the notes and the moved cursors are written in the caller's one transaction,
so a pass that dies half way has changed nothing and the next one reads the same events: an
event never opens two incidents, and none is skipped.

An anomaly names the gateway key, not the endpoint: the endpoint is the one that key's
requests in the anomaly's bucket went to (most errors for a spike, most requests for a
burst), read from the request events just before the anomaly. The gateway's circuit breaker
records no event of its own when it opens (its refusals are `circuit_open` decisions of
request events), so it opens no incident here; the request figures show it in the timeline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from keel.audit.events import GOVERNANCE, Event, head, list_events
from keel.catalog.queries import get_entity
from keel.errors import NotFoundError, UsageError
from keel.identity import Actor
from keel.incidents import service
from keel.incidents.tables import CursorRow
from keel.incidents.timeline import ANOMALY, REQUEST, SLACK, TRAFFIC, is_error, parse, stamp
from keel.pipeline.releases import get_release

VERIFY_FAILED = "audit.verify.failed"
SEVERITY = {"error_spike": 2, "guard_blocks": 2, "burst": 3}
TITLES = {"error_spike": "Error spike", "guard_blocks": "Guard blocks spike", "burst": "Burst"}
CHUNK = 2000  # traffic events read at a time, walking back from an anomaly to its bucket


@dataclass(frozen=True)
class Finding:
    """Something an incident should be open for."""

    cause: str
    severity: int
    title: str
    note: str  # what a repeat adds to the open incident
    systems: list[str] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # into the opening event's details


@dataclass
class Pass:
    """What one pass did."""

    opened: list[str] = field(default_factory=list)
    noted: list[str] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)  # log -> events considered

    def summary(self) -> str | None:
        if not self.opened and not self.noted:
            return None
        parts = []
        if self.opened:
            parts.append(f"opened {', '.join(self.opened)}")
        if self.noted:
            parts.append(f"noted {', '.join(self.noted)}")
        return "; ".join(parts)


def detect(session: Session, actor: Actor) -> Pass:
    """One pass over both logs since the cursors; writes through `session` only."""
    done = Pass()
    for log, action, finding in (
        (GOVERNANCE, VERIFY_FAILED, from_verify),
        (TRAFFIC, ANOMALY, lambda e: from_anomaly(session, e)),
    ):
        cursor = session.get(CursorRow, log)
        upto = head(session, log)  # write transactions are serialised: nothing lands behind it
        after = cursor.seq if cursor is not None else 0
        events = list_events(session, log=log, action=action, after=after, before=upto + 1)
        done.read[log] = len(events)
        for event in events:
            _apply(session, actor, finding(event), done)
        if cursor is None:
            session.add(CursorRow(log=log, seq=upto))
        else:
            cursor.seq = upto
    session.flush()
    return done


def cursors(session: Session) -> dict[str, int]:
    """The last seq read of each log (0 for a log not read yet)."""
    found = {log: 0 for log in (GOVERNANCE, TRAFFIC)}
    for row in session.query(CursorRow):
        found[row.log] = row.seq
    return found


def _apply(session: Session, actor: Actor, finding: Finding, done: Pass) -> None:
    existing = service.unresolved_with_cause(session, finding.cause)
    if existing is not None:
        service.add_note(session, actor, existing.id, finding.note)
        done.noted.append(existing.id)
        return
    opened = service.open_incident(
        session,
        actor,
        systems=finding.systems,
        severity=finding.severity,
        title=finding.title,
        releases=finding.releases,
        cause=finding.cause,
        context={"detected": finding.context},
    )
    done.opened.append(opened.id)


def from_verify(event: Event) -> Finding:
    """A failed `keel audit verify` of a log: severity 1, for the workspace as a whole."""
    log = str(event.details.get("log") or GOVERNANCE)
    problems = [str(p) for p in event.details.get("problems") or []]
    first = problems[0] if problems else "no problem named"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Finding(
        cause=f"audit.verify:{log}",
        severity=1,
        title=f"Audit verify failed for the {log} log"[: service.MAX_TITLE],
        note=f"audit verify failed again at {event.time}: {first}{more}"[: service.MAX_NOTE],
        context={"log": GOVERNANCE, "seq": event.seq, "action": event.action, "problems": problems},
    )


@dataclass(frozen=True)
class Spike:
    """What an anomaly's bucket of requests says: where they went and what they got."""

    kind: str
    endpoint: str | None
    system: str | None
    release: str | None
    figures: dict[str, Any]


def from_anomaly(session: Session, event: Event) -> Finding:
    spike = attribute(session, event)
    where = spike.endpoint or event.subject
    consumer = event.details.get("consumer") or "an unknown consumer"
    title = f"{TITLES.get(spike.kind, spike.kind)} on {where}"
    figures = ", ".join(f"{k} {v}" for k, v in spike.figures.items())
    return Finding(
        cause=f"gateway.{spike.kind}:{where}",
        severity=SEVERITY.get(spike.kind, 3),
        title=title[: service.MAX_TITLE],
        note=f"{spike.kind} again at {event.time} by {consumer}: {figures}"[: service.MAX_NOTE],
        systems=[spike.system] if spike.system else [],
        releases=[spike.release] if spike.release else [],
        context={
            "log": TRAFFIC,
            "seq": event.seq,
            "action": event.action,
            "anomaly": event.details,
            "endpoint": spike.endpoint,
            "figures": spike.figures,
        },
    )


def attribute(session: Session, anomaly: Event) -> Spike:
    """The endpoint, system and release an anomaly's key hit in the anomaly's bucket."""
    key = anomaly.details.get("key")
    kind = str(anomaly.details.get("kind") or "anomaly")
    bucket = timedelta(seconds=float(anomaly.details.get("bucket_s") or 10))
    since = stamp(parse(anomaly.time) - bucket - SLACK)
    # the anomaly is recorded just before the request that revealed it, in the same batch
    wanted = int(anomaly.details.get("requests") or 0) or CHUNK
    window = _back_to(session, anomaly.seq + 2, since, key, wanted)
    requests = [e.details for e in window if e.action == REQUEST]
    mine = [d for d in requests if key and d.get("key") == key][-wanted:]  # its bucket
    mine = [d for d in mine if d.get("endpoint")]
    per = {
        endpoint: [d for d in mine if d["endpoint"] == endpoint]
        for endpoint in sorted({d["endpoint"] for d in mine})
    }
    figures: dict[str, Any] = {}
    endpoint = release = system = None
    if per:

        def weight(item: tuple[str, list[dict]]) -> int:
            calls = item[1]
            return len(calls) if kind == "burst" else sum(is_error(d["status"]) for d in calls)

        endpoint, calls = max(per.items(), key=weight)
        errors = sum(is_error(int(d.get("status", 0))) for d in calls)
        blocked = sum(d.get("decision") == "blocked" for d in calls)
        figures = {"requests": len(calls), "errors": errors, "blocked": blocked}
        if kind == "error_spike" and blocked and blocked * 2 >= errors:
            kind = "guard_blocks"
        releases = Counter(d["release"] for d in calls if d.get("release"))
        release = releases.most_common(1)[0][0] if releases else None
        system = _system_of(session, endpoint)
        if release is not None and not _release_exists(session, release):
            release = None
    return Spike(kind, endpoint, system, release if system else None, figures)


def _back_to(
    session: Session, before: int, since: str, key: str | None, wanted: int
) -> list[Event]:
    """Traffic events with seq < `before`, walking back in chunks (the seq is the indexed
    column; the time is not) until `wanted` requests of `key` are found (the bucket's count,
    as the detector reported it) or the events are older than `since`."""
    found: list[Event] = []
    hi, size, mine = before, CHUNK, 0
    while hi > 1:
        lo = max(0, hi - size)
        part = list_events(session, log=TRAFFIC, after=lo, before=hi)
        found = part + found
        mine += sum(1 for e in part if e.action == REQUEST and e.details.get("key") == key)
        if lo == 0 or (part and part[0].time < since) or (key and mine >= wanted):
            break
        hi, size = lo + 1, size * 2
    return [e for e in found if e.time >= since]


def _release_exists(session: Session, name: str) -> bool:
    try:
        get_release(session, name)
    except UsageError:  # malformed or unknown: the incident is opened without it
        return False
    return True


def _system_of(session: Session, endpoint: str) -> str | None:
    try:
        relations = get_entity(session, endpoint)["relations"]
    except NotFoundError:  # an endpoint no longer (or never) in the catalog
        return None
    return next(
        (
            r["target"]
            for r in relations
            if r["type"] == "partOf" and r["target"].startswith("system:")
        ),
        None,
    )
