"""Lifecycle stages on both stores: one step at a time, only when the exit criteria hold."""

from __future__ import annotations

import pytest

from keel.audit import list_events
from keel.errors import PermissionDenied, UsageError
from keel.identity import user_actor
from keel.pipeline import approvals, attach, promotion, refusals, releases
from keel.readiness import reviews, stages
from tests.readiness.catalogs import apply, people, system

ENG1 = user_actor("eng1", "local")  # releases
ENG2 = user_actor("eng2", "local")  # approves for staging
RISK = user_actor("risk", "local")
OUTSIDER = user_actor("outsider", "local")


@pytest.fixture
def flow(ws, admin):
    apply(ws, admin, people() + system("flow", min_score=90))
    return ws


def _advance(ws, actor=ENG1, to=None):
    return refusals.logged(
        ws,
        actor,
        "readiness.advance.refused",
        reviews.subject_of("flow"),
        lambda session: stages.advance(session, actor, "flow", to),
    )


def _stage(ws) -> str:
    with ws.read() as session:
        return stages.current(session, "system:default/flow").stage


def _release(ws, tmp_path):
    artifact, data = tmp_path / "model.bin", tmp_path / "train.csv"
    artifact.write_bytes(b"weights")
    data.write_text("a,b\n1,2\n")
    build = releases.Build(artifact=artifact, data={"datasource:default/flow-src": data})
    with ws.write(ENG1) as session:
        return releases.create_release(session, ENG1, ws.signer(), "flow", "flow-model", build)


def _evidence(ws, release, *checks):
    """Recorded by the other engineer: the author's own evidence on a release does not count."""
    with ws.write(ENG2) as session:
        for track, check in checks:
            attach.add_evidence(
                session,
                ENG2,
                "flow",
                {"track": track, "check": check, "result": "pass"},
                release=release.short_name,
            )


def _approve(ws, actor, release, role):
    with ws.write(actor) as session:
        approvals.approve(session, actor, release.short_name, role)


def _promote(ws, release, env):
    with ws.write(ENG1) as session:
        decision = promotion.promote(session, ENG1, ws.signer(), release.short_name, env)
    assert decision.allowed, decision.missing


def _review_all(ws):
    with ws.write(RISK) as session:
        for kind in ("privacy", "legal", "security"):
            reviews.review(session, RISK, "flow", kind)


def test_from_design_to_operate_refused_at_each_gap(flow, tmp_path):
    assert _stage(flow) == "design"
    with pytest.raises(PermissionDenied, match="not in the pod"):
        _advance(flow, OUTSIDER)
    assert _advance(flow).to == "build"

    refused = _advance(flow)
    assert not refused.allowed and _stage(flow) == "build"
    assert [str(c) for c in refused.missing] == [
        "build.evidence: no release of any model of the system yet (keel release create)"
    ]
    release = _release(flow, tmp_path)
    _evidence(flow, release, ("data", "quality"))
    (gap,) = _advance(flow).missing
    assert gap.id == "evidence" and "flow-model@1 lacks evidence model.fairness" in gap.detail
    _evidence(flow, release, ("model", "fairness"))  # eval evidence is not needed to build
    assert _advance(flow).to == "validate"

    (gap, production, ready) = _advance(flow).missing
    assert "nothing serves staging" in gap.detail
    assert production.id == "production" and ready.id == "readiness"
    _evidence(flow, release, ("eval", "evaluation"))
    _approve(flow, ENG2, release, "mlEngineer")
    _promote(flow, release, "staging")
    _approve(flow, RISK, release, "riskLead")
    _promote(flow, release, "production")
    (ready,) = _advance(flow).missing
    assert ready.detail == "readiness 81.0 is below the minimum 90.0 (policy:default/flow-policy)"
    _review_all(flow)
    moved = _advance(flow)
    assert moved.allowed and (moved.stage, moved.to) == ("validate", "operate")
    assert _stage(flow) == "operate"

    with pytest.raises(UsageError, match="the last stage"):
        _advance(flow)
    with flow.read() as session:
        shown = stages.show(session, "flow")
        moves = list_events(session, action="readiness.stage.advanced")
        refusals_ = list_events(session, action="readiness.advance.refused")
    assert shown["stage"] == "operate" and shown["next"] is None and shown["met"]
    assert [c["id"] for c in shown["criteria"]] == ["production", "readiness"]
    assert [(e.details["from"], e.details["to"]) for e in moves] == [
        ("design", "build"),
        ("build", "validate"),
        ("validate", "operate"),
    ]
    assert len(refusals_) == 5  # 2 at build, 2 at validate, the last stage (not the outsider)
    assert all(e.subject == "system:default/flow" for e in refusals_)
    assert refusals_[0].details["missing"] == [str(c) for c in refused.missing]


def test_a_stage_is_never_skipped(flow, tmp_path):
    release = _release(flow, tmp_path)
    _evidence(flow, release, ("data", "quality"), ("model", "fairness"), ("eval", "evaluation"))
    _approve(flow, ENG2, release, "mlEngineer")
    _promote(flow, release, "staging")
    _approve(flow, RISK, release, "riskLead")
    _promote(flow, release, "production")
    _review_all(flow)  # every criterion of every stage holds now
    with pytest.raises(UsageError, match="its next stage is build, not operate"):
        _advance(flow, to="operate")
    with pytest.raises(UsageError, match="unknown stage"):
        _advance(flow, to="launch")
    assert _stage(flow) == "design"
    visited = [_advance(flow, to=None).to for _ in range(3)]
    assert visited == ["build", "validate", "operate"]
    with flow.read() as session:
        refused = list_events(session, action="readiness.advance.refused")
    assert [e.details["reason"] for e in refused] == [
        "system:default/flow is in design: its next stage is build, not operate "
        "(stages are never skipped)",
        "unknown stage 'launch' (one of design, build, validate, operate)",
    ]


def test_design_needs_the_map_and_the_pod(ws, admin):
    docs = people() + system("flow")
    docs[len(people())]["spec"]["pod"]["riskLead"] = []
    docs[len(people()) + 3]["spec"].pop("rollback")  # the model
    apply(ws, admin, docs)
    with ws.read() as session:
        shown = stages.show(session, "flow")
    assert shown["stage"] == "design" and shown["next"] == "build" and not shown["met"]
    by_id = {c["id"]: c for c in shown["criteria"]}
    assert "model:default/flow-model: no rollback path" in by_id["map"]["detail"]
    assert by_id["pod"]["detail"] == "riskLead: nobody named"
    decision = _advance(ws)
    assert not decision.allowed and len(decision.missing) == 2
