"""Which policies govern a system, and what a release still lacks under them (pure).

`policies_for` picks the governing policies from the catalog's facts
(`keel.catalog.queries.governing(session, system, "Policy")`); `evaluate` takes plain facts
(the release's author, its evidence, its approvals, the time) and returns one `Missing` per
unmet requirement, each saying what and why in words; an empty list means the release may
be promoted. Nothing here reads the store, so every rule is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keel.catalog.queries import Governing
from keel.pipeline.policy_kind import PolicySpec, Threshold


@dataclass(frozen=True)
class Missing:
    requirement: str  # e.g. "evidence model.fairness", "approval riskLead", "policy"
    reason: str

    def __str__(self) -> str:
        return f"{self.requirement}: {self.reason}" if self.requirement else self.reason


@dataclass(frozen=True)
class EvidenceFact:
    track: str
    check: str
    result: str
    figures: dict[str, float]
    time: str


@dataclass(frozen=True)
class ApprovalFact:
    role: str
    approver: str
    time: str
    proven: bool = True  # made with a token or web session, not a local name


@dataclass(frozen=True)
class NamedPolicy:
    key: str
    spec: PolicySpec


def policies_for(facts: Governing) -> list[NamedPolicy]:
    """The policies that name the system or its risk tier (`spec.riskTier`)."""
    tier = (facts.system_spec or {}).get("riskTier")
    found = []
    for key, raw in facts.specs.items():
        spec = PolicySpec.model_validate(raw)
        tiers = {str(t).lower() for t in spec.appliesTo.riskTiers}
        if key in facts.naming or (tier is not None and str(tier).lower() in tiers):
            found.append(NamedPolicy(key, spec))
    return sorted(found, key=lambda p: p.key)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def evaluate(
    policies: list[NamedPolicy],
    environment: str,
    *,
    system: str,
    author: str,
    evidence: list[EvidenceFact],
    approvals: list[ApprovalFact],
    now: datetime,
) -> list[Missing]:
    """Every requirement of every policy for `environment` that the facts do not meet."""
    if not policies:
        return [
            Missing(
                "policy",
                f"no Policy governs {system}: a release cannot be promoted without one "
                "(kind: Policy, spec.appliesTo.systems)",
            )
        ]
    missing: list[Missing] = []
    for policy in policies:
        missing += _evidence(policy, evidence, now)
        missing += _approvals(policy, environment, author, approvals)
    return list(dict.fromkeys(missing))  # the same gap under two policies is one gap


def _newest(evidence: list[EvidenceFact], track: str, check: str) -> EvidenceFact | None:
    matching = [e for e in evidence if e.track == track and e.check == check]
    return max(matching, key=lambda e: _time(e.time)) if matching else None


def _evidence(policy: NamedPolicy, evidence: list[EvidenceFact], now: datetime) -> list[Missing]:
    out = []
    max_age = policy.spec.max_age()
    fresh = [e for e in evidence if max_age is None or now - _time(e.time) <= max_age]
    for track, checks in policy.spec.evidence.items():
        for check in checks:
            what = f"evidence {track}.{check}"
            newest = _newest(fresh, track, check)
            if newest is None:
                stale = _newest(evidence, track, check)
                reason = (
                    f"the newest is from {stale.time[:10]}, older than {policy.spec.evidenceMaxAge} "
                    f"({policy.key})"
                    if stale
                    else f"no {track}.{check} check recorded ({policy.key})"
                )
                out.append(Missing(what, reason))
            elif newest.result != "pass":
                out.append(
                    Missing(
                        what, f"the newest {check} check ({newest.time[:19]}) is {newest.result}"
                    )
                )
    for name, bound in policy.spec.thresholds.items():
        track, check, figure = name.split(".", 2)
        newest = _newest(fresh, track, check)
        what = f"threshold {name}"
        if newest is None:
            out.append(Missing(what, f"no {track}.{check} check to read {figure} from"))
            continue
        value = newest.figures.get(figure)
        if value is None:
            out.append(Missing(what, f"the {check} check did not report {figure}"))
        elif bound.max is not None and value > bound.max:
            out.append(Missing(what, f"{figure} is {value:.4g}, above the maximum {bound.max:g}"))
        elif bound.min is not None and value < bound.min:
            out.append(Missing(what, f"{figure} is {value:.4g}, below the minimum {bound.min:g}"))
    return out


def _approvals(
    policy: NamedPolicy, environment: str, author: str, approvals: list[ApprovalFact]
) -> list[Missing]:
    out = []
    rules = policy.spec.separationOfDuties
    roles = policy.spec.approvals.get(environment, [])  # type: ignore[call-overload]
    counted = []
    proven_only = environment == "production" and rules.provenIdentities
    for role in roles:
        mine = [a for a in approvals if a.role == role]
        valid = [a for a in mine if not (rules.approverIsNotAuthor and a.approver == author)]
        local = [a for a in valid if proven_only and not a.proven]
        valid = [a for a in valid if a not in local]
        if valid:
            counted += valid
        elif local:
            out.append(
                Missing(
                    f"approval {role}",
                    f"{local[0].approver} approved as {role} with a local identity (unproven); "
                    f"{policy.key} counts production approvals made with a token or a web "
                    "session only",
                )
            )
        elif mine:
            out.append(
                Missing(
                    f"approval {role}",
                    f"only the author {author} approved as {role}; separation of duties "
                    f"({policy.key}) needs someone else",
                )
            )
        else:
            out.append(Missing(f"approval {role}", f"no {role} has approved ({policy.key})"))
    people = {a.approver for a in counted}
    if environment == "production" and roles and len(people) < rules.distinctApprovers:
        out.append(
            Missing(
                "separation of duties",
                f"{len(people)} different approver(s), {policy.key} needs "
                f"{rules.distinctApprovers}",
            )
        )
    return out


@dataclass(frozen=True)
class FigureCheck:
    """One figure of one evidence record beside the thresholds the policies set on it."""

    track: str
    check: str
    figure: str
    value: float | None  # None: the record does not report the figure a threshold names
    bounds: tuple[tuple[str, str], ...]  # (policy key, bound text), empty without a threshold
    passed: bool | None  # None: no threshold on this figure
    newest: bool  # the newest record of its check: the one the gate reads
    time: str


def figure_checks(policies: list[NamedPolicy], evidence: list[EvidenceFact]) -> list[FigureCheck]:
    """Every figure of every record, checks in their given order and each check's newest
    record first, each with the thresholds of `policies` on it and whether it meets them. A
    threshold the newest record of its check does not report, or whose check has no record,
    is a failing row with no value (pure)."""
    bounds: dict[str, list[tuple[str, Threshold]]] = {}
    for policy in policies:
        for name, bound in policy.spec.thresholds.items():
            bounds.setdefault(name, []).append((policy.key, bound))
    checks = list(dict.fromkeys((e.track, e.check) for e in evidence))  # in the given order
    rows = []
    for track, check in checks:
        records = [e for e in evidence if (e.track, e.check) == (track, check)]
        rows += _figure_rows(sorted(records, key=lambda e: _time(e.time), reverse=True), bounds)
    for name, on in sorted(bounds.items()):  # thresholds on checks with no record at all
        track, check, figure = name.split(".", 2)
        if (track, check) not in checks:
            texts = tuple((key, b.text()) for key, b in on)
            rows.append(FigureCheck(track, check, figure, None, texts, False, True, ""))
    return rows


def _figure_rows(
    records: list[EvidenceFact], bounds: dict[str, list[tuple[str, Threshold]]]
) -> list[FigureCheck]:
    rows = []
    for e in records:
        latest = e is records[0]
        names = {f"{e.track}.{e.check}.{f}": f for f in e.figures}
        if latest:  # thresholds on figures this record does not report
            prefix = f"{e.track}.{e.check}."
            names |= {n: n[len(prefix) :] for n in bounds if n.startswith(prefix)}
        for name, figure in sorted(names.items(), key=lambda kv: (kv[0] not in bounds, kv[1])):
            value = e.figures.get(figure)
            on = bounds.get(name, [])
            rows.append(
                FigureCheck(
                    e.track,
                    e.check,
                    figure,
                    value,
                    tuple((key, b.text()) for key, b in on),
                    None if not on else value is not None and all(b.admits(value) for _, b in on),
                    latest,
                    e.time,
                )
            )
    return rows
