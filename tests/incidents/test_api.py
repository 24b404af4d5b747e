"""/api/v1/incidents on both stores: roles, problem bodies, unknown fields, refusals logged
once, and the timeline in `show`."""

from __future__ import annotations

from keel.audit import list_events
from tests.api.conftest import api  # noqa: F401  (the control-plane API client)

URL = "/api/v1/incidents"
PROBLEM = "application/problem+json"


def _open(api, **body):  # noqa: F811
    return api.post(
        URL, json={"systems": ["credit-decisioning"], "severity": 2, "title": "T", **body}
    )


def test_open_move_and_show(api, ws):  # noqa: F811
    opened = _open(api, title="Scores drift", releases=[])
    assert opened.status_code == 201, opened.json()
    body = opened.json()
    assert body["id"] == "INC-1" and body["status"] == "open"
    assert body["owner"] == "group:default/risk-analytics"
    assert body["systems"] == ["system:default/credit-decisioning"]
    assert api.post(f"{URL}/INC-1/status", json={"status": "acknowledged"}).json()["status"] == (
        "acknowledged"
    )
    noted = api.post(f"{URL}/INC-1/notes", json={"text": "rolled back"})
    assert noted.status_code == 201 and noted.json()["notes"][0]["text"] == "rolled back"
    item = api.post(
        f"{URL}/INC-1/actions",
        json={"title": "Retrain", "owner": "ana.lima", "due": "2026-12-24", "tag": "retrain"},
    )
    assert item.status_code == 201 and item.json()["number"] == 1
    assert api.post(f"{URL}/INC-1/actions/1/done").json()["done"] is True
    patched = api.client.patch(f"{URL}/INC-1", json={"severity": 1}, headers=api.auth("editor"))
    assert patched.status_code == 200 and patched.json()["severity"] == 1
    shown = api.get(f"{URL}/inc-1").json()
    assert shown["actions"][0]["tag"] == "retrain"
    titles = [e["title"] for e in shown["timeline"] if e["source"] == "governance"]
    assert titles == [
        "catalog.entity.created",  # the system, applied within the window before it opened
        "incidents.incident.opened",
        "incidents.incident.acknowledged",
        "incidents.incident.noted",
        "incidents.action.added",
        "incidents.action.done",
        "incidents.incident.updated",
    ]
    assert [i["id"] for i in api.get(URL, params={"status": "acknowledged"}).json()] == ["INC-1"]
    assert api.get(URL, params={"status": "open"}).json() == []
    with ws.read() as session:
        (event,) = list_events(session, action="incidents.incident.opened")
    assert event.actor["id"] == "user:default/chen.wu"


def test_roles(api):  # noqa: F811
    assert _open(api).status_code == 201
    assert api.client.get(URL).status_code == 401
    assert api.get(URL).status_code == 200  # a viewer reads
    denied = api.post(URL, role="viewer", json={"systems": ["x"], "severity": 1, "title": "T"})
    assert denied.status_code == 403 and denied.headers["content-type"] == PROBLEM
    assert api.post(f"{URL}/INC-1/notes", role="viewer", json={"text": "x"}).status_code == 403


def test_bad_input_is_a_problem_and_stores_nothing(api, ws):  # noqa: F811
    for body, status, detail in [
        ({"severity": 5}, 422, "severity 5: a whole number from 1 (the worst) to 4"),
        ({"severity": 0}, 422, "severity 0: a whole number from 1 (the worst) to 4"),
        ({"systems": ["nope"]}, 404, "no such entity system:default/nope"),
        ({"sevrity": 2}, 422, "unknown field 'sevrity'"),
        ({"owner": "ghost"}, 404, "owner user:default/ghost: no such user or group"),
    ]:
        answer = _open(api, **body)
        assert answer.status_code == status, (body, answer.json())
        assert answer.headers["content-type"] == PROBLEM
        assert detail in answer.json()["detail"], answer.json()
    assert api.get(URL, params={"bogus": "1"}).status_code == 422
    assert api.get(f"{URL}/INC-1").status_code == 404
    assert api.get(f"{URL}/bad").status_code == 422
    assert api.get(URL).json() == []
    with ws.read() as session:
        assert list_events(session, action="incidents.incident.opened") == []
        assert list_events(session, action="incidents.incident.refused") == []


def test_resolving_twice_is_a_409_logged_once(api, ws):  # noqa: F811
    _open(api)
    assert api.post(f"{URL}/INC-1/status", json={"status": "resolved"}).status_code == 200
    twice = api.post(f"{URL}/INC-1/status", json={"status": "resolved"})
    assert twice.status_code == 409 and twice.json()["detail"] == "INC-1 is already resolved"
    late = api.post(f"{URL}/INC-1/actions", json={"title": "Eval", "owner": "chen.wu"})
    assert (
        late.status_code == 409 and "can no longer be given action items" in late.json()["detail"]
    )
    assert api.post(f"{URL}/INC-1/status", json={"status": "open"}).status_code == 422
    with ws.read() as session:
        logged = list_events(session, action="incidents.incident.refused")
    assert [e.details["reason"] for e in logged] == [
        "INC-1 is already resolved",
        "INC-1 is resolved: it can no longer be given action items",
    ]
    assert api.get(f"{URL}/INC-1").json()["actions"] == []
