"""From release to production on both stores, under the demo's credit policy."""

from __future__ import annotations

import pytest

from keel.audit import list_events
from keel.errors import NotFoundError, PermissionDenied, UsageError
from keel.identity import user_actor
from keel.pipeline import approvals, attach, promotion, refusals, releases, runs
from tests.conftest import GERMAN_CREDIT

SYSTEM = "credit-decisioning"
IVO = user_actor("user:default/ivo.costa", "local")  # the second ML engineer
DARA = user_actor("user:default/dara.kim", "local")  # risk lead
CHEN = user_actor("user:default/chen.wu", "local")  # data steward
PASSING = [
    ("data", "provenance", {}),
    ("data", "consent", {}),
    ("data", "quality", {}),
    (
        "model",
        "fairness-sex",
        {"demographic_parity_difference": 0.04, "equalized_odds_difference": 0.1},
    ),
    (
        "model",
        "fairness-age",
        {"demographic_parity_difference": 0.06, "equalized_odds_difference": 0.1},
    ),
    ("model", "robustness", {"stability[noise]": 0.99}),
    ("feature", "ownership", {}),
    ("eval", "evaluation", {}),
]


def _release(ws, engineer, artifact):
    build = releases.Build(
        artifact=artifact, data={"datasource:default/german-credit": GERMAN_CREDIT}
    )
    with ws.write(engineer) as session:
        return releases.create_release(
            session, engineer, ws.signer(), SYSTEM, "credit-scorer", build
        )


def _evidence(ws, actor, release, checks=PASSING, result="pass"):
    with ws.write(actor) as session:
        for track, check, figures in checks:
            attach.add_evidence(
                session,
                actor,
                SYSTEM,
                {"track": track, "check": check, "result": result, "figures": figures},
                release=release.short_name,
            )


def _approve(ws, actor, release, role):
    with ws.write(actor) as session:
        return approvals.approve(session, actor, release.short_name, role, "looked at it")


def _promote(ws, actor, release, env):
    with ws.write(actor) as session:
        return promotion.promote(session, actor, ws.signer(), release.short_name, env)


def test_refused_until_the_policy_is_met_then_staged_then_in_production(
    demo_ws, engineer, credit_artifacts
):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    refused = _promote(demo_ws, engineer, release, "staging")
    assert not refused.allowed
    requirements = [m.requirement for m in refused.missing]
    assert "evidence model.fairness-age" in requirements and "approval mlEngineer" in requirements
    with demo_ws.read() as session:
        (logged,) = list_events(session, action="pipeline.promotion.refused")
        assert logged.details["missing"] == [str(m) for m in refused.missing]
        assert promotion.where(session, SYSTEM) == []

    _evidence(demo_ws, CHEN, release)  # recorded by the data steward's pipeline identity
    _approve(demo_ws, IVO, release, "mlEngineer")
    staged = _promote(demo_ws, engineer, release, "staging")
    assert staged.allowed and staged.previous is None

    early = _promote(demo_ws, engineer, release, "production")
    assert [m.requirement for m in early.missing] == [
        "approval riskLead",
        "approval dataSteward",
        "separation of duties",
    ]
    _approve(demo_ws, DARA, release, "riskLead")
    _approve(demo_ws, CHEN, release, "dataSteward")
    live = _promote(demo_ws, engineer, release, "production")
    assert live.allowed
    with demo_ws.read() as session:
        served = {row["environment"]: row["release"] for row in promotion.where(session, SYSTEM)}
        final = releases.get_release(session, release.short_name)
        check = releases.verify_file(
            session,
            final.bundle,
            pinned=demo_ws.pinned(),
            artifact=credit_artifacts["credit-scorer"],
        )
    assert served == {"staging": release.name, "production": release.name}
    assert check.ok, check.problems
    predicate = check.release
    assert {(a["role"], a["approver"]) for a in predicate["approvals"]} == {
        ("mlEngineer", IVO.id),
        ("riskLead", DARA.id),
        ("dataSteward", CHEN.id),
    }
    assert {e["check"] for e in predicate["evidence"]} == {c for _, c, _ in PASSING}
    with pytest.raises(UsageError, match="already serves production"):
        _promote(demo_ws, engineer, release, "production")


def test_a_failing_figure_blocks_and_says_which(demo_ws, engineer, credit_artifacts):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    unfair = [
        c
        if c[1] != "fairness-age"
        else (c[0], c[1], {"demographic_parity_difference": 0.23, "equalized_odds_difference": 0.1})
        for c in PASSING
    ]
    _evidence(demo_ws, CHEN, release, unfair)
    _approve(demo_ws, IVO, release, "mlEngineer")
    decision = _promote(demo_ws, engineer, release, "staging")
    assert [str(m) for m in decision.missing] == [
        "threshold model.fairness-age.demographic_parity_difference: "
        "demographic_parity_difference is 0.23, above the maximum 0.1"
    ]


def test_who_may_approve(demo_ws, engineer, credit_artifacts, admin):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    with pytest.raises(PermissionDenied, match="may not approve it"):
        _approve(demo_ws, engineer, release, "mlEngineer")  # the author
    with pytest.raises(PermissionDenied, match="is not riskLead"):
        _approve(demo_ws, CHEN, release, "riskLead")
    with pytest.raises(PermissionDenied):
        _approve(demo_ws, admin, release, "riskLead")  # an admin is not in the pod
    with pytest.raises(NotFoundError, match="unknown pod role"):
        _approve(demo_ws, DARA, release, "boss")
    _approve(demo_ws, DARA, release, "riskLead")
    with pytest.raises(UsageError, match="already approved"):
        _approve(demo_ws, DARA, release, "riskLead")


def test_refusals_are_logged_and_change_nothing(demo_ws, engineer, credit_artifacts):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    with pytest.raises(PermissionDenied):
        refusals.logged(
            demo_ws,
            CHEN,
            "pipeline.approval.refused",
            release.short_name,
            lambda session: approvals.approve(session, CHEN, release.short_name, "riskLead"),
        )
    with demo_ws.read() as session:
        (refusal,) = list_events(session, action="pipeline.approval.refused")
        assert refusal.actor["id"] == CHEN.id and "is not riskLead" in refusal.details["reason"]
        assert approvals.approvals_of(session, release) == []


def test_a_newer_release_replaces_and_keeps_the_rollback_target(
    demo_ws, engineer, credit_artifacts
):
    first = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    second = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    for release in (first, second):
        _evidence(demo_ws, CHEN, release)
        _approve(demo_ws, IVO, release, "mlEngineer")
    _promote(demo_ws, engineer, first, "staging")
    with demo_ws.read() as session:
        (first_event,) = list_events(session, action="pipeline.release.promoted")
    moved = _promote(demo_ws, engineer, second, "staging")
    assert moved.previous == first.name
    with pytest.raises(UsageError, match="superseded"):
        _promote(demo_ws, engineer, first, "staging")
    with pytest.raises(UsageError, match="not one of staging, production"):
        _promote(demo_ws, engineer, first, "prod")
    with demo_ws.read() as session:
        now = promotion.where(session, SYSTEM)
        then = promotion.where(session, SYSTEM, at=first_event.time)
        before = promotion.where(session, SYSTEM, at="2000-01-01T00:00:00.000000Z")
    assert [(r["release"], r["previous"]) for r in now] == [(second.name, first.name)]
    assert [r["release"] for r in then] == [first.name]
    assert before == []


def test_evidence_must_name_a_run_or_a_release_of_the_system(demo_ws, engineer, credit_artifacts):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    good = {"track": "model", "check": "fairness", "result": "pass"}
    with demo_ws.write(engineer) as session:
        with pytest.raises(UsageError, match="name one"):
            attach.add_evidence(session, engineer, SYSTEM, good)
        with pytest.raises(UsageError, match="not a release of"):
            attach.add_evidence(
                session, engineer, "support-assistant", good, release="credit-scorer@1"
            )
        with pytest.raises(NotFoundError):
            attach.add_evidence(session, engineer, SYSTEM, good, run_id="nope")
        with pytest.raises(UsageError, match="evidence track"):
            attach.add_evidence(
                session, engineer, SYSTEM, {**good, "track": "ops"}, release="credit-scorer@1"
            )
        with pytest.raises(UsageError, match="not a finite number"):
            attach.add_evidence(
                session,
                engineer,
                SYSTEM,
                {**good, "figures": {"x": float("nan")}},
                release="credit-scorer@1",
            )
    assert release.short_name == "credit-scorer@1"


def _run(ws, actor, artifact, status="complete"):
    from keel.audit.artifacts import artifact_digest

    with ws.write(actor) as session:
        run = runs.start_run(session, actor, SYSTEM, "train-scorer")
        attach.add_evidence(
            session,
            actor,
            SYSTEM,
            {"track": "data", "check": "quality", "result": "pass"},
            run_id=run.id,
        )
        facts = {
            "params": {"seed": 7},
            "artifacts": [{"name": artifact.name, "digest": artifact_digest(artifact)}],
        }
        runs.finish_run(session, actor, run.id, status, facts)
    return run


def _release_from(ws, actor, artifact, run):
    build = releases.Build(
        artifact=artifact, data={"datasource:default/german-credit": GERMAN_CREDIT}, run=run.id
    )
    with ws.write(actor) as session:
        return releases.create_release(session, actor, ws.signer(), SYSTEM, "credit-scorer", build)


def test_a_run_takes_its_evidence_into_the_release(demo_ws, engineer, credit_artifacts):
    artifact = credit_artifacts["credit-scorer"]
    run = _run(demo_ws, engineer, artifact)
    with demo_ws.write(engineer) as session, pytest.raises(UsageError, match="already finished"):
        runs.finish_run(session, engineer, run.id, "failed", {})
    release = _release_from(demo_ws, engineer, artifact, run)
    with demo_ws.read() as session:
        status = promotion.status(session, release)
        assert runs.get_run(session, run.id).facts["params"] == {"seed": 7}
    assert [e["check"] for e in status["evidence"]] == ["quality"]
    assert not any("data.quality" in m for m in status["missing"]["staging"])


def test_a_release_cannot_borrow_a_run(demo_ws, engineer, credit_artifacts):
    """A run's evidence is about what it built: not another artifact, not twice, not failed."""
    scorer, scorecard = credit_artifacts["credit-scorer"], credit_artifacts["credit-scorecard"]
    run = _run(demo_ws, engineer, scorer)
    with pytest.raises(UsageError, match="did not log this artifact"):
        _release_from(demo_ws, engineer, scorecard, run)
    _release_from(demo_ws, engineer, scorer, run)
    with pytest.raises(UsageError, match="already backs model:default/credit-scorer@1"):
        _release_from(demo_ws, engineer, scorer, run)
    failed = _run(demo_ws, engineer, scorer, status="failed")
    with pytest.raises(UsageError, match="failed: its evidence backs no release"):
        _release_from(demo_ws, engineer, scorer, failed)


def test_run_facts_are_checked_and_only_its_runner_reports(demo_ws, engineer):
    with demo_ws.write(engineer) as session:
        run = runs.start_run(session, engineer, SYSTEM, "p")
    for facts, words in (
        ({"datasets": "abc"}, "run facts datasets"),
        ({"datasets": [{"source": "german-credit", "digest": 5}]}, "run facts datasets.0.digest"),
        ({"artifacts": [{"digest": "md5:zz"}]}, "run facts artifacts.0.digest"),
        ({"metrics": {"auc": "high"}}, "run facts metrics.auc"),
        ({"colour": "red"}, "run facts colour: unknown field 'colour'; accepted: datasets"),
        ({"datasets": [{"digest": "sha256:" + "0" * 64, "sourse": "x"}]}, "'source'"),
    ):
        with demo_ws.write(engineer) as session, pytest.raises(UsageError, match=words):
            runs.finish_run(session, engineer, run.id, "complete", facts)
    with demo_ws.write(IVO) as session, pytest.raises(PermissionDenied, match="only they report"):
        runs.finish_run(session, IVO, run.id, "complete", {})


def test_the_author_cannot_overwrite_the_pipelines_findings(demo_ws, engineer, credit_artifacts):
    """Under separation of duties, evidence the author records on the release directly does
    not count; the same record by someone else does."""
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _evidence(demo_ws, engineer, release)
    _approve(demo_ws, IVO, release, "mlEngineer")
    decision = _promote(demo_ws, engineer, release, "staging")
    assert "evidence model.fairness-sex" in [m.requirement for m in decision.missing]
    _evidence(demo_ws, IVO, release)
    assert _promote(demo_ws, engineer, release, "staging").allowed


def test_an_approval_counts_only_while_the_approver_holds_the_role(
    demo_ws, engineer, credit_artifacts, admin
):
    from keel.catalog import service
    from tests.conftest import EXAMPLES

    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _evidence(demo_ws, IVO, release)
    _approve(demo_ws, IVO, release, "mlEngineer")
    text = (EXAMPLES / "demo" / "catalog" / "credit-decisioning.yaml").read_text()
    text = text.replace("mlEngineer: [ana.lima, ivo.costa]", "mlEngineer: [ana.lima]")
    with demo_ws.write(admin) as session:
        service.apply(session, admin, service.load_text(text))
    decision = _promote(demo_ws, engineer, release, "staging")
    assert "approval mlEngineer" in [m.requirement for m in decision.missing]
