"""Attacks on the gateway through its upstreams and its config, against real processes: a
real `keel gateway` (and `keel route set`), hostile upstreams and a hung Redis on 127.0.0.1
(issue 13, items 6-9)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from keel import audit
from keel.errors import UsageError
from keel.gateway import routes
from tests.gateway.conftest import KEEL, make_key, workspace_env
from tests.servers import free_port, serving

METADATA = "metadata-token-93f1"  # what an internal service would hand out


class Internal:
    """An internal service (a cloud metadata endpoint, say): answers anything it is asked,
    and counts who asked."""

    def __init__(self) -> None:
        self.hits = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.hits += 1
        body = b'{"object": "chat.completion", "token": "' + METADATA.encode() + b'"}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def redirecting(target: str):
    """A hostile upstream: every answer is a redirect to `target` (307 keeps the POST, 302
    turns it into a GET; a client that follows either reaches the internal service)."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        status = 307 if scope["path"].endswith("/chat/completions") else 302
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"location", target.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def _post(url: str, key: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/{path}", headers={"Authorization": f"Bearer {key}"}, json=body, timeout=10
    )


def _traffic(ws) -> list:
    """The gateway.request.handled events of the traffic log (not the anomalies)."""
    with ws.read() as session:
        return audit.list_events(session, log="traffic", action="gateway.request.handled")


def _until(check, limit: float = 5.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {limit} s")


# --- 6: redirects -------------------------------------------------------------------------


def test_an_upstream_redirect_is_never_followed(sqlite_served, run_gateway, admin):
    """A hostile upstream redirects to an internal service: the client gets a 502 naming the
    redirect, and the internal service is never asked."""
    ws = sqlite_served.ws
    internal = Internal()
    with serving(internal) as inside, serving(redirecting(f"{inside}/latest/meta-data")) as evil:
        with ws.write(admin) as session:
            routes.set_route(
                session,
                admin,
                "api:support-chat-api",
                "production",
                f"{evil}/v1",
                allow_ungoverned=True,
            )
        gw = run_gateway(sqlite_served.settings)
        key = sqlite_served.prod_key
        messages = [{"role": "user", "content": "hello"}]
        chat = _post(
            gw.url, key, "chat/completions", {"model": "support-chat-api", "messages": messages}
        )
        embed = _post(gw.url, key, "embeddings", {"model": "support-chat-api", "input": "hello"})
        streamed = _post(
            gw.url,
            key,
            "chat/completions",
            {"model": "support-chat-api", "messages": messages, "stream": True},
        )
    for answer in (chat, embed, streamed):
        assert answer.status_code == 502, answer.text
        assert answer.json()["error"]["code"] == "upstream_redirect"
        assert "never follows redirects" in answer.json()["error"]["message"]
        assert METADATA not in answer.text and "meta-data" not in answer.text
    assert internal.hits == 0
    events = _until(lambda: len(_traffic(ws)) >= 3 and _traffic(ws))
    assert [e.details["decision"] for e in events] == ["upstream_error"] * 3
    assert all(METADATA.encode() not in e.body for e in events)


# --- 7: credentials and malformed upstream URLs --------------------------------------------


def _route_set(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KEEL, "route", "set", "support-chat-api", "--env", "production", *args],
        env={**os.environ, **workspace_env(settings)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _stored_anywhere(ws, needle: str) -> bool:
    """Whether `needle` is in any row of the routes table or any event of any log."""
    with ws.read() as session:
        conn = session.connection()
        routes_rows = conn.execute(text("SELECT * FROM gateway_routes")).all()
        events = conn.execute(text("SELECT body FROM audit_events")).all()
    blobs = [repr(r) for r in routes_rows] + [
        b.decode(errors="replace") if isinstance(b, bytes) else str(b) for (b,) in events
    ]
    return any(needle in blob for blob in blobs)


CREDENTIALED = [
    "http://svc:hunter2-pw@127.0.0.1:8410/v1",
    "http://hunter2-pw@127.0.0.1:8410/v1",
    "https://:hunter2-pw@api.example.com/v1",
    "http://svc:hunter2-pw@[::1]:8410/v1",
]


@pytest.mark.parametrize("url", CREDENTIALED)
def test_credentials_in_an_upstream_url_are_refused_by_the_cli(sqlite_served, admin, url):
    """A real `keel route set`: refused with one line pointing to --upstream-key-env; the
    secret is in no table and no event (nor in the refusal)."""
    ws = sqlite_served.ws
    done = _route_set(sqlite_served.settings, "--upstream", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--upstream-key-env" in done.stderr and "hunter2" not in done.stderr
    with pytest.raises(UsageError, match="upstream-key-env"), ws.write(admin) as session:
        routes.set_route(
            session, admin, "api:support-chat-api", "production", url, allow_ungoverned=True
        )
    assert not _stored_anywhere(ws, "hunter2")


def test_credentials_in_an_upstream_url_are_refused_by_the_api(api, ws):
    for url in CREDENTIALED:
        answer = api.client.put(
            "/api/v1/gateway/routes",
            headers=api.auth("admin"),
            json={"endpoint": "support-chat-api", "environment": "production", "upstream": url},
        )
        assert answer.status_code == 400, answer.text
        assert "hunter2" not in answer.text and "credential_env" in answer.text
    assert not _stored_anywhere(ws, "hunter2")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/v1",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "http://127.0.0.1:99999/v1",
        "http://127.0.0.1:0/v1",
        "http://127.0.0.1 /v1",
        "http://127.0.0.1/v1\r\nX-Injected: 1",
        "http://127.0.0.1/v1\x1b[2J",  # a terminal escape
        "http:///v1",
        "http://exa\u0430mple.com/v1",  # a Cyrillic a
        "http://127.0.0.1\\@evil.example/v1",
        "http://127.0.0.1/v1?key=secret",
    ],
)
def test_malformed_upstream_urls_are_refused_by_the_cli(sqlite_served, url):
    before = _stored_anywhere(sqlite_served.ws, "X-Injected")
    done = _route_set(sqlite_served.settings, "--upstream", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") <= 2 and "Traceback" not in done.stderr
    assert not before and not _stored_anywhere(sqlite_served.ws, "X-Injected")


# --- 8: a hung Redis ------------------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server of our own on a free port, to hang with SIGSTOP."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed (it runs the suite's Redis too)")
    port = free_port()
    popen = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port, socket_timeout=1)
    _until(lambda: _pings(client), 10)
    yield popen, f"redis://127.0.0.1:{port}/0"
    popen.send_signal(signal.SIGCONT)
    popen.terminate()
    popen.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def test_a_hung_redis_costs_milliseconds_and_the_route_decides(
    sqlite_served, run_gateway, admin, redis_server
):
    """Redis stops answering (SIGSTOP: connections are accepted, nothing comes back). A
    route with limits refuses at once (fails closed, 503 with the reason); set to fail open
    it serves, each request recorded `limit: unchecked`; Redis back, limits hold again."""
    process, url = redis_server
    ws = sqlite_served.ws
    key = make_key(ws, admin, endpoints=["api:support-chat-api"], rpm=1000)
    with ws.read() as session:
        upstream = routes.list_routes(session)[0].upstream
    gw = run_gateway(sqlite_served.settings, "--redis", url)  # the default 50 ms deadline
    body = {"model": "support-chat-api", "messages": [{"role": "user", "content": "hi"}]}
    _until(lambda: _post(gw.url, key, "chat/completions", body).status_code == 200)

    process.send_signal(signal.SIGSTOP)
    timed = []
    for _ in range(8):
        began = time.monotonic()
        answer = _post(gw.url, key, "chat/completions", body)
        timed.append((time.monotonic() - began, answer))
    assert [a.status_code for _, a in timed] == [503] * 8, timed[0][1].text
    assert {a.json()["error"]["code"] for _, a in timed} == {"limits_unavailable"}
    assert all(int(a.headers["retry-after"]) >= 1 for _, a in timed)
    assert max(seconds for seconds, _ in timed) < 1.0  # not Redis's 5 s: its deadline is 50 ms

    with ws.write(admin) as session:
        routes.set_route(
            session,
            admin,
            "api:support-chat-api",
            "production",
            upstream,
            limits_fail="open",
            allow_ungoverned=True,
        )
    _until(lambda: _post(gw.url, key, "chat/completions", body).status_code == 200, 5)
    served = [_post(gw.url, key, "chat/completions", body) for _ in range(3)]
    assert [a.status_code for a in served] == [200] * 3
    ids = {a.headers["x-request-id"] for a in served}

    process.send_signal(signal.SIGCONT)
    time.sleep(2.5)  # the limit store's breaker waits 2 s before it probes again
    _until(lambda: _post(gw.url, key, "chat/completions", body).status_code == 200, 5)
    last = _post(gw.url, key, "chat/completions", body).headers["x-request-id"]

    def logged() -> list:
        found = _traffic(ws)
        return found if found and found[-1].details["request"] == last else []

    events = _until(logged)
    by_id = {e.details["request"]: e.details for e in events}
    assert all(by_id[i]["limit"] == "unchecked" and by_id[i]["status"] == 200 for i in ids)
    assert "limit" not in by_id[last]  # checked again
    refused = [e.details for e in events if e.details["decision"] == "limits_unavailable"]
    assert len(refused) >= 8 and all(r["status"] == 503 for r in refused)
    metrics = httpx.get(f"{gw.admin}/metrics").text
    assert "keel_gateway_limiter_errors_total" in metrics


# --- 9: SIGKILL -----------------------------------------------------------------------------


def test_a_killed_gateway_loses_no_record_of_an_answered_request(sqlite_served, run_gateway, admin):
    """Clients keep a gateway busy; it is killed with SIGKILL. Every request that got an
    answer has exactly one traffic record once the next gateway on the same home starts."""
    ws = sqlite_served.ws
    gw = run_gateway(sqlite_served.settings)
    answered: list[str] = []
    stop = threading.Event()
    body = {"model": "support-chat-api", "messages": [{"role": "user", "content": "hi"}]}

    def client() -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                try:
                    answer = http.post(
                        f"{gw.url}/v1/chat/completions",
                        headers={"Authorization": f"Bearer {sqlite_served.prod_key}"},
                        json=body,
                    )
                except httpx.TransportError:
                    continue  # the gateway died before answering: nothing was released
                if answer.status_code == 200:
                    answered.append(answer.headers["x-request-id"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    gw.popen.send_signal(signal.SIGKILL)
    gw.popen.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join()
    stored_before = {e.details["request"] for e in _traffic(ws)}
    lost = set(answered) - stored_before
    assert len(answered) > 100 and lost  # the kill did catch records not yet stored

    later = run_gateway(sqlite_served.settings)  # recovers the dead one's journal, then serves
    events = _until(lambda: (found := _traffic(ws)) and len(found) >= len(answered) and found)
    ids = [e.details["request"] for e in events]
    assert set(answered) <= set(ids), later.output()
    assert len(ids) == len(set(ids))  # nothing twice
    recovered = [e for e in events if "answered_at" in e.details]
    assert {e.details["request"] for e in recovered} >= lost
    assert all(e.details["status"] == 200 for e in recovered if e.details["request"] in lost)
