"""/api/v1/releases and /attestations/verify over a released German Credit model."""

from __future__ import annotations

import pytest

from keel.audit.artifacts import artifact_digest
from keel.identity import user_actor
from keel.pipeline import releases
from tests.conftest import GERMAN_CREDIT


@pytest.fixture
def released(api, ws, credit_artifacts):
    engineer = user_actor("user:default/ana.lima", "local")
    build = releases.Build(
        artifact=credit_artifacts["credit-scorer"],
        data={"datasource:default/german-credit": GERMAN_CREDIT},
    )
    with ws.write(engineer) as session:
        return releases.create_release(
            session, engineer, ws.signer(), "credit-decisioning", "credit-scorer", build
        )


def test_list_show_bundle_bom(api, released):
    listed = api.get("/api/v1/releases?system=credit-decisioning").json()
    assert [r["name"] for r in listed] == ["model:default/credit-scorer@1"]
    assert api.get("/api/v1/releases?system=support-assistant").json() == []
    for name in ("credit-scorer@1", "model:default/credit-scorer@1"):
        shown = api.get(f"/api/v1/releases/{name}").json()
        assert shown["artifactDigest"] == released.artifact_digest
        assert "https://slsa.dev/provenance/v1" in shown["statements"]
    bundle = api.get("/api/v1/releases/credit-scorer@1/bundle")
    assert bundle.headers["content-type"] == "application/jsonl"
    assert bundle.content == released.bundle
    bom = api.get("/api/v1/releases/model:default/credit-scorer@1/bom")
    assert bom.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert bom.json()["metadata"]["component"]["modelCard"]


def test_unknown_and_malformed_releases(api, released):
    missing = api.get("/api/v1/releases/credit-scorer@9")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert api.get("/api/v1/releases/credit-scorer").status_code in (400, 422)
    assert api.client.get("/api/v1/releases").status_code == 401


def test_verify_a_bundle_by_post(api, released, credit_artifacts):
    url = "/api/v1/attestations/verify"
    digest = artifact_digest(credit_artifacts["credit-scorer"])
    ok = api.post(url, role="viewer", content=released.bundle, params={"artifact_digest": digest})
    assert ok.json()["verified"] is True, ok.json()
    other = artifact_digest(credit_artifacts["credit-scorecard"])
    wrong = api.post(url, role="viewer", content=released.bundle, params={"artifact_digest": other})
    assert wrong.json()["verified"] is False
    assert api.post(url, role="viewer", content=b"junk").json()["verified"] is False
    bad = api.post(url, role="viewer", content=released.bundle, params={"artifact_digest": "md5:x"})
    assert bad.status_code == 422


def test_a_ci_job_reports_over_http_and_the_pod_promotes(api, ws, credit_artifacts):
    """Open a run, record evidence, close it; approvals and promotion as the pod's tokens."""
    from keel.auth import create_token

    admin = user_actor("user:default/ana.lima", "local")
    with ws.write(admin) as session:
        tokens = {
            who: create_token(session, admin, who, "editor")[1]
            for who in ("ivo.costa", "dara.kim", "chen.wu", "ana.lima")
        }

    def as_(who):
        return {"Authorization": f"Bearer {tokens[who]}"}

    run = api.post("/api/v1/runs", json={"system": "credit-decisioning", "pipeline": "ci"})
    assert run.status_code == 201, run.json()
    run_id = run.json()["id"]
    for track, check, figures in (
        ("data", "provenance", {}),
        ("data", "consent", {}),
        ("data", "quality", {}),
        (
            "model",
            "fairness-sex",
            {"demographic_parity_difference": 0.05, "equalized_odds_difference": 0.1},
        ),
        (
            "model",
            "fairness-age",
            {"demographic_parity_difference": 0.05, "equalized_odds_difference": 0.1},
        ),
        ("model", "robustness", {"stability[noise]": 0.98}),
        ("feature", "ownership", {}),
        ("eval", "evaluation", {}),
    ):
        added = api.post(
            "/api/v1/evidence",
            json={
                "system": "credit-decisioning",
                "run": run_id,
                "evidence": {"track": track, "check": check, "result": "pass", "figures": figures},
            },
        )
        assert added.status_code == 201, added.json()
    bad = api.post(
        "/api/v1/evidence",
        json={"system": "credit-decisioning", "run": run_id, "evidence": {"track": "x"}},
    )
    assert bad.status_code == 422 and "evidence track" in bad.json()["detail"]
    scorer = credit_artifacts["credit-scorer"]
    built = {"artifacts": [{"name": scorer.name, "digest": artifact_digest(scorer)}]}
    done = api.post(f"/api/v1/runs/{run_id}/finish", json={"status": "complete", "facts": built})
    assert done.json()["status"] == "complete"
    assert [r["id"] for r in api.get("/api/v1/runs?system=credit-decisioning").json()] == [run_id]

    build = releases.Build(
        artifact=credit_artifacts["credit-scorer"],
        data={"datasource:default/german-credit": GERMAN_CREDIT},
        run=run_id,
    )
    with ws.write(admin) as session:
        releases.create_release(
            session, admin, ws.signer(), "credit-decisioning", "credit-scorer", build
        )

    url = "/api/v1/releases/credit-scorer@1"
    refused = api.client.post(f"{url}/promote", json={"to": "staging"}, headers=as_("ana.lima"))
    assert refused.status_code == 409
    assert refused.json()["errors"] == [
        "approval mlEngineer: no mlEngineer has approved (policy:default/credit-decisioning-release)"
    ]
    self_approval = api.client.post(
        f"{url}/approvals", json={"role": "mlEngineer"}, headers=as_("ana.lima")
    )
    assert self_approval.status_code == 403
    ok = api.client.post(f"{url}/approvals", json={"role": "mlEngineer"}, headers=as_("ivo.costa"))
    assert ok.status_code == 201 and ok.json()["approver"] == "user:default/ivo.costa"
    staged = api.client.post(f"{url}/promote", json={"to": "staging"}, headers=as_("ana.lima"))
    assert staged.status_code == 200 and staged.json()["allowed"]
    where = api.get("/api/v1/systems/credit-decisioning/where").json()
    assert [(w["environment"], w["release"]) for w in where] == [
        ("staging", "model:default/credit-scorer@1")
    ]
    status = api.get(f"{url}/status").json()
    assert status["serves"] == ["staging"] and len(status["evidence"]) == 8
    assert api.get("/api/v1/systems/credit-decisioning/where?at=yesterday").status_code == 400
