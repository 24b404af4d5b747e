"""The readiness check on both stores: every check passes and fails for its own reason."""

from __future__ import annotations

from collections import Counter

import pytest

from keel.errors import NotFoundError
from keel.identity import user_actor
from keel.pipeline import attach, runs
from keel.readiness import reviews
from keel.readiness.checks import CHECKS, DIMENSIONS
from keel.readiness.scorecard import readiness
from tests.readiness.catalogs import ALWAYS, DEFECTS, apply, defective, people, system

RISK = user_actor("risk", "local")
ENG = user_actor("eng1", "local")


def _failed(card) -> set[str]:
    return {r.id for r in card.findings}


def test_each_dimension_shares_100_points():
    weights = Counter()
    for c in CHECKS:
        weights[c.dimension] += c.weight
    assert weights == {d.id: 100 for d in DIMENSIONS}
    assert len({c.id for c in CHECKS}) == len(CHECKS)


def test_each_defect_fails_its_own_checks_and_no_other(ws, admin):
    docs = people() + system("complete")
    for name in DEFECTS:
        docs += defective(name)
    apply(ws, admin, docs)
    with ws.read() as session:
        complete = readiness(session, "complete")
        cards = {name: readiness(session, name) for name in DEFECTS}
    assert _failed(complete) == ALWAYS
    assert [d.score for d in complete.dimensions] == [50, 100, 30, 40, 100]
    assert complete.score == 64.0
    for name, (_, fails) in DEFECTS.items():
        assert _failed(cards[name]) == ALWAYS | fails, name
        lost = sum(r.weight for r in cards[name].findings) - sum(
            r.weight for r in complete.findings
        )
        assert lost == sum(c.weight for c in CHECKS if c.id in fails), name
        for r in cards[name].findings:
            assert r.fix and r.message, (name, r.id)


def test_the_reasons_and_fixes_name_what_to_do(ws, admin):
    apply(ws, admin, people() + defective("no-origin") + defective("no-sources"))
    apply(ws, admin, defective("ghost-change-manager") + defective("no-rollback"))
    with ws.read() as session:
        by_id = {
            name: {r.id: r for r in readiness(session, name).findings}
            for name in ("no-origin", "no-sources", "ghost-change-manager", "no-rollback")
        }
    lineage = by_id["no-origin"]["data.lineage"]
    assert "declares no origin" in lineage.message
    assert lineage.fix == "declare spec.origin on datasource:default/no-origin-src"
    assert by_id["no-sources"]["data.owned"].message == "the system declares no DataSource"
    manager = by_id["ghost-change-manager"]["change.manager"]
    assert "user:default/ghost is not a known user" in manager.message
    assert manager.fix.startswith("name a known User in spec.pod.changeManager")
    rollback = by_id["no-rollback"]["infrastructure.rollback"]
    assert "model:default/no-rollback-model" in rollback.message
    assert rollback.fix.startswith("declare spec.rollback on model:default/no-rollback-model")
    quality = by_id["no-rollback"]["data.quality"]
    assert "--track data --check quality" in quality.fix
    assert by_id["no-rollback"]["risk.privacy"].fix == (
        "keel review no-rollback --kind privacy --as user:default/risk"
    )
    assert "not available yet" in by_id["no-rollback"]["data.drift"].message


def test_data_quality_reads_the_newest_check_of_any_run(ws, admin):
    apply(ws, admin, people() + system("sys"))

    def record(result: str) -> None:
        with ws.write(ENG) as session:
            run = runs.start_run(session, ENG, "sys", "nightly")
            attach.add_evidence(
                session,
                ENG,
                "sys",
                {"track": "data", "check": "quality", "result": result},
                run_id=run.id,
            )

    record("pass")
    with ws.read() as session:
        assert "data.quality" not in _failed(readiness(session, "sys"))
    record("fail")
    with ws.read() as session:
        quality = {r.id: r for r in readiness(session, "sys").findings}["data.quality"]
    assert "is fail" in quality.message
    record("pass")
    with ws.read() as session:
        card = readiness(session, "sys")
    assert "data.quality" not in _failed(card)
    assert card.dimensions[0].score == 85  # drift monitoring is not available yet


def test_reviews_count_for_risk(ws, admin):
    docs = people() + system("sys")
    docs[len(people())]["spec"]["reviewers"] = {"privacy": "privacy-officer"}
    apply(ws, admin, docs)
    with ws.write(RISK) as session:
        reviews.review(session, RISK, "sys", "legal", "contract terms checked")
        reviews.review(session, RISK, "sys", "security")
    with ws.read() as session:
        card = readiness(session, "sys")
    failed = {r.id: r for r in card.findings}
    assert "risk.legal" not in failed and "risk.security" not in failed
    assert failed["risk.privacy"].fix == (
        "keel review sys --kind privacy --as user:default/privacy-officer"
    )
    officer = user_actor("privacy-officer", "local")
    with ws.write(officer) as session:
        reviews.review(session, officer, "sys", "privacy")
    with ws.read() as session:
        card = readiness(session, "sys")
    assert card.dimensions[3].score == 100


def test_the_policy_sets_the_minimum(ws, admin):
    apply(ws, admin, people() + system("strict", min_score=70) + system("lenient", min_score=50))
    with ws.read() as session:
        strict, lenient = readiness(session, "strict"), readiness(session, "lenient")
    assert strict.minimum.score == 70 and strict.minimum.policy == "policy:default/strict-policy"
    assert strict.meets_minimum is False and lenient.meets_minimum is True
    assert strict.as_dict()["meetsMinimum"] is False


def test_the_demo_credit_system_scores_higher_than_the_support_assistant(demo_ws):
    with demo_ws.read() as session:
        credit = readiness(session, "credit-decisioning")
        support = readiness(session, "system:default/support-assistant")
    assert credit.score > support.score
    for c, s in zip(credit.dimensions, support.dimensions, strict=True):
        assert c.score >= s.score, c.id
    assert credit.minimum.score == 60 and credit.meets_minimum
    assert support.minimum is None and support.meets_minimum is None


def test_unknown_systems_are_one_line(demo_ws):
    with demo_ws.read() as session:
        with pytest.raises(NotFoundError, match="no such entity"):
            readiness(session, "nope")
        with pytest.raises(NotFoundError, match="is a Model, not a System"):
            readiness(session, "model:credit-scorer")
