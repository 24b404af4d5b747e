"""The demo routes its two systems through the gateway: the credit model that production
serves (credit-scorer@2, the fair one) and the support assistant (its retrieval index,
support-assistant-model@1), with a key for its app; neither route serves ungoverned."""

from __future__ import annotations

import time

import httpx

from keel import audit
from keel.gateway import routes
from keel.identity import user_actor
from keel.workspace import open_workspace
from tests.gateway.conftest import CREDIT_ROW, Process, free_port, start


def test_the_demo_through_the_gateway(tmp_path, run_gateway):
    from keel.demo import build_demo

    demo = build_demo(tmp_path / "demo", progress=lambda _: None)
    assert demo.gateway_key.startswith("keel_gw_")
    port = free_port()
    server = Process(
        start(
            ["--home", str(demo.home), "serve-model", "--port", str(port)],
            {"KEEL_DATABASE_URL": ""},
            tmp_path / "serve-model.log",
            f"http://127.0.0.1:{port}/v1/models",
        ),
        f"http://127.0.0.1:{port}/v1",
        tmp_path / "serve-model.log",
    )
    ws = open_workspace(demo.settings)
    try:
        admin = user_actor("user:default/ana.lima", "local")
        with ws.write(admin) as session:  # the demo's routes, moved to this test's port
            for route in routes.list_routes(session):
                routes.set_route(
                    session,
                    admin,
                    route.endpoint,
                    route.environment,
                    server.url,
                    model=route.model,
                    rpm=route.rpm,
                    tpm=route.tpm,
                )
        gw = run_gateway(demo.settings)
        key = {"Authorization": f"Bearer {demo.gateway_key}"}
        scored = httpx.post(
            f"{gw.url}/v1/predict/credit-decision-api", headers=key, json={"rows": [CREDIT_ROW]}
        )
        assert scored.status_code == 200, scored.text
        assert scored.json()["model"] == "credit-scorer-fair"
        chat = httpx.post(
            f"{gw.url}/v1/chat/completions",
            headers=key,
            json={
                "model": "support-chat-api",
                "messages": [{"role": "user", "content": "lost card"}],
            },
        )
        assert chat.status_code == 200 and "card" in chat.json()["choices"][0]["message"]["content"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with ws.read() as session:
                events = audit.list_events(session, log="traffic")
            if len(events) >= 2:
                break
            time.sleep(0.1)
        releases = {e.details["endpoint"]: e.details["release"] for e in events}
        assert releases["api:default/credit-decision-api"] == "model:default/credit-scorer@2"
        # the support assistant's traffic is governed too: its index is a promoted release
        assert releases["api:default/support-chat-api"] == (
            "model:default/support-assistant-model@1"
        )
        assert not any(e.details.get("ungoverned") for e in events)
    finally:
        ws.close()
        server.stop()
