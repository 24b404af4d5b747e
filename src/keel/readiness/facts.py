"""What the readiness check looks at, gathered once per system through other packages' functions.

The catalog (the map, its validation findings, the pod), the pipeline (policies, the newest
data quality evidence, releases, what each environment serves), this package's reviews and
the audit log (the gateway's route events and the traffic they let through ungoverned)
become one plain `SystemFacts`; the checks are pure functions of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from keel import audit
from keel.catalog.graph import load_system_scope, system_members
from keel.catalog.kinds import REVIEW_KINDS
from keel.catalog.pods import PodReport, pod_report
from keel.catalog.queries import governing, system_key
from keel.catalog.validate import Finding, validate
from keel.pipeline.evidence import Evidence, latest_evidence
from keel.pipeline.policy import NamedPolicy, policies_for
from keel.pipeline.promotion import where
from keel.pipeline.releases import list_releases
from keel.readiness.reviews import Review, latest_reviews, reviewers_in


@dataclass(frozen=True)
class Member:
    """A node of the system's map (the System itself excluded)."""

    key: str
    kind: str
    spec: dict[str, Any]


@dataclass
class SystemFacts:
    key: str
    name: str  # what people type: `credit-decisioning`
    title: str
    spec: dict[str, Any]
    members: list[Member]
    findings: list[Finding]  # `map validate` on the system and its members (orphans aside)
    pod: PodReport
    policies: list[NamedPolicy]
    quality: Evidence | None  # the newest data.quality evidence of any run or release
    served: dict[str, list[str]]  # environment -> releases it serves (short names)
    releases: list[str]  # the newest release of each model (short names)
    reviews: dict[str, Review]  # kind -> the newest review
    reviewers: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # kind -> who, field
    # API -> requests served in production with no release in the last week (of the newest
    # UNGOVERNED_READ events read), for each API that serves production ungoverned now
    ungoverned: dict[str, int] = field(default_factory=dict)

    def of_kind(self, *kinds: str) -> list[Member]:
        return [m for m in self.members if m.kind in kinds]

    def findings_on(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]


def gather(session: Session, system: str) -> SystemFacts:
    """The facts about `system` (a name or key); NotFoundError when it is not a System."""
    key = system_key(session, system)
    graph = load_system_scope(session, key)  # this system's part of the catalog, not all of it
    node = graph.resolve_system(system)
    members = [
        Member(k, graph.nodes[k].kind, graph.nodes[k].spec)
        for k in sorted(system_members(graph, key))
        if k != key and k in graph.nodes
    ]
    served: dict[str, list[str]] = {}
    promoted: set[str] = set()  # the models with a release in production
    for row in where(session, key):
        served.setdefault(row["environment"], []).append(_short(row["release"]))
        if row["environment"] == "production":
            promoted.add(row["model"])
    apis = {
        m.key: {t for t in graph.upstream.get(m.key, []) if t.startswith("model:")}
        for m in members
        if m.kind == "API"
    }
    newest: dict[str, str] = {}
    for release in list_releases(session, key):  # ordered by model, then version
        newest[release.model] = release.short_name
    return SystemFacts(
        key=key,
        name=node.name if node.namespace == "default" else key,
        title=node.title,
        spec=node.spec,
        members=members,
        findings=[f for f in validate(graph, system=key).findings if f.check != "orphan"],
        pod=pod_report(session, key, graph=graph),
        policies=policies_for(governing(session, key, "Policy")),
        quality=latest_evidence(session, key, "data", "quality"),
        served=served,
        releases=sorted(newest.values()),
        reviews=latest_reviews(session, key),
        reviewers={kind: reviewers_in(graph, key, kind) for kind in REVIEW_KINDS},
        ungoverned=_ungoverned(session, apis, promoted),
    )


UNGOVERNED_WINDOW = timedelta(days=7)
UNGOVERNED_READ = 10_000  # traffic events read per API at most


def _ungoverned(session: Session, apis: dict[str, set[str]], promoted: set[str]) -> dict[str, int]:
    """The APIs that serve production ungoverned now, by the gateway's rule: their production
    route, by its newest event in the governance log, allows it, and none of the models they
    depend on (`apis`: API key -> model keys, from the map) has a release in production
    (`promoted`, model keys). Each with the ungoverned production requests the traffic log
    holds for the last week (of the newest UNGOVERNED_READ events of the API). Read from the
    log, not the gateway's tables: readiness sits below the gateway, and the log is the
    record either way."""
    out: dict[str, int] = {}
    since = (datetime.now(UTC) - UNGOVERNED_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
    for api, models in apis.items():
        if models & promoted:
            continue
        route = _production_route(session, api)
        if route is None or not route.get("allow_ungoverned"):
            continue
        events = audit.list_events(
            session, log="traffic", subject=api, since=since, limit=UNGOVERNED_READ
        )
        out[api] = sum(
            1
            for e in events
            if e.details.get("ungoverned") is True and e.details.get("environment") == "production"
        )
    return out


def _production_route(session: Session, api: str) -> dict[str, Any] | None:
    """The details of the newest `gateway.route.set` of `api` in production, or None when
    there is none or a `gateway.route.removed` followed it."""
    for event in reversed(audit.list_events(session, subject=api)):
        if event.details.get("environment") != "production":
            continue
        if event.action == "gateway.route.set":
            return event.details
        if event.action == "gateway.route.removed":
            return None
    return None


def _short(release: str) -> str:
    """`model:default/credit-scorer@2` -> `credit-scorer@2`."""
    return release.split("/", 1)[1] if "/" in release else release
