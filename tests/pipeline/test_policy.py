"""Policy evaluation, pure: each requirement met, or missing with its reason in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.catalog import service
from keel.errors import InputError
from keel.pipeline.policy import ApprovalFact, EvidenceFact, NamedPolicy, evaluate
from keel.pipeline.policy_kind import PolicySpec

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
AUTHOR = "user:default/ana"


def _policy(**spec) -> NamedPolicy:
    base = {
        "appliesTo": {"systems": ["s"]},
        "evidence": {"model": ["fairness"]},
        "thresholds": {"model.fairness.dpd": {"max": 0.1}},
        "approvals": {"staging": ["mlEngineer"], "production": ["riskLead", "dataSteward"]},
        "separationOfDuties": {"approverIsNotAuthor": True, "distinctApprovers": 2},
        "evidenceMaxAge": "30d",
    }
    return NamedPolicy("policy:default/p", PolicySpec.model_validate({**base, **spec}))


def _ev(result="pass", dpd=0.05, days_ago=1, check="fairness") -> EvidenceFact:
    when = (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
    return EvidenceFact("model", check, result, {"dpd": dpd}, when)


def _ap(role, who) -> ApprovalFact:
    return ApprovalFact(role, who, "2026-11-25T11:00:00Z")


def _missing(env="production", evidence=(), approvals=(), policies=None):
    return evaluate(
        [_policy()] if policies is None else policies,
        env,
        system="system:default/s",
        author=AUTHOR,
        evidence=list(evidence),
        approvals=list(approvals),
        now=NOW,
    )


PROD_APPROVALS = [_ap("riskLead", "user:default/dara"), _ap("dataSteward", "user:default/chen")]


def test_everything_present_means_nothing_missing():
    assert _missing(evidence=[_ev()], approvals=PROD_APPROVALS) == []
    assert _missing("staging", [_ev()], [_ap("mlEngineer", "user:default/ivo")]) == []


def test_no_policy_refuses():
    (gap,) = _missing(policies=[])
    assert gap.requirement == "policy" and "no Policy governs system:default/s" in gap.reason


@pytest.mark.parametrize(
    ("evidence", "requirement", "words"),
    [
        ([], "evidence model.fairness", "no model.fairness check recorded"),
        ([_ev(result="fail")], "evidence model.fairness", "is fail"),
        ([_ev(days_ago=45)], "evidence model.fairness", "older than 30d"),
        ([_ev(dpd=0.14)], "threshold model.fairness.dpd", "0.14, above the maximum 0.1"),
    ],
)
def test_evidence_gaps_say_why(evidence, requirement, words):
    gaps = _missing(evidence=evidence, approvals=PROD_APPROVALS)
    assert any(g.requirement == requirement and words in g.reason for g in gaps), gaps


def test_the_newest_evidence_counts():
    old_fail, new_pass = _ev(result="fail", days_ago=3), _ev(days_ago=1)
    assert _missing(evidence=[new_pass, old_fail], approvals=PROD_APPROVALS) == []
    assert _missing(
        evidence=[_ev(days_ago=3), _ev(result="fail", days_ago=1)], approvals=PROD_APPROVALS
    )


def test_approvals_separation_of_duties_and_distinct_people():
    gaps = _missing(evidence=[_ev()], approvals=[_ap("riskLead", "user:default/dara")])
    assert [g.requirement for g in gaps] == ["approval dataSteward", "separation of duties"]
    assert "no dataSteward has approved" in gaps[0].reason
    # the author's own approval does not count
    gaps = _missing("staging", [_ev()], [_ap("mlEngineer", AUTHOR)])
    assert gaps[0].requirement == "approval mlEngineer" and "only the author" in gaps[0].reason
    # one person in both roles is one approver, not two
    same = [_ap("riskLead", "user:default/dara"), _ap("dataSteward", "user:default/dara")]
    gaps = _missing(evidence=[_ev()], approvals=same)
    assert [g.requirement for g in gaps] == ["separation of duties"]


def test_two_policies_add_up_and_a_shared_gap_is_listed_once():
    strict = _policy(evidence={"model": ["fairness", "robustness"]})
    gaps = evaluate(
        [_policy(), strict],
        "production",
        system="system:default/s",
        author=AUTHOR,
        evidence=[],
        approvals=PROD_APPROVALS,
        now=NOW,
    )
    requirements = [g.requirement for g in gaps]
    assert "evidence model.robustness" in requirements
    assert len(set(map(str, gaps))) == len(gaps)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("approvals: {production: [riskboss]}", "unknown role 'riskboss'"),
        ("evidenceMaxAge: 30 days", "evidenceMaxAge is a number"),
        ("thresholds: {fairness: {max: 1}}", "is not track.check.figure"),
        ("thresholds: {model.fairness.dpd: {}}", "needs max or min"),
        ("evidence: {ops: [x]}", "spec.evidence"),
        ("separationOfDuties: {distinctApprovers: 0}", "distinctApprovers"),
        ("colour: red", "unknown field"),
    ],
)
def test_a_policy_with_a_typo_is_one_clear_line(spec, words):
    text = (
        "apiVersion: keel.dev/v1\nkind: Policy\nmetadata: {name: p}\n"
        f"spec:\n  appliesTo: {{systems: [s]}}\n  {spec}\n"
    )
    with pytest.raises(InputError) as info:
        service.load_text(text)
    assert words in str(info.value)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["pass", "fail", "error"]),
            st.floats(0, 1),
            st.integers(0, 60),
        ),
        max_size=6,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["riskLead", "dataSteward", "mlEngineer"]),
            st.sampled_from([AUTHOR, "user:default/dara", "user:default/chen"]),
        ),
        max_size=4,
    ),
)
def test_allowed_exactly_when_every_rule_holds(evidence, approvals):
    """The evaluation agrees with the rules stated directly, on any facts."""
    facts = [_ev(r, dpd, days) for r, dpd, days in evidence]
    aps = [_ap(role, who) for role, who in approvals]
    fresh = [
        e
        for e in facts
        if NOW - datetime.fromisoformat(e.time.replace("Z", "+00:00")) <= timedelta(days=30)
    ]
    newest = max(fresh, key=lambda e: e.time) if fresh else None
    evidence_ok = newest is not None and newest.result == "pass" and newest.figures["dpd"] <= 0.1
    counted = [a for a in aps if a.approver != AUTHOR and a.role in ("riskLead", "dataSteward")]
    roles_ok = {a.role for a in counted} == {"riskLead", "dataSteward"}
    people_ok = len({a.approver for a in counted}) >= 2
    allowed = evidence_ok and roles_ok and people_ok
    assert (_missing(evidence=facts, approvals=aps) == []) == allowed


def _governing(naming=(), tier=None, **specs):
    from keel.catalog.queries import Governing

    return Governing(
        system="system:default/s",
        system_spec=None if tier is False else ({"riskTier": tier} if tier else {}),
        specs=specs,
        naming=frozenset(naming),
    )


def test_policies_for_picks_those_naming_the_system_or_its_tier():
    from keel.pipeline.policy import policies_for

    named = {"appliesTo": {"systems": ["s"]}}
    tiered = {"appliesTo": {"riskTiers": ["High"]}}
    other = {"appliesTo": {"riskTiers": ["low"]}}
    facts = _governing(["policy:default/a"], "high", **{"policy:default/a": named})
    facts.specs.update({"policy:default/b": tiered, "policy:default/c": other})
    assert [p.key for p in policies_for(facts)] == ["policy:default/a", "policy:default/b"]
    # a system not in the catalog has no tier: only the policies naming it
    facts = _governing(["policy:default/a"], False, **facts.specs)
    assert [p.key for p in policies_for(facts)] == ["policy:default/a"]


def test_the_policy_module_reads_no_store():
    import ast

    from tests.conftest import REPO

    tree = ast.parse((REPO / "src" / "keel" / "pipeline" / "policy.py").read_text())
    modules = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not {m for m in modules if m.startswith("sqlalchemy") or m.endswith(".tables")}


def test_the_catalog_reads_what_decides_governance(demo_ws):
    from keel.catalog.queries import governing
    from keel.pipeline.policy import policies_for

    with demo_ws.read() as session:
        facts = governing(session, "system:default/credit-decisioning", "Policy")
        unknown = governing(session, "system:default/nope", "Policy")
    assert facts.naming == {"policy:default/credit-decisioning-release"}
    # every policy is read (one may name the system's risk tier); only the one naming it governs
    assert set(facts.specs) == {
        "policy:default/credit-decisioning-release",
        "policy:default/support-assistant-release",
    }
    assert facts.system_spec["owner"]
    assert [p.key for p in policies_for(facts)] == ["policy:default/credit-decisioning-release"]
    assert unknown.system_spec is None and policies_for(unknown) == []
