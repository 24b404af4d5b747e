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
