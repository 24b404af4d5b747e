"""Evidence from outside (the SDK, CLI and API): for a run of a system, or for one of its releases.

Above both `runs` and `releases`, so that neither imports the other: a run knows nothing of
releases, and a release reads the run it rests on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from keel.catalog.pods import roles_of
from keel.errors import NoStanding, PermissionDenied, UsageError
from keel.identity import Actor
from keel.pipeline import runs
from keel.pipeline.approvals import separating_policy
from keel.pipeline.evidence import Evidence, record_evidence
from keel.pipeline.releases import get_release
from keel.pipeline.runs import get_run


def add_evidence(
    session: Session,
    actor: Actor,
    system: str,
    data: Any,
    *,
    run_id: str | None = None,
    release: str | None = None,
) -> Evidence:
    """Record evidence for a run or a release of `system` (from the SDK, CLI or API).

    Evidence decides checks (the newest per check counts), so not anyone may add it: a run's
    evidence comes from the run's owner or someone in the system's pod, a release's from
    someone in the pod. What a release's author records on it directly comes back marked
    as not counting where a policy separates duties (`Evidence.judged`), so the caller can
    say so at once.
    """
    key = runs.system_key(session, system)
    if (run_id is None) == (release is None):
        raise UsageError("evidence belongs to a run or to a release: name one")
    in_pod = bool(roles_of(session, key, actor.id))
    if run_id is not None:
        run = get_run(session, run_id)
        if run.system != key:
            raise UsageError(f"run {run_id} is not a run of {key}")
        if run.actor != actor.id and not in_pod:
            raise PermissionDenied(
                f"run {run_id} is {run.actor}'s and {actor.id} is not in the pod of {key}"
            )
    release_name = found = None
    if release is not None:
        found = get_release(session, release)
        if found.system != key:
            raise UsageError(f"{found.short_name} is not a release of {key}")
        if not in_pod:
            raise NoStanding(f"{actor.id} is not in the pod of {key}")
        release_name = found.name
    recorded = record_evidence(session, actor, key, data, run_id=run_id, release=release_name)
    if found is None:
        return recorded
    return recorded.judged(found.created_by, separating_policy(session, key))
