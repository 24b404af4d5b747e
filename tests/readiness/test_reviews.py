"""Reviews of a system: only the named reviewer (else the riskLead) clears them; refusals logged."""

from __future__ import annotations

import pytest

from keel.audit import list_events
from keel.errors import NoStanding, NotFoundError, PermissionDenied, UsageError
from keel.identity import user_actor
from keel.pipeline import refusals
from keel.readiness import reviews
from tests.readiness.catalogs import apply, people, system

RISK = user_actor("risk", "local")
OFFICER = user_actor("privacy-officer", "local")
OUTSIDER = user_actor("outsider", "local")


@pytest.fixture
def catalog(ws, admin):
    docs = people() + system("sys")
    docs[len(people())]["spec"]["reviewers"] = {"privacy": "privacy-officer"}
    apply(ws, admin, docs)
    return ws


def _review(ws, actor, kind, comment=""):
    return refusals.logged(
        ws,
        actor,
        "readiness.review.refused",
        reviews.subject_of("sys"),
        lambda session: reviews.review(session, actor, "sys", kind, comment),
    )


def test_the_named_reviewer_or_else_the_risk_lead(catalog):
    done = _review(catalog, OFFICER, "privacy", "DPIA on file")
    assert (done.kind, done.reviewer, done.comment) == ("privacy", OFFICER.id, "DPIA on file")
    _review(catalog, RISK, "legal")
    with pytest.raises(PermissionDenied, match=r"spec\.reviewers\.privacy names"):
        _review(catalog, RISK, "privacy")  # a named reviewer replaces the risk lead
    with pytest.raises(NoStanding, match=r"spec\.pod\.riskLead names user:default/risk"):
        _review(catalog, OUTSIDER, "security")
    with catalog.read() as session:
        listed = reviews.reviews_of(session, "system:default/sys")
        events = list_events(session, action="readiness.system.reviewed")
        refused = list_events(session, action="readiness.review.refused")
    assert [(r.kind, r.reviewer) for r in listed] == [("privacy", OFFICER.id), ("legal", RISK.id)]
    assert [e.details["kind"] for e in events] == ["privacy", "legal"]
    # the risk lead's refusal is a decision and logged; the outsider's (no role) is not
    assert [e.subject for e in refused] == ["system:default/sys"]
    assert "may not clear the privacy review" in refused[-1].details["reason"]
    assert refused[-1].actor["id"] == RISK.id


def test_bad_reviews_are_refused(catalog):
    with pytest.raises(UsageError, match="one of privacy, legal, security"):
        _review(catalog, RISK, "ethics")
    with pytest.raises(UsageError, match="at most 2000"):
        _review(catalog, RISK, "legal", "x" * 2001)
    with pytest.raises(NotFoundError):
        refusals.logged(
            catalog,
            RISK,
            "readiness.review.refused",
            "nope",
            lambda session: reviews.review(session, RISK, "nope", "legal"),
        )
    with catalog.read() as session:
        assert reviews.reviews_of(session, "system:default/sys") == []
        # the two bad reviews are decisions; a review of a missing system is not (no event)
        assert len(list_events(session, action="readiness.review.refused")) == 2


def test_nobody_may_clear_a_review_without_a_reviewer_or_risk_lead(ws, admin):
    docs = people() + system("bare")
    docs[len(people())]["spec"]["pod"]["riskLead"] = []
    apply(ws, admin, docs)
    with ws.write(RISK) as session, pytest.raises(PermissionDenied, match="nobody"):
        reviews.review(session, RISK, "bare", "legal")
