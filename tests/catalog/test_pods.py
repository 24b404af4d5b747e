"""Delivery pods: gaps, and role checks that look at the pod alone."""

from __future__ import annotations

import pytest

from keel.catalog.pods import pod_report, require_role, roles_of
from keel.errors import NotFoundError, PermissionDenied
from keel.identity import user_actor


def test_complete_pod(demo_ws):
    with demo_ws.read() as session:
        report = pod_report(session, "credit-decisioning")
    assert report.gaps == []
    assert [p.name for p in report.roles["riskLead"]] == ["Dara Kim"]
    assert report.as_dict()["complete"] is True


def test_pod_gaps(demo_ws):
    with demo_ws.read() as session:
        report = pod_report(session, "system:default/support-assistant")
    assert report.gaps == [
        "riskLead: nobody named",
        "changeManager: user:default/ivan.petrov is not a known user",
        "changePlan.training: not written",
    ]


def test_roles_and_separation_of_duties(demo_ws):
    dara = user_actor("dara.kim", "token")
    ana = user_actor("ana.lima", "token")  # the demo's admin: holds mlEngineer only
    with demo_ws.read() as session:
        assert roles_of(session, "credit-decisioning", dara.id) == {"riskLead"}
        require_role(session, dara, "credit-decisioning", "riskLead")
        with pytest.raises(PermissionDenied, match="is not riskLead"):
            require_role(session, ana, "credit-decisioning", "riskLead")
        with pytest.raises(NotFoundError, match="unknown pod role"):
            require_role(session, dara, "credit-decisioning", "auditor")


def test_pod_of_something_that_is_not_a_system(demo_ws):
    with demo_ws.read() as session, pytest.raises(NotFoundError, match="not a System"):
        pod_report(session, "model:credit-scorer")
    with demo_ws.read() as session, pytest.raises(NotFoundError):
        pod_report(session, "no-such-system")
