"""Attacks from the access-control review (findings 4, 5, 6, 10), each against a real
`keel serve` (the fixture of test_attacks) with a real HTTP client."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.api.test_attacks import RELEASE, Server
from tests.api.test_attacks import server as server


def _home(server: Server) -> Path:
    environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
    found = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"KEEL_HOME=")]
    return Path(found[0].decode())


def test_a_wrong_login_code_does_not_wait_for_the_writer_lock(server):
    """Finding 4: an unauthenticated post took the global writer lock before checking the code."""
    lock = sqlite3.connect(_home(server) / "keel.db", timeout=5)
    lock.execute("BEGIN IMMEDIATE")
    try:
        answer = httpx.post(
            f"{server.url}/login/code",
            data={"c": "not-a-code"},
            headers={"Origin": server.url},
            timeout=5,  # before the fix: blocked for the 30 s busy timeout
        )
    finally:
        lock.rollback()
        lock.close()
    assert answer.status_code == 200 and "already used or has expired" in answer.text


@pytest.mark.parametrize(
    "path, who",
    [
        ("/api/v1/events?since=0001-01-01T00:00:00%2B14:00", "viewer"),
        ("/api/v1/events?since=9999-12-31T23:59:59-14:00", "viewer"),
    ],
)
def test_out_of_range_dates_are_422_not_500(server, path, who):
    """Finding 5."""
    answer = httpx.get(f"{server.url}{path}", headers=server.auth(who))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("field", ["rpm", "tpm"])
def test_huge_rate_limits_are_422_not_500(server, field):
    """Finding 5: 2**63 reached the store as an overflowing integer."""
    answer = httpx.post(
        f"{server.url}/api/v1/gateway/keys",
        json={"consumer": "c", "endpoints": ["x"], "environment": "staging", field: 2**63},
        headers=server.auth("admin"),
    )
    assert answer.status_code == 422, answer.text
    assert any(field in line for line in answer.json()["errors"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events?sinse=2020-01-01",
        f"{RELEASE}/status?verbose=1",
        "/api/v1/entities?kind=System&kidn=x",
    ],
)
def test_unknown_query_parameters_are_refused(server, path):
    """Finding 6: `?artifact-digest=` (a hyphen) was dropped and the subject check skipped."""
    answer = httpx.get(f"{server.url}{path}", headers=server.auth("admin"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("unknown query parameter")


def test_a_misspelt_artifact_digest_does_not_verify(server):
    bundle = httpx.get(f"{server.url}{RELEASE}/bundle", headers=server.auth("viewer"))
    assert bundle.status_code == 200, bundle.text
    answer = httpx.post(
        f"{server.url}/api/v1/attestations/verify?artifact-digest=sha256:{'0' * 64}",
        content=bundle.content,
        headers=server.auth("viewer"),
    )
    assert answer.status_code == 422, answer.text
    assert "artifact-digest" in answer.json()["detail"]


@pytest.mark.parametrize(
    "path, status",
    [("/nope", 404), ("/catalog/table?page=abc", 422), ("/events/99999999999999999999999", 422)],
)
def test_browser_paths_get_an_error_page_not_json(server, path, status):
    """Finding 10 (and 5 for the event number past SQLite's integers)."""
    login = httpx.post(
        f"{server.url}/login",
        data={"token": server.tokens["admin"]},
        headers={"Origin": server.url},
    )
    cookies = login.cookies
    answer = httpx.get(f"{server.url}{path}", cookies=cookies)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert f'data-status="{status}"' in answer.text
    assert "/logout" in answer.text  # the navigation bar: there is a session
    api = httpx.get(f"{server.url}/api/v1/nope", headers=server.auth("admin"))
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/releases?system=nope",
        "/api/v1/releases?system=bad!!ref",
        "/api/v1/releases?system=component:default/credit-scorer",
        "/api/v1/entities?system=nope",
        "/api/v1/systems/nope/where",
        "/api/v1/systems/bad!!ref/where",
        "/api/v1/systems/component:default%2Fcredit-scorer/where",
    ],
)
def test_every_system_reference_is_resolved_the_same_way(server, path):
    """Finding 8: malformed was a 400 here, missing a 200 [] there; one rule: 404."""
    answer = httpx.get(f"{server.url}{path}", headers=server.auth("viewer"))
    assert answer.status_code == 404, answer.text
    own = httpx.get(
        f"{server.url}/api/v1/releases?system=credit-decisioning", headers=server.auth("viewer")
    )
    assert own.status_code == 200 and "credit-scorer@1" in own.text
