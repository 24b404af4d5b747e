"""Action names: the naming rule and the one table of names events were once stored under.

Every action is `<package>.<noun>.<verb in the past>` (`catalog.entity.created`), listed in
docs/events.md. The log is immutable, so a renamed action keeps its old name in the events
written before the rename; readers see the current name: `Event.from_row` maps it through
`current`, and `list_events(action=...)` matches every name in `stored_names`.
"""

from __future__ import annotations

import re

RULE = re.compile(r"^[a-z]+\.[a-z][a-z_]*\.[a-z]+$")
IRREGULAR_PAST = frozenset({"set", "done"})  # past participles that do not end in -ed
# warnings of something about to happen, which no past tense names (`auth.token.expiring`)
FORESEEN = frozenset({"expiring"})

# old stored name -> current name (add a row when an action is renamed; never remove one)
RENAMED: dict[str, str] = {
    "workspace.created": "workspace.store.created",
    "workspace.mode_changed": "workspace.mode.changed",
    "release.create": "pipeline.release.created",
    "release.attest": "pipeline.release.attested",
    "release.approve": "pipeline.release.approved",
    "release.approve.refused": "pipeline.approval.refused",
    "release.promote": "pipeline.release.promoted",
    "release.promote.refused": "pipeline.promotion.refused",
    "evidence.add": "pipeline.evidence.added",
    "run.start": "pipeline.run.started",
    "run.facts": "pipeline.run.reported",
    "run.finish": "pipeline.run.finished",
    "featureset.access": "pipeline.featureset.accessed",
    "system.review": "readiness.system.reviewed",
    "system.review.refused": "readiness.review.refused",
    "stage.advance": "readiness.stage.advanced",
    "stage.advance.refused": "readiness.advance.refused",
    "gateway.request": "gateway.request.handled",
    "gateway.anomaly": "gateway.anomaly.detected",
}


def follows_rule(action: str) -> bool:
    """`<package>.<noun>.<verb in the past>`: three lower-case parts, the last a past tense."""
    if not RULE.match(action):
        return False
    verb = action.rsplit(".", 1)[1]
    return verb.endswith("ed") or verb in IRREGULAR_PAST or verb in FORESEEN


def current(action: str) -> str:
    """The name an action has now, for one read from the log under any name it had."""
    return RENAMED.get(action, action)


def stored_names(action: str) -> list[str]:
    """Every name events of `action` (current or old) may be stored under."""
    now = current(action)
    return [now, *sorted(old for old, new in RENAMED.items() if new == now)]
