"""The readiness checks: five dimensions, each 100 points shared among weighted checks (pure).

A check is a function of `SystemFacts` that passes or fails with a reason and, when it
fails, a concrete fix (a command or the YAML field to write). A check scores all its weight
or nothing; a dimension's score is the sum of its passing checks' weights. The weights sit
next to each check below and in docs/readiness.md; a test checks each dimension sums to 100.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keel.catalog.kinds import POD_ROLES
from keel.readiness.facts import SystemFacts

NOT_YET = "not available yet"


@dataclass(frozen=True)
class Dimension:
    id: str
    title: str
    question: str


DIMENSIONS = (
    Dimension("data", "Data foundations", "Is the system ready to feed itself?"),
    Dimension("ownership", "Ownership", "Are roles and accountability defined?"),
    Dimension("infrastructure", "Infrastructure", "Can you deploy and roll back safely?"),
    Dimension("risk", "Risk & compliance", "Are approvals built into the process?"),
    Dimension("change", "Change management", "Are people ready for the system to land?"),
)


@dataclass(frozen=True)
class Outcome:
    passed: bool
    message: str  # what was found, in words
    fix: str = ""  # how to make it pass: a command or a YAML field


@dataclass(frozen=True)
class Check:
    id: str
    dimension: str
    weight: int
    title: str
    run: Callable[[SystemFacts], Outcome]


CHECKS: list[Check] = []


def check(dimension: str, check_id: str, weight: int, title: str):
    """Register a check of `dimension` worth `weight` points."""

    def register(fn: Callable[[SystemFacts], Outcome]) -> Callable[[SystemFacts], Outcome]:
        CHECKS.append(Check(check_id, dimension, weight, title, fn))
        return fn

    return register


def _ok(message: str) -> Outcome:
    return Outcome(True, message)


def _fail(message: str, fix: str) -> Outcome:
    return Outcome(False, message, fix)


def _some(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- data foundations: reliable, owned, refreshable, monitored for drift -------------------


@check("data", "data.owned", 15, "every data source has an owner that exists")
def _data_owned(f: SystemFacts) -> Outcome:
    sources = f.of_kind("DataSource")
    if not sources:
        return _fail(
            "the system declares no DataSource",
            f"declare its data: kind DataSource with spec.system: {f.name}, spec.owner, spec.origin",
        )
    keys = {s.key for s in sources}
    bad = [x for x in f.findings_on("owner") if x.subject in keys]
    if bad:
        return _fail(
            "; ".join(f"{x.subject}: {x.message}" for x in bad[:3]),
            f"set spec.owner of {_some([x.subject for x in bad])} to an existing Group or User",
        )
    return _ok(f"{len(sources)} data source(s), each owned")


@check("data", "data.lineage", 20, "every node traces back to data with a declared origin")
def _data_lineage(f: SystemFacts) -> Outcome:
    bad = f.findings_on("lineage")
    if not bad:
        return _ok("every node's lineage reaches a data source with an origin")
    no_origin = [x.subject for x in bad if "declares no origin" in x.message]
    fix = (
        f"declare spec.origin on {_some(no_origin)}"
        if no_origin
        else f"add spec.dependsOn on {bad[0].subject} so it reaches a DataSource with spec.origin"
    )
    return _fail("; ".join(f"{x.subject}: {x.message}" for x in bad[:3]), fix)


@check("data", "data.refresh", 15, "every data source says how it is refreshed")
def _data_refresh(f: SystemFacts) -> Outcome:
    sources = f.of_kind("DataSource")
    if not sources:
        return _fail("no DataSource to refresh", "declare the system's data sources first")
    stale = [s.key for s in sources if not s.spec.get("refresh")]
    if stale:
        return _fail(
            f"no refresh declared on {_some(stale)}",
            f"declare spec.refresh (e.g. nightly) on {_some(stale)}",
        )
    return _ok("each data source declares its refresh")


@check("data", "data.quality", 35, "the newest data quality check passes")
def _data_quality(f: SystemFacts) -> Outcome:
    record = (
        f"keel evidence add {f.name} --run RUN (or --release MODEL@N) --track data "
        "--check quality --result pass"
    )
    q = f.quality
    if q is None:
        return _fail(
            "no data.quality check recorded for any run or release",
            f"run the data quality check in the pipeline and record it: {record}",
        )
    where = f"release {q.release.split('/', 1)[-1]}" if q.release else f"run {q.run_id}"
    if q.result != "pass":
        return _fail(
            f"the newest data.quality check ({q.created_at[:19]}, {where}) is {q.result}",
            f"fix the data and run the quality check again; record it: {record}",
        )
    return _ok(f"data.quality passed on {q.created_at[:10]} ({where})")


@check("data", "data.drift", 15, "drift monitoring is configured")
def _data_drift(f: SystemFacts) -> Outcome:
    return _fail(
        f"drift monitoring: {NOT_YET} in Keel",
        "nothing to do yet: this check will read the monitor package's drift configuration",
    )


# --- ownership: the five pod roles and every node's owner --------------------------------


def _role_check(role: str) -> Callable[[SystemFacts], Outcome]:
    def run(f: SystemFacts) -> Outcome:
        people = f.pod.roles.get(role, [])
        fix = f"name a known User in spec.pod.{role} of {f.key}"
        if not people:
            return _fail(f"no {role} named", fix)
        unknown = [p.ref for p in people if not p.exists]
        if unknown:
            return _fail(f"{role} {_some(unknown)} is not a known user", fix)
        return _ok(f"{role}: " + ", ".join(p.name or p.ref for p in people))

    return run


for _role in POD_ROLES:  # 14 points each, 70 in all
    check("ownership", f"ownership.{_role}", 14, f"a {_role} is named")(_role_check(_role))


@check("ownership", "ownership.nodes", 30, "every node of the map has an owner that exists")
def _ownership_nodes(f: SystemFacts) -> Outcome:
    bad = f.findings_on("owner")
    if bad:
        return _fail(
            "; ".join(f"{x.subject}: {x.message}" for x in bad[:3]),
            f"set spec.owner of {_some([x.subject for x in bad])} to an existing Group or User",
        )
    return _ok(f"{len(f.members) + 1} nodes, each owned")


# --- infrastructure: environments exist, rollback declared and rehearsed -----------------


def _served(environment: str) -> Callable[[SystemFacts], Outcome]:
    def run(f: SystemFacts) -> Outcome:
        serving = f.served.get(environment, [])
        if environment == "production" and f.ungoverned:
            said = [
                f"{api} ({n:,} ungoverned requests in 7 days)" for api, n in f.ungoverned.items()
            ]
            first = next(iter(f.ungoverned)).partition("/")[2]
            return _fail(
                "production routes allow traffic with no release behind it: " + _some(said),
                f"release and promote the model behind {first} (keel release promote "
                f"MODEL@N --to production), then keel route set {first} --env production "
                "--refuse-ungoverned",
            )
        if serving:
            return _ok(f"{environment} serves {_some(serving)}")
        if f.releases:
            fix = f"keel release promote {f.releases[0]} --to {environment}"
        else:
            fix = (
                f"release a model (keel release create {f.name} --model MODEL --artifact PATH), "
                f"then keel release promote MODEL@1 --to {environment}"
            )
        return _fail(f"nothing of {f.name} has been promoted to {environment}", fix)

    return run


check("infrastructure", "infrastructure.staging", 25, "a release serves staging")(
    _served("staging")
)
check("infrastructure", "infrastructure.production", 25, "a release serves production")(
    _served("production")
)


@check("infrastructure", "infrastructure.rollback", 30, "every model and API has a rollback path")
def _rollback_declared(f: SystemFacts) -> Outcome:
    nodes = f.of_kind("Model", "API")
    if not nodes:
        return _fail(
            "the system has no Model or API to roll back",
            f"declare its models and APIs (spec.system: {f.name}) with spec.rollback",
        )
    bare = [n.key for n in nodes if not n.spec.get("rollback")]
    if bare:
        return _fail(
            f"no rollback path on {_some(bare)}",
            f"declare spec.rollback on {_some(bare)} "
            "({strategy: previous-version}, {strategy: fallback, target: ...} or {strategy: disable})",
        )
    return _ok(f"{len(nodes)} model(s) and API(s), each with spec.rollback")


@check("infrastructure", "infrastructure.rehearsal", 20, "rollback rehearsed within the window")
def _rollback_rehearsed(f: SystemFacts) -> Outcome:
    return _fail(
        f"rollback rehearsals: {NOT_YET} in Keel",
        "nothing to do yet: this check will read the rollout package's rehearsals",
    )


# --- risk & compliance: a policy with approvals, reviews cleared, governance on every node --


@check("risk", "risk.policy", 20, "a Policy requires approvals before production")
def _risk_policy(f: SystemFacts) -> Outcome:
    if not f.policies:
        return _fail(
            f"no Policy governs {f.key}",
            f"apply a Policy (keel.dev/v1) with spec.appliesTo.systems: [{f.name}] and "
            "spec.approvals.production: [riskLead, ...]",
        )
    gated = [p.key for p in f.policies if p.spec.approvals.get("production")]
    if not gated:
        return _fail(
            f"{_some([p.key for p in f.policies])} require(s) no approval before production",
            f"add spec.approvals.production: [riskLead, ...] to {f.policies[0].key}",
        )
    return _ok(f"{_some(gated)} require(s) approvals before production")


def _review_check(kind: str) -> Callable[[SystemFacts], Outcome]:
    def run(f: SystemFacts) -> Outcome:
        done = f.reviews.get(kind)
        if done is not None:
            return _ok(f"cleared by {done.reviewer} on {done.created_at[:10]}")
        who, source = f.reviewers.get(kind, ([], f"spec.reviewers.{kind}"))
        if not who:
            return _fail(
                f"no {kind} review, and nobody may clear it (no spec.reviewers.{kind}, no riskLead)",
                f"name a reviewer in spec.reviewers.{kind} of {f.key}",
            )
        return _fail(
            f"the {kind} review is not cleared ({source} names {_some(who)})",
            f"keel review {f.name} --kind {kind} --as {who[0]}",
        )

    return run


for _kind in ("privacy", "legal", "security"):  # 20 points each, 60 in all
    check("risk", f"risk.{_kind}", 20, f"the {_kind} review is cleared")(_review_check(_kind))


@check("risk", "risk.governance", 20, "governance applies to every node that needs it")
def _risk_governance(f: SystemFacts) -> Outcome:
    bad = f.findings_on("governance")
    if bad:
        return _fail(
            f"no governance control on {_some([x.subject for x in bad])}",
            f"add spec.governance: [CONTROL] to {_some([x.subject for x in bad])} or to {f.key}",
        )
    return _ok("every model, API and data source is under a governance control")


# --- change management: training, communication, workflow changes, someone to lead it -----


def _plan_check(part: str) -> Callable[[SystemFacts], Outcome]:
    def run(f: SystemFacts) -> Outcome:
        text = f.pod.change_plan.get(part)
        if text:
            return _ok(text if len(text) <= 80 else text[:77] + "...")
        return _fail(f"the change plan has no {part}", f"write spec.changePlan.{part} of {f.key}")

    return run


check("change", "change.training", 30, "users' training is planned")(_plan_check("training"))
check("change", "change.communication", 25, "communication is planned")(
    _plan_check("communication")
)
check("change", "change.workflowChanges", 25, "workflow changes are written down")(
    _plan_check("workflowChanges")
)


@check("change", "change.manager", 20, "a change manager coordinates the landing")
def _change_manager(f: SystemFacts) -> Outcome:
    return _role_check("changeManager")(f)
