"""Attacks on the control plane (issue 13, access control), each against a real `keel serve`
process with a real HTTP client: viewer writes, refusal floods, unknown fields, bodies sent
before authentication, login CSRF."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keel.auth import create_token
from keel.catalog import service
from keel.config import DB_FILE, Settings
from keel.identity import user_actor
from keel.pipeline import releases
from keel.workspace import init_workspace
from tests.conftest import EXAMPLES, GERMAN_CREDIT
from tests.gateway.conftest import start
from tests.servers import free_port

PEOPLE = {
    "viewer": ("dara.kim", "viewer"),  # the credit system's risk lead
    "risk": ("dara.kim", "editor"),
    "engineer": ("ivo.costa", "editor"),  # in the credit pod, not its risk lead
    "outsider": ("gus.martin", "editor"),  # in the support pod only
    "outsider_viewer": ("gus.martin", "viewer"),
    "admin": ("ana.lima", "admin"),
}
RELEASE = "/api/v1/releases/credit-scorer@1"


@dataclass
class Server:
    url: str
    pid: int
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def head(self) -> int:
        """The audit log's size, through the API."""
        events = httpx.get(f"{self.url}/api/v1/events?limit=1", headers=self.auth("admin"))
        return events.json()["events"][-1]["seq"]

    def peak_rss(self) -> int:
        """The server process's peak resident memory, in bytes (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory, credit_artifacts) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("attacks") / "ws"
    settings = Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}")
    admin = user_actor("user:ana.lima", "local")
    ws, _ = init_workspace(settings, admin)
    try:
        with ws.write(admin) as session:
            service.apply(session, admin, service.load([EXAMPLES / "demo" / "catalog"]).entities)
            tokens = {
                who: create_token(session, admin, user, role)[1]
                for who, (user, role) in PEOPLE.items()
            }
        build = releases.Build(
            artifact=credit_artifacts["credit-scorer"],
            data={"datasource:default/german-credit": GERMAN_CREDIT},
        )
        with ws.write(admin) as session:
            releases.create_release(
                session, admin, ws.signer(), "credit-decisioning", "credit-scorer", build
            )
    finally:
        ws.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"KEEL_HOME": str(home), "KEEL_DATABASE_URL": "", "KEEL_USER": "ana.lima"}
    popen = start(["serve", "--port", str(port)], env, home.parent / "serve.log", f"{url}/healthz")
    try:
        yield Server(url, popen.pid, tokens)
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


# 1. viewer tokens write ------------------------------------------------------------------


def test_a_viewer_who_is_risk_lead_cannot_approve_or_promote(server):
    before = server.head()
    approve = httpx.post(
        f"{server.url}{RELEASE}/approvals",
        json={"role": "riskLead", "comment": "lgtm"},
        headers=server.auth("viewer"),
    )
    assert approve.status_code == 403, approve.text
    assert "editor" in approve.json()["detail"]
    promote = httpx.post(
        f"{server.url}{RELEASE}/promote", json={"to": "staging"}, headers=server.auth("viewer")
    )
    assert promote.status_code == 403, promote.text
    assert server.head() == before  # refused before anything: nothing recorded
    status = httpx.get(f"{server.url}{RELEASE}/status", headers=server.auth("viewer")).json()
    assert status["approvals"] == []


def test_the_role_is_checked_before_the_body(server):
    """A viewer's malformed or invalid body is still a 403, never a 422 that probes the API."""
    for body in (b"{not json", b'{"role": 7}', b"[]"):
        answer = httpx.post(
            f"{server.url}{RELEASE}/approvals",
            content=body,
            headers={**server.auth("viewer"), "Content-Type": "application/json"},
        )
        assert answer.status_code == 403, (body, answer.text)


def test_every_write_route_needs_at_least_an_editor(server):
    """Deny by default: every non-GET route of the live OpenAPI document refuses a viewer."""
    spec = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    reads = {("post", "/api/v1/attestations/verify")}  # verifying writes nothing
    tried = 0
    before = server.head()
    for path, methods in spec["paths"].items():
        for method in methods:
            if method in ("get", "head") or (method, path) in reads:
                continue
            concrete = path.replace("{release}", "credit-scorer@1").replace("{system}", "x")
            concrete = concrete.replace("{", "").replace("}", "")
            answer = httpx.request(
                method.upper(), f"{server.url}{concrete}", json={}, headers=server.auth("viewer")
            )
            assert answer.status_code == 403, (method, path, answer.text)
            tried += 1
    assert tried >= 15
    assert server.head() == before


# 2. refusals flood the log ---------------------------------------------------------------


def _metric(server: Server, name: str) -> float:
    """The sum of a counter over its labels, from the server's /api/v1/metrics."""
    text = httpx.get(f"{server.url}/api/v1/metrics", headers=server.auth("admin")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name}{{", f"{name} "))
    )


def test_callers_outside_the_pod_are_counted_not_logged(server):
    counted = _metric(server, "keel_api_refusals_unrecorded_total")
    before = server.head()
    for _ in range(60):
        answer = httpx.post(
            f"{server.url}{RELEASE}/approvals",
            json={"role": "riskLead"},
            headers=server.auth("outsider"),
        )
        assert answer.status_code == 403, answer.text
    for _ in range(20):
        answer = httpx.post(
            f"{server.url}{RELEASE}/promote",
            json={"to": "staging"},
            headers=server.auth("outsider"),
        )
        assert answer.status_code == 403, answer.text
    assert server.head() == before  # not one governance event
    assert _metric(server, "keel_api_refusals_unrecorded_total") - counted == 80


def test_refusals_of_pod_members_are_still_recorded(server):
    before = server.head()
    answer = httpx.post(  # ivo.costa is an ML engineer of the pod, not its risk lead
        f"{server.url}{RELEASE}/approvals",
        json={"role": "riskLead"},
        headers=server.auth("engineer"),
    )
    assert answer.status_code == 403
    events = httpx.get(f"{server.url}/api/v1/events?limit=1", headers=server.auth("admin")).json()[
        "events"
    ]
    assert server.head() == before + 1
    assert events[-1]["action"].endswith("refused") and events[-1]["actor"]["id"].endswith(
        "ivo.costa"
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{RELEASE}/approvals", {"role": "riskLead"}),
        (f"{RELEASE}/promote", {"to": "staging"}),
        ("/api/v1/systems/credit-decisioning/stage", {}),
        ("/api/v1/systems/credit-decisioning/reviews", {"kind": "privacy"}),
        (
            "/api/v1/evidence",
            {
                "system": "credit-decisioning",
                "release": "credit-scorer@1",
                "evidence": {"track": "model", "check": "auc", "result": "pass"},
            },
        ),
    ],
)
def test_a_caller_outside_the_pod_is_refused_without_waiting_for_the_writer_lock(
    server, path, body
):
    """Callers with no standing were refused inside a write transaction, so each waited for
    the store's writer lock (and held it while refused): with a long write under way, a
    flood of them queued behind it for the 30 s busy timeout each. Standing is read first."""
    environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
    home = next(e.split(b"=", 1)[1] for e in environ if e.startswith(b"KEEL_HOME="))
    counted = _metric(server, "keel_api_refusals_unrecorded_total")
    before = server.head()
    lock = sqlite3.connect(Path(home.decode()) / DB_FILE, timeout=5)
    lock.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
    try:
        answer = httpx.post(
            f"{server.url}{path}", json=body, headers=server.auth("outsider"), timeout=5
        )  # before: blocked for the busy timeout (30 s), read timeout here
    finally:
        lock.rollback()
        lock.close()
    assert answer.status_code == 403, answer.text
    assert "pod" in answer.json()["detail"]
    assert server.head() == before  # still no governance event per refusal
    assert _metric(server, "keel_api_refusals_unrecorded_total") - counted == 1


# 3. unknown JSON fields ------------------------------------------------------------------


def test_an_unknown_field_is_refused_not_ignored(server):
    tokens_before = httpx.get(f"{server.url}/api/v1/tokens", headers=server.auth("admin")).json()
    answer = httpx.post(
        f"{server.url}/api/v1/tokens",
        json={"user": "user:ana.lima", "role": "admin", "expires": "1d"},
        headers=server.auth("admin"),
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    line = problem["detail"]
    assert "\n" not in line and "'expires'" in line
    assert "expires_in_days" in line and "note" in line  # the accepted ones
    after = httpx.get(f"{server.url}/api/v1/tokens", headers=server.auth("admin")).json()
    assert after == tokens_before  # no never-expiring token was made


@pytest.mark.parametrize(
    ("method", "path", "who", "body"),
    [
        ("PUT", "/api/v1/workspace/mode", "admin", {"mode": "server", "force": True}),
        (
            "POST",
            "/api/v1/gateway/keys",
            "admin",
            {"consumer": "c", "endpoints": ["x"], "environment": "staging", "ttl": 5},
        ),
        ("POST", f"{RELEASE}/approvals", "risk", {"role": "riskLead", "as": "x"}),
        (
            "POST",
            "/api/v1/runs",
            "engineer",
            {"system": "credit-decisioning", "pipeline": "ci", "extra": 1},
        ),
        ("POST", "/api/v1/apply", "engineer", {"documents": [], "dry_run": True}),
    ],
)
def test_unknown_fields_everywhere(server, method, path, who, body):
    before = server.head()
    answer = httpx.request(method, f"{server.url}{path}", json=body, headers=server.auth(who))
    assert answer.status_code == 422, answer.text
    unknown = next(
        k
        for k in body
        if k
        not in (
            "mode",
            "consumer",
            "endpoints",
            "environment",
            "role",
            "system",
            "pipeline",
            "documents",
        )
    )
    assert repr(unknown) in answer.json()["detail"] and "accepted" in answer.json()["detail"]
    assert server.head() == before


def _run(server: Server) -> str:
    return httpx.post(
        f"{server.url}/api/v1/runs",
        json={"system": "credit-decisioning", "pipeline": "ci"},
        headers=server.auth("engineer"),
    ).json()["id"]


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("path", "body", "where", "field", "accepted"),
    [
        (
            "/api/v1/evidence",
            {
                "system": "credit-decisioning",
                "evidence": {"track": "model", "check": "auc", "result": "pass", "figure": {}},
            },
            "evidence figure",
            "figure",
            ["track", "check", "result", "figures", "thresholds", "log"],
        ),
        (
            "/api/v1/runs/{run}/finish",
            {"status": "complete", "facts": {"metric": {"auc": 0.9}}},
            "run facts metric",
            "metric",
            ["datasets", "artifacts", "params", "metrics"],
        ),
        (  # a dataset's lineage in a misspelt field was kept and silently lost (item 3)
            "/api/v1/runs/{run}/finish",
            {"status": "complete", "facts": {"datasets": [{"digest": DIGEST, "sourse": "x"}]}},
            "run facts datasets.0.sourse",
            "sourse",
            ["source", "digest", "name", "path"],
        ),
        (
            "/api/v1/gateway/routes",
            {
                "endpoint": "support-chat-api",
                "environment": "staging",
                "upstream": "http://127.0.0.1:9/v1",
                "guard": {"output": {"pii": "block", "pii_type": ["EMAIL_ADDRESS"]}},
            },
            "policy output.pii_type",
            "pii_type",
            ["pii", "secrets", "injection", "pii_types", "fail_closed"],
        ),
    ],
)
def test_unknown_nested_fields_are_refused_like_top_level_ones(
    server, path, body, where, field, accepted
):
    """Nested objects (evidence, run facts and their datasets, a route's guard policy) gave
    pydantic's raw "Extra inputs are not permitted", or kept the field, without naming the
    accepted ones."""
    who = "admin" if "gateway" in path else "engineer"
    url = f"{server.url}{path.replace('{run}', _run(server))}"
    if "evidence" in body:
        body = {**body, "run": _run(server)}
    before = server.head()
    method = "PUT" if "gateway" in path else "POST"
    answer = httpx.request(method, url, json=body, headers=server.auth(who))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    line = answer.json()["detail"]
    assert "\n" not in line and "Extra inputs" not in line
    assert line.startswith(f"{where}: unknown field {field!r}; accepted: "), line
    assert all(name in line for name in accepted), line
    assert "did you mean" in line  # each of these is a near miss of an accepted field
    assert server.head() == before


# 4. bodies before authentication ---------------------------------------------------------


def _raw_post(server: Server, path: str, headers: dict[str, str], length: int) -> bytes:
    """Send only the headers of a `length`-byte POST, then read what the server answers."""
    host, port = server.url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"user": "')
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def test_an_unauthenticated_body_is_refused_before_it_is_read(server):
    answer = _raw_post(server, "/api/v1/tokens", {"Content-Type": "application/json"}, 14 << 20)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    bad = _raw_post(
        server,
        "/api/v1/tokens",
        {"Content-Type": "application/json", "Authorization": "Bearer keel_pat_nope"},
        14 << 20,
    )
    assert bad.startswith(b"HTTP/1.1 401"), bad[:200]


def test_an_unauthenticated_14_mb_body_costs_no_memory(server):
    body = json.dumps({"user": "x" * (14 << 20), "role": "admin"}).encode()
    baseline = server.peak_rss()
    for _ in range(3):
        try:
            answer = httpx.post(
                f"{server.url}/api/v1/tokens",
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            assert answer.status_code == 401
        except httpx.TransportError:
            pass  # the server may close the connection before the body is all sent
    assert server.peak_rss() - baseline < 8 << 20


def test_authenticated_bodies_are_capped_too(server):
    answer = _raw_post(
        server,
        "/api/v1/tokens",
        {"Content-Type": "application/json", **server.auth("admin")},
        14 << 20,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    chunks = (b'{"user": "' + b"x" * (1 << 20) for _ in range(3))  # no length declared
    streamed = httpx.post(
        f"{server.url}/api/v1/tokens",
        content=chunks,
        headers={"Content-Type": "application/json", **server.auth("admin")},
    )
    assert streamed.status_code == 413, streamed.text
    web = _raw_post(
        server, "/login", {"Content-Type": "application/x-www-form-urlencoded"}, 14 << 20
    )
    assert web.startswith(b"HTTP/1.1 413"), web[:200]


# 5. login CSRF ---------------------------------------------------------------------------


def _login(server: Server, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{server.url}/login",
        data={"token": server.tokens["admin"]},
        headers=headers,
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},
        {},
        {"Referer": "https://evil.example/page"},
        {"Origin": "https://evil.example"},
        {"Origin": "null", "Referer": "SELF/login"},
    ],
    ids=["origin-null", "no-origin-no-referer", "foreign-referer", "foreign-origin", "null+ref"],
)
def test_login_csrf_is_refused(server, headers):
    headers = {k: v.replace("SELF", server.url) for k, v in headers.items()}
    answer = _login(server, headers)
    assert answer.status_code == 403, answer.text
    assert "keel_session" not in answer.headers.get("set-cookie", "")


def test_login_from_our_own_page_works(server):
    assert _login(server, {"Origin": server.url}).status_code == 303
    by_referer = _login(server, {"Referer": f"{server.url}/login"})
    assert by_referer.status_code == 303 and "keel_session" in by_referer.headers["set-cookie"]


def test_an_admin_endpoint_refuses_an_editor_before_reading_the_body(server):
    """The role an endpoint declares (admin) is checked by the gate too: malformed JSON from
    an editor is a 403, not a 422."""
    answer = httpx.post(
        f"{server.url}/api/v1/tokens",
        content=b"{not json",
        headers={**server.auth("engineer"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 403 and "admin" in answer.json()["detail"], answer.text
    listed = httpx.get(f"{server.url}/api/v1/gateway/keys", headers=server.auth("engineer"))
    assert listed.status_code == 403


# 6. review findings: verify floods, refusals about nothing, foreign evidence, big bodies --


def test_a_viewer_cannot_flood_verify_with_empty_lines(server):
    """16 MiB of "{}\\n" once cost 16 s and ~2 GB: now over the cap is 413, and a body under
    it of many lines is refused before a line is parsed, in a short answer."""
    too_big = _raw_post(
        server,
        "/api/v1/attestations/verify",
        {"Content-Type": "application/jsonl", **server.auth("viewer")},
        16 << 20,
    )
    assert too_big.startswith(b"HTTP/1.1 413"), too_big[:200]
    baseline = server.peak_rss()
    for body in (b"{}\n" * 300_000, b"{}\n{}\n{}\n{}\n", b"x\n" * 4):
        answer = httpx.post(
            f"{server.url}/api/v1/attestations/verify",
            content=body,
            headers={**server.auth("viewer"), "Content-Type": "application/jsonl"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["verified"] is False
        assert 1 <= len(answer.json()["problems"]) <= 5 and len(answer.content) < 4096
    assert server.peak_rss() - baseline < 32 << 20
    real = httpx.get(f"{server.url}{RELEASE}/bundle", headers=server.auth("viewer")).content
    checked = httpx.post(
        f"{server.url}/api/v1/attestations/verify", content=real, headers=server.auth("viewer")
    )
    assert checked.json()["verified"] is True, checked.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/releases/nope@1/approvals", {"role": "riskLead"}),
        ("/api/v1/releases/zzz/approvals", {"role": "riskLead"}),
        ("/api/v1/releases/nope@7/promote", {"to": "staging"}),
        ("/api/v1/systems/nope-1/reviews", {"kind": "privacy"}),
        ("/api/v1/systems/nope-2/stage", {}),
        ("/api/v1/systems/bad!!ref/stage", {}),
    ],
)
@pytest.mark.parametrize("who", ["outsider", "engineer"])
def test_requests_about_nothing_leave_no_event(server, path, body, who):
    """Missing or malformed references are no governance decision: five requests, no event,
    from outside the pod or inside it."""
    before = server.head()
    for _ in range(5):
        answer = httpx.post(f"{server.url}{path}", json=body, headers=server.auth(who))
        assert answer.status_code in (400, 404, 422), answer.text
    assert server.head() == before


def _status(server: Server) -> dict:
    return httpx.get(f"{server.url}{RELEASE}/status", headers=server.auth("admin")).json()


def test_an_editor_outside_the_pod_cannot_add_release_evidence(server):
    before, status = server.head(), _status(server)
    answer = httpx.post(
        f"{server.url}/api/v1/evidence",
        json={
            "system": "credit-decisioning",
            "release": "credit-scorer@1",
            "evidence": {"track": "model", "check": "fairness", "result": "pass"},
        },
        headers=server.auth("outsider"),
    )
    assert answer.status_code == 403, answer.text
    assert "pod" in answer.json()["detail"]
    assert server.head() == before and _status(server) == status


def test_run_evidence_needs_the_runs_owner_or_the_pod(server):
    run = httpx.post(
        f"{server.url}/api/v1/runs",
        json={"system": "credit-decisioning", "pipeline": "ci"},
        headers=server.auth("engineer"),
    ).json()["id"]
    evidence = {"track": "model", "check": "fairness", "result": "pass"}
    body = {"system": "credit-decisioning", "run": run, "evidence": evidence}
    before = server.head()
    foreign = httpx.post(
        f"{server.url}/api/v1/evidence", json=body, headers=server.auth("outsider")
    )
    assert foreign.status_code == 403, foreign.text
    assert server.head() == before
    for who in ("engineer", "risk"):  # the owner, and a pod member
        answer = httpx.post(f"{server.url}/api/v1/evidence", json=body, headers=server.auth(who))
        assert answer.status_code == 201, (who, answer.text)


def test_apply_bodies_are_capped_at_2_mib(server):
    """8 MiB of YAML once took 7 s and 257 MiB to parse; the cap on /apply is now 2 MiB."""
    body = b"# " + b"x" * (3 << 20) + b"\n"
    answer = httpx.post(
        f"{server.url}/api/v1/apply",
        content=body,
        headers={"Content-Type": "application/yaml", **server.auth("engineer")},
        timeout=30,
    )
    assert answer.status_code == 413 and "2 MiB" in answer.json()["detail"], answer.text
