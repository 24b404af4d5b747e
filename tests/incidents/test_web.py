"""The incidents' pages in Debian's Chromium: the list by severity and one incident with its
timeline, over a real server (uvicorn in a thread) and a workspace the reconciler filled."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.api import create_app
from keel.auth import create_token
from keel.catalog import service as catalog
from keel.identity import SYSTEM, user_actor
from keel.incidents import detect, service
from tests.conftest import EXAMPLES, ON_CI
from tests.incidents.test_detect import _anomaly, _requests
from tests.servers import serving

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ANA = user_actor("ana.lima", "local")
HOSTILE = "Scores drift <script>document.title='owned'</script>"  # a title is text, never markup


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if ON_CI:
            pytest.fail("Chromium must be installed on CI (make test installs it)")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


def test_the_list_and_an_incident_with_its_timeline(sqlite_ws, browser):
    with sqlite_ws.write(ANA) as session:
        catalog.apply(session, ANA, catalog.load([EXAMPLES / "demo" / "catalog"]).entities)
        _, token = create_token(session, ANA, "ana.lima", "viewer")
        service.open_incident(
            session, ANA, systems=["credit-decisioning"], severity=3, title=HOSTILE
        )
        service.add_action(
            session, ANA, "INC-1", title="Retrain on Q4", owner="ana.lima", tag="retrain"
        )
        service.move(session, ANA, "INC-1", "resolved", note="retrained")
    _requests(sqlite_ws, 3, decision="allowed", status=200)
    _requests(sqlite_ws, 11, decision="upstream_error", status=502)
    _anomaly(sqlite_ws, "error_spike", errors=11, requests=14)
    with sqlite_ws.write(SYSTEM) as session:
        assert detect.detect(session, SYSTEM).opened == ["INC-2"]
    sqlite_ws.seal()  # the event page shows a proof only for events a checkpoint covers

    with serving(create_app(ws=sqlite_ws)) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/incidents")
        assert page.url.endswith("/login")  # no session yet
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.get_by_role("link", name="Incidents").click()
        page.wait_for_url(f"{base}/incidents")
        open_rows = page.locator("table.open tr.incident")
        assert open_rows.count() == 1
        assert "Error spike on api:default/support-chat-api" in open_rows.inner_text()
        assert "sev 2" in open_rows.inner_text()
        assert "Scores drift" in page.locator("table.resolved").inner_text()
        assert "sev 2: 1" in page.locator("p.lead").inner_text()

        page.locator("table.open a", has_text="INC-2").click()
        page.wait_for_url(f"{base}/incidents/INC-2")
        assert (
            "INC-2: Error spike on api:default/support-chat-api" in page.locator("h1").inner_text()
        )
        assert (
            "gateway.error_spike:api:default/support-chat-api"
            in page.locator("p.summary").inner_text()
        )
        minute = page.locator("table.timeline tr.minute")
        assert minute.count() == 1  # 14 requests, one entry
        assert "14 requests, 11 errors, 0 blocked" in minute.inner_text()
        assert page.locator("table.timeline tr.anomaly").count() == 1
        page.locator("table.timeline a", has_text="incidents.incident.opened").click()
        assert "verified" in page.locator("p.proof").inner_text()  # the event page, with its proof

        page.goto(f"{base}/incidents/INC-1")
        assert page.locator("h1").inner_text() == f"INC-1: {HOSTILE}"
        assert page.title() != "owned" and page.locator("main script").count() == 0
        assert "☑" not in page.locator("ul.actions").inner_text()
        assert "Retrain on Q4" in page.locator("ul.actions").inner_text()
        assert "retrained" in page.locator("ul.notes").inner_text()
        assert errors == [], errors
        missing = page.goto(f"{base}/incidents/INC-9")
        assert missing.status == 404
        assert "no incident INC-9" in page.locator("main").inner_text()
        assert page.locator("header nav a", has_text="Incidents").count() == 1
        context.close()
