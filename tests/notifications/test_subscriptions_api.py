"""/api/v1/subscriptions: editors and admins write, viewers read; unknown fields and bad
targets are problem documents; the control plane's own address is refused as it is called."""

from __future__ import annotations

from keel import audit
from tests.api.conftest import api  # noqa: F401  (the fixture)

HOOK = {"event": "incident", "webhook": "https://hooks.example.org/k", "secret_ref": "env:HOOK"}


def test_create_list_delete_by_role(api):  # noqa: F811
    assert api.post("/api/v1/subscriptions", role="viewer", json=HOOK).status_code == 403
    made = api.post("/api/v1/subscriptions", role="editor", json=HOOK)
    assert made.status_code == 201, made.text
    assert (
        made.json()["id"] == "sub-1"
        and made.json()["event"] == "incidents.incident.*,incidents.action.*"
    )
    mail = {"event": "job-failed", "email": "ops@example.org"}
    assert api.post("/api/v1/subscriptions", role="admin", json=mail).status_code == 201
    listed = api.get("/api/v1/subscriptions").json()["subscriptions"]
    assert [s["id"] for s in listed] == ["sub-1", "sub-2"]
    gone = api.client.delete("/api/v1/subscriptions/sub-1", headers=api.auth("viewer"))
    assert gone.status_code == 403
    gone = api.client.delete("/api/v1/subscriptions/sub-1", headers=api.auth("editor"))
    assert gone.status_code == 200 and gone.json()["removed_at"]
    again = api.client.delete("/api/v1/subscriptions/sub-1", headers=api.auth("editor"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    missing = api.client.delete("/api/v1/subscriptions/sub-9", headers=api.auth("editor"))
    assert missing.status_code == 404
    assert api.get("/api/v1/subscriptions/deliveries").json() == {"deliveries": []}
    bad = api.get("/api/v1/subscriptions/deliveries?status=lost")
    assert bad.status_code == 422 and "not one of" in bad.json()["detail"]
    with api.client.app.state.workspace.read() as session:
        created = audit.list_events(session, action="notifications.subscription.created")
    assert [e.actor["id"] for e in created] == ["user:default/chen.wu", "user:default/ana.lima"]
    assert {e.actor["via"] for e in created} == {"token"}


def test_bad_bodies_are_problems_and_store_nothing(api):  # noqa: F811
    ws = api.client.app.state.workspace
    with ws.read() as session:
        before = audit.head(session)
    cases = [
        ({**HOOK, "secret": "whsec_x"}, "unknown field 'secret'"),
        ({**HOOK, "event": "nope"}, "unknown event type 'nope'"),
        ({**HOOK, "webhook": "gopher://h.example/"}, "http or https"),
        ({**HOOK, "secret_ref": "whsec_c2VjcmV0"}, "never the secret itself"),
        ({**HOOK, "webhook": "http://testserver/api/v1/tokens"}, "the control plane itself"),
        ({**HOOK, "webhook": "http://127.0.0.1:8400/api/v1/tokens"}, "the control plane itself"),
    ]
    for body, line in cases:
        answer = api.post("/api/v1/subscriptions", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert line in answer.json()["detail"], answer.json()
        assert "c2VjcmV0" not in answer.text
    with ws.read() as session:
        assert audit.head(session) == before
    assert api.get("/api/v1/subscriptions").json() == {"subscriptions": []}
