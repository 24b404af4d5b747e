"""Incidents on both stores: numbering, the forward-only status, notes, action items, and bad
input that stores nothing and is logged (or not) as the refusal rules say."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from keel.audit import head, list_events
from keel.errors import ConflictError, InputError, NotFoundError
from keel.identity import user_actor
from keel.incidents import service
from keel.incidents.tables import ActionItemRow, IncidentRow, NoteRow
from keel.pipeline import refusals

ANA = user_actor("ana.lima", "local")
CREDIT = "system:default/credit-decisioning"


def test_open_numbers_in_order_and_defaults_the_owner(demo_ws):
    with demo_ws.write(ANA) as session:
        first = service.open_incident(
            session, ANA, systems=["credit-decisioning"], severity=2, title="  Scores  drift  "
        )
        second = service.open_incident(
            session,
            ANA,
            systems=["support-assistant"],
            severity="4",
            title="Slow answers",
            owner="chen.wu",
        )
    assert (first.id, second.id) == ("INC-1", "INC-2")
    assert first.title == "Scores drift" and first.status == "open" and first.severity == 2
    assert first.systems == [CREDIT] and first.owner == "group:default/risk-analytics"
    assert second.owner == "user:default/chen.wu" and second.severity == 4
    with demo_ws.read() as session:
        (event,) = list_events(session, action="incidents.incident.opened", subject="INC-1")
        listed = service.list_incidents(session)
        only = service.list_incidents(session, system="support-assistant")
    assert event.actor["id"] == "user:default/ana.lima"
    assert {k: event.details[k] for k in ("severity", "status", "systems", "title")} == {
        "severity": 2,
        "status": "open",
        "systems": [CREDIT],
        "title": "Scores drift",
    }
    assert [i.id for i in listed] == ["INC-2", "INC-1"]  # newest first
    assert [i.id for i in only] == ["INC-2"]


def test_status_moves_forward_only(demo_ws):
    with demo_ws.write(ANA) as session:
        opened = service.open_incident(session, ANA, systems=[CREDIT], severity=1, title="Down")
        acked = service.move(session, ANA, "inc-1", "acknowledged")
        mitigated = service.move(session, ANA, opened.id, "mitigated", note="rolled back to @1")
        resolved = service.move(session, ANA, opened.id, "resolved")
    assert [acked.status, mitigated.status, resolved.status] == [
        "acknowledged",
        "mitigated",
        "resolved",
    ]
    assert resolved.acknowledged_at <= resolved.mitigated_at <= resolved.resolved_at
    assert [n.text for n in resolved.notes] == ["rolled back to @1"]
    with (
        demo_ws.write(ANA) as session,
        pytest.raises(ConflictError, match="INC-1 is already resolved"),
    ):
        service.move(session, ANA, "INC-1", "resolved")
    with demo_ws.write(ANA) as session, pytest.raises(ConflictError, match="only moves forward"):
        service.move(session, ANA, "INC-1", "acknowledged")
    with demo_ws.read() as session:
        actions = [e.action for e in list_events(session, subject="INC-1")]
    assert actions == [
        "incidents.incident.opened",
        "incidents.incident.acknowledged",
        "incidents.incident.mitigated",
        "incidents.incident.resolved",
    ]


def test_a_step_may_be_skipped(demo_ws):
    with demo_ws.write(ANA) as session:
        service.open_incident(session, ANA, systems=[CREDIT], severity=3, title="Minor")
        done = service.move(session, ANA, "INC-1", "resolved")
    assert done.status == "resolved" and done.acknowledged_at is None


def test_notes_updates_and_action_items(demo_ws):
    with demo_ws.write(ANA) as session:
        service.open_incident(session, ANA, systems=[CREDIT], severity=3, title="Drift")
        service.add_note(session, ANA, "INC-1", "PSI 0.31 on income")
        service.update(session, ANA, "INC-1", severity=2, owner="group:ml-platform")
        item = service.add_action(
            session,
            ANA,
            "INC-1",
            title="Retrain on Q4",
            owner="ana.lima",
            due="2026-12-20",
            tag="retrain",
        )
        second = service.add_action(session, ANA, "INC-1", title="Add drift eval", owner="chen.wu")
        done = service.complete_action(session, ANA, "INC-1", 1)
        found = service.get_incident(session, "INC-1")
    assert (item.number, second.number, item.due, item.tag) == (1, 2, "2026-12-20", "retrain")
    assert done.done and done.done_by == "user:default/ana.lima"
    assert found.severity == 2 and found.owner == "group:default/ml-platform"
    assert [n.text for n in found.notes] == ["PSI 0.31 on income"]
    assert [(a.number, a.done) for a in found.actions] == [(1, True), (2, False)]
    with demo_ws.read() as session:
        events = list_events(session, subject="INC-1")
    assert [e.action for e in events] == [
        "incidents.incident.opened",
        "incidents.incident.noted",
        "incidents.incident.updated",
        "incidents.action.added",
        "incidents.action.added",
        "incidents.action.done",
    ]
    assert events[2].details["changed"] == {
        "severity": {"before": 3, "after": 2},
        "owner": {"before": "group:default/risk-analytics", "after": "group:default/ml-platform"},
    }
    assert events[3].details["action"]["tag"] == "retrain"
    with demo_ws.write(ANA) as session, pytest.raises(ConflictError, match="already done"):
        service.complete_action(session, ANA, "INC-1", 1)
    with demo_ws.write(ANA) as session, pytest.raises(NotFoundError, match="no action item 9"):
        service.complete_action(session, ANA, "INC-1", 9)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"severity": 0}, InputError, "severity 0: a whole number from 1 (the worst) to 4"),
        ({"severity": 5}, InputError, "severity 5: a whole number from 1 (the worst) to 4"),
        ({"severity": "high"}, InputError, "severity 'high'"),
        ({"severity": True}, InputError, "severity True"),
        ({"systems": ["nope"]}, NotFoundError, "no such entity system:default/nope"),
        ({"systems": ["api:credit-decision-api"]}, NotFoundError, "is a API, not a System"),
        ({"title": "   "}, InputError, "an incident needs a title"),
        ({"title": "x" * 201}, InputError, "at most 200 characters"),
        ({"owner": "nobody"}, NotFoundError, "owner user:default/nobody: no such user"),
        ({"owner": "system:credit-decisioning"}, InputError, "is a System; an owner is"),
        (
            {"releases": ["credit-scorer@9"]},
            NotFoundError,
            "no release model:default/credit-scorer@9",
        ),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(demo_ws, kwargs, error, message):
    args = {"systems": [CREDIT], "severity": 2, "title": "T", **kwargs}
    with demo_ws.read() as session:
        before = head(session)
    with demo_ws.write(ANA) as session, pytest.raises(error) as caught:
        service.open_incident(session, ANA, **args)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    with demo_ws.read() as session:
        assert head(session) == before
        assert session.scalar(select(func.count()).select_from(IncidentRow)) == 0


def test_refusals_are_logged_once_and_change_nothing(demo_ws):
    with demo_ws.write(ANA) as session:
        service.open_incident(session, ANA, systems=[CREDIT], severity=2, title="T")
        service.move(session, ANA, "INC-1", "resolved")

    def refused(work):
        with pytest.raises(ConflictError) as caught:
            refusals.logged(demo_ws, ANA, service.REFUSED, "INC-1", work)
        return str(caught.value)

    assert refused(lambda s: service.move(s, ANA, "INC-1", "resolved")) == (
        "INC-1 is already resolved"
    )
    assert refused(
        lambda s: service.add_action(s, ANA, "INC-1", title="Eval", owner="ana.lima", tag="eval")
    ) == ("INC-1 is resolved: it can no longer be given action items")
    with pytest.raises(InputError):  # bad input: refused without an event
        refusals.logged(
            demo_ws, ANA, service.REFUSED, "INC-1", lambda s: service.move(s, ANA, "INC-1", "x")
        )
    with demo_ws.read() as session:
        logged = list_events(session, action=service.REFUSED)
        assert session.scalar(select(func.count()).select_from(ActionItemRow)) == 0
        assert session.scalar(select(func.count()).select_from(NoteRow)) == 0
    assert [e.details["reason"] for e in logged] == [
        "INC-1 is already resolved",
        "INC-1 is resolved: it can no longer be given action items",
    ]
    assert {e.subject for e in logged} == {"INC-1"}


@pytest.mark.parametrize("text", ["INC-0", "INC-", "7", "INC-7x", "inc 7", ""])
def test_an_incident_reference_is_inc_n(text):
    with pytest.raises(InputError, match="write INC-<n>"):
        service.number_of(text)


def test_open_by_severity_counts_the_unresolved(demo_ws):
    with demo_ws.write(ANA) as session:
        for severity in (1, 1, 3):
            service.open_incident(session, ANA, systems=[CREDIT], severity=severity, title="T")
        service.move(session, ANA, "INC-2", "resolved")
        counts = service.open_by_severity(session)
    assert counts == {1: 1, 2: 0, 3: 1, 4: 0}


@given(st.integers(min_value=1, max_value=999_999_999))
def test_any_incident_number_reads_back(n):
    assert service.number_of(f"INC-{n}") == n == service.number_of(f" inc-{n} ")


@given(st.text(max_size=20))
def test_any_other_text_is_one_line_of_refusal(text):
    if service.ID.match(text.strip()):
        return
    with pytest.raises(InputError) as caught:
        service.number_of(text)
    assert len(caught.value.problems) == 1


@given(st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none(), st.floats()))
def test_a_severity_is_1_to_4_or_refused(value):
    try:
        level = service.check_severity(value)
    except InputError:
        return
    assert level in (1, 2, 3, 4)
    assert value == level or str(value).strip() == str(level)
