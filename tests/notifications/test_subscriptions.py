"""Subscribing and removing on both stores: events, and bad input refused with one line and
nothing half-stored (no row, no event)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from keel import audit
from keel.errors import ConflictError, InputError, NotFoundError
from keel.notifications import list_subscriptions, remove, subscribe
from keel.notifications.tables import SubscriptionRow
from keel.notifications.targets import control_plane

OWN = control_plane("https://keel.example.org", "http://10.0.0.5:9000")
HOOK = "https://hooks.example.org/keel?token=s3cr3t-t0ken"


def _count(ws) -> tuple[int, int]:
    with ws.read() as session:
        rows = session.execute(select(func.count()).select_from(SubscriptionRow)).scalar()
        return rows, audit.head(session)


def test_subscribe_list_remove_with_their_events(ws, admin):
    with ws.write(admin) as session:
        hook = subscribe(
            session, admin, event="incident", webhook=HOOK, secret_ref="env:HOOK", own=OWN
        )
        mail = subscribe(
            session,
            admin,
            event="promotion-refused",
            subject="system:credit-decisioning",
            email="risk@example.org",
            own=OWN,
        )
    assert (hook.id, hook.event, hook.kind) == (
        "sub-1",
        "incidents.incident.*,incidents.action.*",
        "webhook",
    )
    assert mail.subject == "system:default/credit-decisioning"
    with ws.write(admin) as session:
        remove(session, admin, "sub-1")
    with ws.read() as session:
        assert [s.id for s in list_subscriptions(session)] == ["sub-2"]
        assert [s.id for s in list_subscriptions(session, removed=True)] == ["sub-1", "sub-2"]
        created = audit.list_events(session, action="notifications.subscription.created")
        removed = audit.list_events(session, action="notifications.subscription.removed")
    assert [e.subject for e in created] == ["sub-1", "sub-2"] and removed[0].subject == "sub-1"
    assert created[0].details["target"] == "https://hooks.example.org/keel?…"  # no token
    assert created[0].details["secret_ref"] == "env:HOOK"
    assert b"s3cr3t-t0ken" not in created[0].body  # (not hex: an op id never holds it)
    with ws.write(admin) as session:
        assert subscribe(session, admin, event="job-failed", email="a@example.org", own=OWN).id == (
            "sub-3"
        )  # ids are never reused


@pytest.mark.parametrize(
    "kwargs, line",
    [
        ({"event": "incidnt", "email": "a@example.org"}, "unknown event type 'incidnt'; known:"),
        ({"event": "pipeline.*.refused", "email": "a@example.org"}, "only the last part"),
        ({"event": "catalog.entity.created", "email": "a@example.org"}, "unknown event type"),
        (
            {"event": "incident", "webhook": "ftp://h.example/x", "secret_ref": "env:S"},
            "http or https",
        ),
        (
            {"event": "incident", "webhook": "file:///etc/passwd", "secret_ref": "env:S"},
            "http or https",
        ),
        (
            {
                "event": "incident",
                "webhook": "https://keel.example.org/api/v1/x",
                "secret_ref": "env:S",
            },
            "the control plane itself",
        ),
        (
            {"event": "incident", "webhook": "http://10.0.0.5:9000/", "secret_ref": "env:S"},
            "the control plane itself",
        ),
        (
            {"event": "incident", "webhook": "http://localhost:8400/", "secret_ref": "env:S"},
            "the control plane itself",
        ),
        (
            {"event": "incident", "webhook": "http://[::1]:8400/", "secret_ref": "env:S"},
            "the control plane itself",
        ),
        (
            {"event": "incident", "webhook": "http://0.0.0.0:8400/", "secret_ref": "env:S"},
            "the control plane itself",
        ),
        (
            {"event": "incident", "webhook": "https://u:p@h.example/", "secret_ref": "env:S"},
            "credentials",
        ),
        (
            {"event": "incident", "webhook": "https://h.example:99999/", "secret_ref": "env:S"},
            "not a URL",
        ),
        ({"event": "incident", "webhook": "https://h.example/"}, "needs --secret-ref"),
        (
            {"event": "incident", "webhook": "https://h.example/", "secret_ref": "whsec_c2VjcmV0"},
            "never the secret itself",
        ),
        (
            {"event": "incident", "webhook": "https://h.example/", "secret_ref": "file:relative"},
            "never the secret itself",
        ),
        ({"event": "incident", "email": "not-an-address"}, "is not an e-mail address"),
        ({"event": "incident", "email": "a@example.org", "secret_ref": "env:S"}, "takes none"),
        ({"event": "incident"}, "give one target"),
        (
            {"event": "incident", "email": "a@example.org", "webhook": "https://h.example/"},
            "give one target",
        ),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(ws, admin, kwargs, line):
    before = _count(ws)
    with pytest.raises(InputError) as caught, ws.write(admin) as session:
        subscribe(session, admin, own=OWN, **kwargs)
    assert len(caught.value.problems) == 1 and line in caught.value.problems[0]
    assert "c2VjcmV0" not in str(caught.value)  # a refused literal is never echoed
    assert _count(ws) == before


@pytest.mark.parametrize(
    "given, stored",
    [
        ("system:credit-decisioning", "system:default/credit-decisioning"),
        ("System:Default/Credit", "system:default/credit"),
        ("system:default/credit*", "system:default/credit*"),
        ("INC-7", "INC-7"),  # incidents name themselves
        ("job:audit.verify", "job:audit.verify"),  # not a catalog kind: as the worker spells it
        ("workspace", "workspace"),
        ("  ", None),
    ],
)
def test_subject_filters_are_stored_as_events_spell_subjects(ws, admin, given, stored):
    with ws.write(admin) as session:
        made = subscribe(
            session, admin, event="incident", subject=given, email="a@example.org", own=OWN
        )
    assert made.subject == stored


def test_removing_twice_or_an_unknown_one(ws, admin):
    with ws.write(admin) as session:
        subscribe(session, admin, event="job-failed", email="a@example.org", own=OWN)
        remove(session, admin, "sub-1")
    before = _count(ws)
    with pytest.raises(ConflictError, match="already removed"), ws.write(admin) as session:
        remove(session, admin, "sub-1")
    with pytest.raises(NotFoundError, match="no subscription 'sub-9'"), ws.write(admin) as session:
        remove(session, admin, "sub-9")
    assert _count(ws) == before
