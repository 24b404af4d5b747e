"""Evidence from outside (the SDK, CLI and API): for a run of a system, or for one of its releases.

Above both `runs` and `releases`, so that neither imports the other: a run knows nothing of
releases, and a release reads the run it rests on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from keel.errors import UsageError
from keel.identity import Actor
from keel.pipeline import runs
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
    """Record evidence for a run or a release of `system` (from the SDK, CLI or API)."""
    key = runs.system_key(session, system)
    if (run_id is None) == (release is None):
        raise UsageError("evidence belongs to a run or to a release: name one")
    if run_id is not None and get_run(session, run_id).system != key:
        raise UsageError(f"run {run_id} is not a run of {key}")
    release_name = None
    if release is not None:
        found = get_release(session, release)
        if found.system != key:
            raise UsageError(f"{found.short_name} is not a release of {key}")
        release_name = found.name
    return record_evidence(session, actor, key, data, run_id=run_id, release=release_name)
