"""A person's path through the UI in Debian's Chromium: login link, overview, map, node, pod.

Runs against a real server (uvicorn in a thread) over a freshly built demo workspace.
`make test` installs Chromium; off CI a machine without it skips, on CI it fails.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import fresh_login_code as _fresh_login_code


def test_login_overview_map_node_pod(server, page):
    base, demo = server
    page.goto(f"{base}/")
    assert page.url.endswith("/login")  # no session yet
    page.goto(f"{base}/login/code?c={demo.login_code}")
    page.get_by_role("button", name="Log in").click()  # a GET alone never spends the code
    page.wait_for_url(f"{base}/")
    assert "Ana Lima" in page.locator("header").inner_text()  # the user's display name

    # overview: both systems, the complete one without open questions
    cards = page.locator("article.system")
    assert cards.count() == 2
    credit = page.locator("article.system", has_text="Credit decisioning")
    assert "none" in credit.locator(".findings").inner_text()
    support = page.locator("article.system", has_text="Customer-support assistant")
    assert "rollback" in support.locator(".findings").inner_text()

    # the support system's map: drawn by Cytoscape, coloured by status
    support.locator("h2 a").click()
    page.wait_for_selector("#map.drawn")
    assert int(page.locator("#map").get_attribute("data-nodes")) == 6
    assert page.locator("#map canvas").count() > 0
    assert page.locator("tr.gaps").count() >= 1

    # a node with gaps answers what it can and says what is missing
    page.get_by_role("link", name="Support assistant (retrieval + answer model)").click()
    rows = page.locator("table.questions tr")
    assert rows.count() == 4
    rollback = page.locator("table.questions tr", has_text="rollback")
    assert "no rollback path" in rollback.inner_text()
    assert page.locator("table.questions tr.ok", has_text="owner").count() == 1
    page.locator(".columns").get_by_role(
        "link", name="Retrieval index over the knowledge base"
    ).click()
    assert "keel.dev/title-hit-rate" in page.locator("details pre").text_content()

    # the pod page shows the gaps a person must fix
    page.goto(f"{base}/systems/default/support-assistant/pod")
    assert "risk lead: nobody named" in page.locator("ul.gaps").inner_text()
    assert "Fatima Haddad" in page.locator("table.pod").inner_text()


def test_catalog_search_and_event_history(server, browser):
    base, demo = server
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/login")
    page.fill("#token", demo.api_token)
    page.click("button[type=submit]")
    page.goto(f"{base}/catalog")
    page.wait_for_selector("#table table")
    page.fill("input[name=q]", "logistic regression")
    expect(page.locator("#table tbody tr")).to_have_count(1)
    page.locator("#table a", has_text="Credit scorecard").click()
    page.get_by_role("link", name="Event history").click()
    history = page.locator("table.events").inner_text()
    assert "catalog.entity.created" in history and "catalog.entity.updated" in history
    assert "metadata.annotations" in history  # the training run recorded its artifact
    page.locator("table.events a").first.click()  # the newest event, with its inclusion proof
    assert "verified" in page.locator("p.proof").inner_text()
    assert page.locator("dl.hashes code").count() >= 2
    context.close()
    assert errors == []


def test_a_used_login_link_does_not_work_twice(server, browser):
    base, demo = server
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login/code?c={demo.login_code}")  # spent by the first test already
    page.get_by_role("button", name="Log in").click()
    assert "already used" in page.locator(".error").inner_text()
    context.close()


def test_releases_evidence_approvals_and_the_signed_bundle(server, page):
    base, demo = server
    page.goto(f"{base}/login/code?c={_fresh_login_code(demo)}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/systems/default/credit-decisioning")
    page.get_by_role("link", name="Releases").click()
    placed = page.locator("table.placed").inner_text()
    assert "production" in placed and "credit-scorer@2" in placed
    assert page.locator("table.runs tr.ok").count() == 2  # both pipeline runs completed

    # the refused first version says exactly why
    page.get_by_role("link", name="credit-scorer@1").click()
    missing = page.locator("ul.missing-staging").inner_text()
    assert "fairness-age" in missing and "above the maximum 0.1" in missing
    assert page.locator("table.evidence tr.gaps").count() == 3

    # the production version: everything passed, approved by three people, bundle signed
    page.goto(f"{base}/releases/default/credit-scorer@2")
    assert page.locator("text=serves production").count() == 1
    assert page.locator("table.evidence tr.gaps").count() == 0
    assert page.locator("ul.approvals li").count() == 3
    with page.expect_download() as download:
        page.get_by_role("link", name="signed attestations (.intoto.jsonl)").click()
    assert download.value.suggested_filename == "credit-scorer@2.intoto.jsonl"
    missing = page.request.get(f"{base}/releases/default/credit-scorer@9")
    assert missing.status == 404 and "no release" in missing.text()


def test_readiness_scorecard(server, browser):
    base, demo = server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("#token", demo.api_token)
    page.click("button[type=submit]")
    page.goto(f"{base}/systems/default/credit-decisioning")
    page.get_by_role("link", name="Readiness").click()
    page.wait_for_url(f"{base}/systems/default/credit-decisioning/readiness")
    bars = page.get_by_role("meter")
    expect(bars).to_have_count(5)
    scores = {
        bars.nth(i).get_attribute("aria-label"): int(bars.nth(i).get_attribute("aria-valuenow"))
        for i in range(5)
    }
    assert scores == {
        "Data foundations": 85,  # the demo's pipeline passed its quality check
        "Ownership": 100,
        "Infrastructure": 80,  # staging and production both serve credit-scorer@2
        "Risk & compliance": 100,  # the named reviewers cleared it
        "Change management": 100,
    }
    width = page.locator("tr[data-dimension=data] .bar span").evaluate(
        "e => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width"
    )
    assert abs(width - 0.85) < 0.01  # the bar is drawn at its score
    assert page.locator("#overall").inner_text() == "93.0"  # (85 + 100 + 80 + 100 + 100) / 5
    findings = page.locator("table.findings").inner_text()
    assert "drift monitoring: not available yet" in findings
    assert "stage" in page.locator("p.lead").first.inner_text()

    page.goto(f"{base}/systems/default/support-assistant/readiness")
    assert float(page.locator("#overall").inner_text()) < 64
    assert "risk lead: nobody named" in page.locator("ul.criteria").inner_text()
    context.close()
    assert errors == [], errors


def test_forbidden_and_not_found_pages_keep_the_navigation(server, browser):
    """A viewer on the admins' gateway page: 403, titled Forbidden, with the navigation bar;
    an unknown node: 404, titled Not found, the same page. (Chromium logs each 4xx load on
    the console, so this test does not use the `page` fixture's no-errors check.)"""
    base, demo = server
    context = browser.new_context()
    page = context.new_page()
    scripts: list[str] = []
    page.on("pageerror", lambda e: scripts.append(str(e)))
    page.goto(f"{base}/login/code?c={_fresh_login_code(demo)}")  # a viewer's login link
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    answer = page.goto(f"{base}/gateway")
    assert answer.status == 403
    assert page.title() == "Forbidden · Keel"
    assert page.locator("h1").inner_text() == "Forbidden"
    assert "for admins" in page.locator("main").inner_text()
    assert page.locator("header nav a", has_text="Catalog").count() == 1
    assert "viewer" in page.locator("header .who").inner_text()
    missing = page.goto(f"{base}/entities/model/default/nothing-here")
    assert missing.status == 404 and page.title() == "Not found · Keel"
    assert page.locator("header nav").count() == 1
    nope = page.goto(f"{base}/nope")  # no route at all: the same page, not a JSON problem
    assert nope.status == 404 and page.title() == "Not found · Keel"
    assert nope.headers["content-type"].startswith("text/html")
    assert page.locator("header nav a", has_text="Catalog").count() == 1
    page.locator("header nav a", has_text="Systems").click()  # the bar works from there
    page.wait_for_url(f"{base}/")
    context.close()
    assert scripts == []


def test_a_login_form_posted_from_our_page_logs_in(server, browser):
    """The real browser's own form post names our origin (Referrer-Policy: same-origin), so
    refusing null and missing origins does not lock people out."""
    base, demo = server
    context = browser.new_context()
    page = context.new_page()
    seen: list[str | None] = []
    page.on(
        "request",
        lambda r: seen.append(r.headers.get("origin")) if r.method == "POST" else None,
    )
    page.goto(f"{base}/login")
    page.fill("#token", demo.api_token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert seen == [base]
    context.close()
