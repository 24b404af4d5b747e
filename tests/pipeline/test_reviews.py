"""Review rounds on both stores: an approval request names who must decide, a rejection blocks
promotion until the next request, and a policy may count proven identities only."""

from __future__ import annotations

import pytest

from keel.audit import list_events
from keel.catalog import service
from keel.errors import ConflictError, NoStanding, PermissionDenied, UsageError
from keel.identity import user_actor
from keel.pipeline import promotion, refusals, releases, reviews
from tests.conftest import EXAMPLES
from tests.pipeline.test_promotion import CHEN, DARA, IVO, _approve, _evidence, _promote, _release

OUTSIDER = user_actor("user:default/fatima.haddad", "local")  # in the support pod only


def _request(ws, actor, release, note=""):
    with ws.write(actor) as session:
        return reviews.request_approval(session, actor, release.short_name, note)


def _reject(ws, actor, release, role, reason="the fairness figures are not credible"):
    with ws.write(actor) as session:
        return reviews.reject(session, actor, release.short_name, role, reason)


def test_a_request_names_the_pod_members_who_hold_the_missing_roles(
    demo_ws, engineer, credit_artifacts
):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _approve(demo_ws, IVO, release, "mlEngineer")
    asked = _request(demo_ws, engineer, release, "fairness re-run attached").summary()
    requested = asked["requested"]
    assert requested["roles"] == ["riskLead", "dataSteward"]  # mlEngineer is approved already
    assert {(r["user"], r["role"]) for r in requested["recipients"]} == {
        (DARA.id, "riskLead"),
        (CHEN.id, "dataSteward"),
    }
    assert requested["note"] == "fairness re-run attached" and requested["by"] == engineer.id
    with demo_ws.read() as session:
        (event,) = list_events(session, action="pipeline.approval.requested")
        assert event.subject == release.name and event.details["recipients"]
    with pytest.raises(NoStanding), demo_ws.write(OUTSIDER) as session:
        reviews.request_approval(session, OUTSIDER, release.short_name)


def test_a_rejection_blocks_promotion_until_its_role_approves_again(
    demo_ws, engineer, credit_artifacts
):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _evidence(demo_ws, CHEN, release)
    _approve(demo_ws, IVO, release, "mlEngineer")
    rejection = _reject(demo_ws, DARA, release, "riskLead", "the data steward has not signed off")
    assert rejection.rejecter == DARA.id and rejection.via == "local"

    refused = _promote(demo_ws, engineer, release, "staging")
    assert not refused.allowed
    assert refused.missing[0].requirement == "rejection"
    assert "the data steward has not signed off" in refused.missing[0].reason
    with demo_ws.read() as session:
        status = promotion.status(session, releases.get_release(session, release.name))
    assert [r["rejecter"] for r in status["review"]["rejections"]] == [DARA.id]

    with pytest.raises(ConflictError, match="already rejected"):  # a double click: one decision
        _reject(demo_ws, DARA, release, "riskLead")
    # a new request asks the rejected role again, and does not clear the rejection by itself:
    # the author cannot void a risk lead's rejection with one click
    asked = _request(demo_ws, engineer, release).summary()["requested"]
    assert "riskLead" in asked["roles"]
    assert _promote(demo_ws, engineer, release, "staging").missing[0].requirement == "rejection"
    _approve(demo_ws, DARA, release, "riskLead")  # the role approves again: it is lifted
    with demo_ws.read() as session:
        assert (
            reviews.round_of(session, releases.get_release(session, release.name)).rejections == []
        )
    assert _promote(demo_ws, engineer, release, "staging").allowed


def test_a_rejection_after_every_approval_can_still_be_lifted(demo_ws, engineer, credit_artifacts):
    """Every role approved, then a rejection: a request still names the rejected role (not
    "nothing to request"), and that role's next approval lifts it."""
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _evidence(demo_ws, CHEN, release)
    for actor, role in ((IVO, "mlEngineer"), (DARA, "riskLead"), (CHEN, "dataSteward")):
        _approve(demo_ws, actor, release, role)
    _reject(demo_ws, CHEN, release, "dataSteward", "the consent basis changed")
    assert _promote(demo_ws, engineer, release, "staging").missing[0].requirement == "rejection"
    asked = _request(demo_ws, engineer, release).summary()["requested"]
    assert asked["roles"] == ["dataSteward"]
    assert {r["user"] for r in asked["recipients"]} == {CHEN.id}
    _approve(demo_ws, CHEN, release, "dataSteward")  # the rejecter changes their mind again
    assert _promote(demo_ws, engineer, release, "staging").allowed
    with pytest.raises(ConflictError, match="already approved"):  # and only once more
        _approve(demo_ws, CHEN, release, "dataSteward")


def test_who_may_reject(demo_ws, engineer, credit_artifacts):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    with pytest.raises(PermissionDenied, match="separates duties"):  # the author
        _reject(demo_ws, engineer, release, "mlEngineer")
    with pytest.raises(PermissionDenied, match="not riskLead"):  # a role not held
        _reject(demo_ws, IVO, release, "riskLead")
    with pytest.raises(NoStanding):
        _reject(demo_ws, OUTSIDER, release, "riskLead")
    with pytest.raises(UsageError, match="needs a reason"):
        _reject(demo_ws, DARA, release, "riskLead", "   ")
    with demo_ws.read() as session:
        assert list_events(session, action="pipeline.release.rejected") == []


def test_refusals_of_a_rejection_are_logged_but_not_for_outsiders(
    demo_ws, engineer, credit_artifacts
):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])

    def attempt(actor, role):
        with pytest.raises(PermissionDenied):
            refusals.logged(
                demo_ws,
                actor,
                "pipeline.rejection.refused",
                release.short_name,
                lambda s: reviews.reject(s, actor, release.short_name, role, "no"),
                standing=refusals.release_standing(actor, release.short_name),
            )

    attempt(IVO, "riskLead")
    attempt(OUTSIDER, "riskLead")
    with demo_ws.read() as session:
        logged = list_events(session, action="pipeline.rejection.refused")
    assert [e.actor["id"] for e in logged] == [IVO.id]


def test_a_policy_can_count_only_proven_identities_for_production(
    ws, admin, engineer, credit_artifacts
):
    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    for entity in loaded.entities:
        if entity.body["kind"] == "Policy":
            entity.body["spec"]["separationOfDuties"]["provenIdentities"] = True
    with ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
    release = _release(ws, engineer, credit_artifacts["credit-scorer"])
    _evidence(ws, CHEN, release)
    _approve(ws, IVO, release, "mlEngineer")  # staging does not ask for proven identities
    assert _promote(ws, engineer, release, "staging").allowed
    _approve(ws, DARA, release, "riskLead")  # a local --as name
    _approve(ws, user_actor(CHEN.id, "token"), release, "dataSteward")  # through the API
    refused = _promote(ws, engineer, release, "production")
    assert [m.requirement for m in refused.missing] == ["approval riskLead", "separation of duties"]
    assert "local identity (unproven)" in refused.missing[0].reason
    with ws.read() as session:
        shown = promotion.status(session, releases.get_release(session, release.name))
    assert {a["approver"]: a["proven"] for a in shown["approvals"]} == {
        IVO.id: False,
        DARA.id: False,
        CHEN.id: True,
    }

    # the next release, approved for production through the API: it goes, and its attestation
    # says how each approver was identified
    second = _release(ws, engineer, credit_artifacts["credit-scorer"])
    _evidence(ws, CHEN, second)
    _approve(ws, IVO, second, "mlEngineer")
    assert _promote(ws, engineer, second, "staging").allowed
    for person, role in ((DARA, "riskLead"), (CHEN, "dataSteward")):
        _approve(ws, user_actor(person.id, "token"), second, role)
    assert _promote(ws, engineer, second, "production").allowed
    with ws.read() as session:
        statements = releases.get_release(session, second.name).statements()
    (attested,) = [
        s["predicate"]
        for s in statements
        if s["predicateType"] == "https://keel.dev/attestation/release/v1"
    ]
    assert {a["approver"]: a["identity"] for a in attested["approvals"]} == {
        IVO.id: "local",
        DARA.id: "token",
        CHEN.id: "token",
    }


def test_an_approval_row_cannot_borrow_another_events_identity(demo_ws, engineer, credit_artifacts):
    """Store access that points a local approval's row at a token event (someone else's)
    does not make it proven: only the event recording that very approval counts."""
    from sqlalchemy import update

    from keel.pipeline import approvals
    from keel.pipeline.tables import ApprovalRow

    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _approve(demo_ws, user_actor(CHEN.id, "token"), release, "dataSteward")
    _approve(demo_ws, DARA, release, "riskLead")  # local: --as
    with demo_ws.read() as session:
        found = {a.role: a for a in approvals.approvals_of(session, release)}
    assert found["dataSteward"].proven and not found["riskLead"].proven
    with demo_ws.write(engineer) as session:
        session.execute(
            update(ApprovalRow)
            .where(ApprovalRow.release == release.name, ApprovalRow.role == "riskLead")
            .values(event_seq=found["dataSteward"].event_seq)
        )
    with demo_ws.read() as session:
        forged = {a.role: a for a in approvals.approvals_of(session, release)}
    assert not forged["riskLead"].proven and forged["dataSteward"].proven
