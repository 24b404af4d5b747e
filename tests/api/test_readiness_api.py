"""/api/v1/systems/{system}: readiness, stage (409 when refused) and reviews, on both stores."""

from __future__ import annotations

from keel.audit import list_events


def test_readiness_scorecard(api):
    card = api.get("/api/v1/systems/credit-decisioning/readiness").json()
    assert card["score"] == 64.0 and card["stage"] == "design"
    assert [d["id"] for d in card["dimensions"]] == [
        "data",
        "ownership",
        "infrastructure",
        "risk",
        "change",
    ]
    assert card["minimum"] == {"score": 60.0, "policy": "policy:default/credit-decisioning-release"}
    support = api.get("/api/v1/systems/support-assistant/readiness").json()
    assert support["score"] < card["score"]
    missing = api.get("/api/v1/systems/nope/readiness")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert api.client.get("/api/v1/systems/credit-decisioning/readiness").status_code == 401


def test_stage_advance_and_refusal(api, ws):
    shown = api.get("/api/v1/systems/credit-decisioning/stage").json()
    assert shown["stage"] == "design" and shown["met"] is True
    assert api.post("/api/v1/systems/credit-decisioning/stage", role="viewer").status_code == 403
    moved = api.post("/api/v1/systems/credit-decisioning/stage")  # chen.wu, the data steward
    assert moved.status_code == 200 and moved.json()["to"] == "build"
    refused = api.post("/api/v1/systems/credit-decisioning/stage", json={"to": "validate"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        "build.evidence: no release of any model of the system yet (keel release create)"
    ]
    skip = api.post("/api/v1/systems/credit-decisioning/stage", json={"to": "operate"})
    assert skip.status_code == 400 and "never skipped" in skip.json()["detail"]
    outsider = api.post("/api/v1/systems/support-assistant/stage")
    assert outsider.status_code == 403
    with ws.read() as session:
        refusals = list_events(session, action="readiness.advance.refused")
    assert len(refusals) == 2  # the outsider (no pod role) is counted, not logged
    assert {e.actor["id"] for e in refusals} == {"user:default/chen.wu"}
    assert api.get("/api/v1/systems/credit-decisioning/stage").json()["stage"] == "build"


def test_reviews(api, ws):
    url = "/api/v1/systems/credit-decisioning/reviews"
    done = api.post(url, json={"kind": "privacy", "comment": "DPIA on file"})
    assert done.status_code == 201, done.json()
    assert done.json()["reviewer"] == "user:default/chen.wu"
    refused = api.post(url, json={"kind": "legal"})
    assert refused.status_code == 403 and "spec.pod.riskLead" in refused.json()["detail"]
    assert api.post(url, json={"kind": "ethics"}).status_code == 422
    assert [r["kind"] for r in api.get(url).json()] == ["privacy"]
    with ws.read() as session:
        (logged,) = list_events(session, action="readiness.review.refused")
    assert logged.subject == "system:default/credit-decisioning"
    card = api.get("/api/v1/systems/credit-decisioning/readiness").json()
    assert card["dimensions"][3]["score"] == 60
