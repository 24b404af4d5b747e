"""The events a subscription may name: the one list of them, their aliases, and matching.

An event type is an audit action (docs/events.md) or a pattern ending in `*` over one
package's noun (`incidents.incident.*`); a friendly alias names one or more of them. A name
outside this list is refused with one line that lists the known ones, so a typo never makes
a subscription that silently receives nothing. Pure functions over strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.errors import InputError


@dataclass(frozen=True)
class EventType:
    action: str  # an audit action
    alias: str  # the friendly name
    about: str
    written_from: str | None = None  # None: written today; else the change that will write it


# Keep in step with docs/events.md: tests/notifications/test_catalog.py checks that every
# action here is listed there, unless `written_from` says which change will write it.
TYPES: tuple[EventType, ...] = (
    EventType("pipeline.approval.requested", "approval-requested", "a release waits for approval"),
    EventType("pipeline.release.rejected", "release-rejected", "a release was rejected"),
    EventType("pipeline.promotion.refused", "promotion-refused", "a promotion was refused"),
    EventType("incidents.incident.opened", "incident-opened", "an incident was opened"),
    EventType("incidents.incident.acknowledged", "incident-acknowledged", "an owner took it"),
    EventType("incidents.incident.mitigated", "incident-mitigated", "its impact is stopped"),
    EventType("incidents.incident.noted", "incident-noted", "a note was added"),
    EventType("incidents.incident.resolved", "incident-resolved", "it is resolved"),
    EventType("incidents.incident.updated", "incident-updated", "its record changed"),
    EventType("incidents.action.added", "incident-action-added", "an action item was added"),
    EventType("incidents.action.done", "incident-action-done", "an action item is done"),
    EventType("gateway.key.expiring", "gateway-key-expiring", "a gateway key expires soon"),
    EventType("auth.token.expiring", "token-expiring", "an API token expires soon"),
    EventType("worker.job.failed", "job-failed", "a scheduled job failed"),
)
ACTIONS = {t.action: t for t in TYPES}
# the actions whose details name `recipients` (people, by user key), for subscriptions that
# mail each of them rather than one address
WITH_RECIPIENTS: tuple[str, ...] = ("pipeline.approval.requested",)
# aliases naming several actions at once
GROUPS: dict[str, tuple[str, ...]] = {
    "incident": ("incidents.incident.*", "incidents.action.*"),
    "key-expiring": ("gateway.key.expiring", "auth.token.expiring"),
}
ALIASES: dict[str, tuple[str, ...]] = {t.alias: (t.action,) for t in TYPES} | GROUPS


def names_recipients(pattern: str) -> bool:
    """Whether every action `pattern` stands for names its recipients."""
    found = expand(pattern)
    return bool(found) and all(a in WITH_RECIPIENTS for a in found)


def patterns() -> list[str]:
    """The `a.b.*` patterns that stand for more than one known action."""
    wildcards = sorted({a.rsplit(".", 1)[0] + ".*" for a in ACTIONS})
    return [w for w in wildcards if len(expand(w)) > 1]


def known() -> list[str]:
    """Every name `resolve` accepts."""
    return sorted(ACTIONS) + patterns() + sorted(ALIASES)


def known_line() -> str:
    """The known names as one line, for the refusal of another."""
    return (
        f"known: {', '.join(sorted(ACTIONS))}; patterns: {', '.join(patterns())}; "
        f"aliases: {', '.join(sorted(ALIASES))}"
    )


def expand(pattern: str) -> list[str]:
    """The known actions a pattern (`a.b.c`, or `a.b.*`) stands for."""
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return sorted(a for a in ACTIONS if a.startswith(prefix))
    return [pattern] if pattern in ACTIONS else []


def resolve(name: str) -> str:
    """The stored pattern for `name` (an action, a `*` pattern, or an alias); one comma-
    separated pattern list for an alias naming several. Raises InputError otherwise."""
    name = name.strip()
    if name in ALIASES:
        return ",".join(ALIASES[name])
    if "*" in name and not (name.endswith(".*") and name.count("*") == 1):
        raise InputError(f"event type {name!r}: only the last part may be `*` (a.b.*)")
    if expand(name):
        return name
    raise InputError(f"unknown event type {name!r}; {known_line()}")


def matches(pattern: str, action: str) -> bool:
    """Whether an event's `action` is one the stored `pattern` names (pure). A `*` stands
    for the known actions only: `incidents.incident.*` is not told of a refusal
    (`incidents.incident.refused`), which changes nothing; an unknown action matches
    nothing."""
    if action not in ACTIONS:  # a name no event carries, `auth.token.*` itself among them
        return False
    return any(
        part == action or (part.endswith(".*") and action.startswith(part[:-1]))
        for part in pattern.split(",")
    )


def subject_matches(wanted: str | None, subject: str) -> bool:
    """No filter, the subject itself, or a prefix ending in `/`, `:` or `*` (`system:default/`)."""
    if not wanted:
        return True
    if wanted.endswith("*"):
        return subject.startswith(wanted[:-1])
    if wanted.endswith(("/", ":")):
        return subject.startswith(wanted)
    return subject == wanted
