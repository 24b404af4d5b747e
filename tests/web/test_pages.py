"""What each page shows, in Debian's Chromium over the demo workspace (issue 15, the web UI):
entities by name, roles in words, one readiness format, readable map labels, a header that
fits a phone, figures beside their thresholds, a model's releases, an API's route and
traffic, the audit log's filters and pages, and the gateway's charts."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import log_in

PHONE = {"width": 375, "height": 740}


def _contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS colours (`rgb(r,g,b)` or `#rrggbb`)."""

    def luminance(colour: str) -> float:
        if colour.startswith("#"):
            rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        else:
            rgb = [int(float(x)) for x in re.findall(r"[\d.]+", colour)[:3]]
        lin = [(c / 255 / 12.92) if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
               for c in rgb]  # fmt: skip
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _record_traffic(demo) -> None:
    """Requests through the real traffic-log writer: allowed, guard-blocked, rate-limited."""
    from keel.gateway.traffic import TrafficLog
    from keel.workspace import open_workspace

    ws = open_workspace(demo.settings)
    try:
        log = TrafficLog(ws)
        decisions = [("allowed", 200, 4.0)] * 6 + [("blocked", 400, 1.0)] * 2
        decisions += [("rate_limited:key-rpm", 429, 0.5)] * 3
        for decision, status, latency in decisions:
            log.record(
                {
                    "endpoint": "api:default/credit-decision-api",
                    "environment": "production",
                    "key": "gk_test",
                    "decision": decision,
                    "status": status,
                    "latency_ms": latency,
                }
            )
        log.record(  # as a route with --allow-ungoverned records what no release backs
            {
                "endpoint": "api:default/credit-decision-api",
                "environment": "production",
                "key": "gk_test",
                "decision": "allowed",
                "status": 200,
                "latency_ms": 2.0,
                "ungoverned": True,
            }
        )
        log.flush()
    finally:
        ws.close()


def test_owners_are_named_and_linked_with_their_ref_on_hover(server, page):
    base, demo = server
    log_in(page, base, demo)
    owner = page.locator("article.system", has_text="Credit decisioning").locator("dd.owner a")
    assert owner.inner_text() == "risk-analytics"  # the group's name, not group:default/…
    assert owner.get_attribute("title") == "group:default/risk-analytics"
    assert owner.get_attribute("href") == "/entities/group/default/risk-analytics"
    assert "group:default/" not in page.locator("main").inner_text()

    page.goto(f"{base}/catalog")
    page.wait_for_selector("#table table")
    table = page.locator("#table table").inner_text()
    assert "Ana Lima" in table  # a user by their display name
    row = page.locator("#table tr", has_text="Closed support tickets")
    missing = row.locator(".ref.unknown")  # an owner that is not in the catalog, marked so
    assert missing.inner_text() == "support-analytics"
    assert "not in the catalog" in missing.get_attribute("title")

    page.goto(f"{base}/entities/model/default/credit-scorer")
    owner_row = page.locator("table.questions tr", has_text="owner")
    assert owner_row.locator("a").get_attribute("title") == "group:default/risk-analytics"
    rollback = page.locator("table.questions tr", has_text="rollback")
    assert rollback.locator("a").inner_text() == "Credit scorecard (logistic regression baseline)"


def test_roles_read_as_words(server, page):
    base, demo = server
    log_in(page, base, demo)
    page.goto(f"{base}/systems/default/credit-decisioning/pod")
    roles = page.locator("table.pod th[scope=row]").all_inner_texts()
    assert roles == ["product owner", "ML engineer", "data steward", "risk lead", "change manager"]
    page.goto(f"{base}/releases/default/credit-scorer@2")
    approvals = page.locator("ul.approvals").inner_text()
    assert "as risk lead" in approvals and "as data steward" in approvals
    assert "riskLead" not in approvals and "Dara Kim" in approvals
    page.goto(f"{base}/releases/default/credit-scorer@1")
    assert (
        "approval risk lead: no risk lead has approved"
        in page.locator("ul.missing-production").inner_text()
    )


def test_readiness_is_one_figure_on_one_scale_everywhere(server, page):
    """The same 0-100 mean, written by one helper: 93.0 and 18.4, never 93 beside 18.4."""
    base, demo = server
    log_in(page, base, demo)
    page.goto(f"{base}/systems/default/credit-decisioning/readiness")
    assert page.locator("#overall").inner_text() == "93.0"
    assert page.locator("#minimum").inner_text() == "60.0"
    assert page.locator("td.score").all_inner_texts() == ["85.0", "100.0", "80.0", "100.0", "100.0"]
    criteria = page.locator("ul.criteria").inner_text()
    assert "readiness 93.0 is at or above the minimum 60.0" in criteria
    page.goto(f"{base}/systems/default/support-assistant/readiness")
    assert re.fullmatch(r"\d{1,2}\.\d", page.locator("#overall").inner_text())


def test_the_whole_catalog_map_labels_are_readable_and_inside(server, page):
    base, demo = server
    log_in(page, base, demo)
    page.goto(f"{base}/catalog")
    page.wait_for_selector("#map.drawn")
    labels = page.evaluate(
        """() => {
          const box = document.getElementById('map');
          const cy = box._cyreg.cy;
          return cy.nodes().map(n => ({
            label: n.data('label'), color: n.style('color'),
            plate: n.style('text-background-opacity') > 0.9 ? n.style('text-background-color') : null,
            fill: n.style('background-color'), valign: n.style('text-valign'),
            box: n.renderedBoundingBox({includeNodes: false, includeLabels: true}),
            width: box.clientWidth, height: box.clientHeight }));
        }"""
    )
    assert len(labels) == 2
    assert {label["label"].split("\n")[0] for label in labels} == {
        "Credit decisioning",
        "Customer-support assistant",
    }
    for label in labels:
        behind = label["plate"] if label["valign"] != "center" else label["fill"]
        assert behind is not None, label  # a label outside its node has its own plate
        assert _contrast(label["color"], behind) >= 4.5, label
        assert _contrast(label["color"], "#ffffff") >= 4.5 or label["plate"] is None
        b = label["box"]
        assert b["x1"] >= 0 and b["y1"] >= 0, label  # not clipped by the canvas
        assert b["x2"] <= label["width"] and b["y2"] <= label["height"], label
    a, b = labels[0]["box"], labels[1]["box"]
    assert a["x2"] <= b["x1"] or b["x2"] <= a["x1"] or a["y2"] <= b["y1"] or b["y2"] <= a["y1"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/catalog",
        "/systems/default/support-assistant",
        "/systems/default/support-assistant/pod",
        "/systems/default/credit-decisioning/readiness",
        "/systems/default/credit-decisioning/releases",
        "/releases/default/credit-scorer@1",
        "/entities/api/default/credit-decision-api",
        "/entities/model/default/credit-scorer",
        "/events",
        "/events/5",
        "/gateway",
    ],
)
def test_a_phone_width_screen_never_scrolls_sideways(server, browser, path):
    base, demo = server
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, base, demo)
    page.goto(f"{base}{path}")
    page.wait_for_load_state("load")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.evaluate("innerWidth"), (path, width)
    header = page.locator("header.top")
    for link in ("Systems", "Catalog", "Audit log", "Gateway", "Log out"):  # all of it visible
        item = header.get_by_role("button" if link == "Log out" else "link", name=link)
        box = item.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    context.close()


def test_release_figures_sit_beside_the_policys_thresholds(server, page):
    base, demo = server
    log_in(page, base, demo)
    page.goto(f"{base}/releases/default/credit-scorer@1")
    table = page.locator("table.figures.gated")
    assert table.locator("thead").inner_text().split() == [
        "Check", "Figure", "Value", "Threshold", "Verdict"
    ]  # fmt: skip
    age = table.locator("tr[data-figure='model.fairness-age.demographic_parity_difference']")
    cells = age.locator("td").all_inner_texts()
    assert cells[2:] == ["0.2127", "≤ 0.1", "fail"]
    assert age.locator("td.bound span").get_attribute("title") == (
        "policy:default/credit-decisioning-release"
    )
    lead = page.locator("h2", has_text="Figures and thresholds").locator(
        "xpath=following-sibling::p[1]"
    )
    assert "Credit decisioning release policy" in lead.inner_text()  # the gate's policy, named
    page.goto(f"{base}/releases/default/credit-scorer@2")
    verdicts = page.locator("table.figures.gated td.verdict").all_inner_texts()
    assert verdicts and set(verdicts) == {"pass"}
    assert page.locator("details.figures-other tr").count() > 5  # the rest, folded away
    assert " = " not in page.locator("table.evidence").inner_text()  # no k=v strings left


def test_a_model_links_its_releases_and_an_api_shows_its_route_and_traffic(server, page):
    base, demo = server
    _record_traffic(demo)
    log_in(page, base, demo)
    page.goto(f"{base}/entities/model/default/credit-scorer")
    releases = page.locator("table.releases")
    assert releases.locator("a", has_text="credit-scorer@2").get_attribute("href") == (
        "/releases/default/credit-scorer@2"
    )
    assert "production" in releases.locator("tr", has_text="credit-scorer@2").inner_text()
    releases.locator("a", has_text="credit-scorer@1").click()
    page.wait_for_url(f"{base}/releases/default/credit-scorer@1")

    page.goto(f"{base}/entities/api/default/credit-decision-api")
    route = page.locator("table.routes tr[data-environment=production]").inner_text()
    for text in ("http://127.0.0.1:8410/v1", "credit-scorer-fair", "600 rpm", "blocks injection"):
        assert text in route
    traffic = page.locator("table.traffic tr[data-environment=production] td").all_inner_texts()
    requests, blocked, refused, errors = map(int, traffic)
    assert requests >= 11 and blocked >= 2 and refused >= 3 and errors == 0
    page.goto(f"{base}/entities/api/default/support-chat-api")
    assert "No requests" in page.locator("table.traffic").inner_text()


def test_the_audit_log_filters_in_the_store_and_pages_back(server, page):
    base, demo = server
    log_in(page, base, demo)
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(f"{base}/events")
    rows = page.locator("table.events tbody tr")
    assert rows.count() == 50  # a page
    seqs = [int(s) for s in page.locator("table.events tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.seq)")]  # fmt: skip
    assert seqs == sorted(seqs, reverse=True)
    page.get_by_role("link", name="older →").click()
    older = [int(s) for s in rows.evaluate_all("rows => rows.map(r => r.dataset.seq)")]
    assert older and max(older) == min(seqs) - 1
    page.get_by_role("link", name="← newest").click()

    page.select_option("select[name=action]", "pipeline.release.approved")
    page.click("form.audit-filters button[type=submit]")
    actions = set(page.locator("table.events tbody td:nth-child(4)").all_inner_texts())
    # three of credit-scorer@2, two of support-assistant-model@1
    assert actions == {"pipeline.release.approved"} and rows.count() == 5
    page.fill("input[name=actor]", "dara.kim")
    page.click("form.audit-filters button[type=submit]")
    assert rows.count() == 1 and "Dara Kim" in rows.first.inner_text()
    subject = rows.first.locator("td:nth-child(5) a")
    assert subject.inner_text() == "credit-scorer@2"
    subject.click()
    page.wait_for_url(f"{base}/releases/default/credit-scorer@2")

    page.goto(f"{base}/events?subject=model:credit-scorer&until=2000-01-01T00:00")
    assert "No events match" in page.locator("table.events").inner_text()
    page.goto(f"{base}/events?subject=model:credit-scorer&since=2000-01-01T00:00")
    subjects = set(page.locator("table.events tbody td:nth-child(5)").all_inner_texts())
    assert subjects == {"Credit scorer"}
    page.locator("table.events tbody tr a").first.click()  # the event's own page
    assert "verified" in page.locator("p.proof").inner_text()


def test_bad_audit_filters_get_one_line_each_and_no_events(server, browser):
    """(Chromium logs a 4xx load on the console, so not the no-errors `page` fixture.)"""
    base, demo = server
    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, demo)
    bad = page.goto(f"{base}/events?since=yesterday&actor=group:x&until=2000-01-01")
    assert bad.status == 422
    problems = page.locator("[role=alert] div").all_inner_texts()
    assert problems == [
        "actor: 'group:x' is not a user",
        "since: 'yesterday' is not a time such as 2026-12-03T17:30 (UTC)",
    ]
    assert page.locator("table.events tbody tr[data-seq]").count() == 0
    assert page.locator("input[name=actor]").input_value() == "group:x"  # kept for fixing
    context.close()


def test_the_gateway_page_charts_its_traffic_accessibly(server, page):
    base, demo = server
    _record_traffic(demo)
    log_in(page, base, demo)
    page.goto(f"{base}/gateway?refresh=0")  # no reload in the middle of the test
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    charts = page.locator("svg.chart[role=img]")
    assert charts.count() == 3
    for i in range(3):
        svg = charts.nth(i)
        title_id, desc_id = svg.get_attribute("aria-labelledby").split()
        assert svg.locator(f"title#{title_id}").count() == 1
        assert "at most" in svg.locator(f"desc#{desc_id}").text_content()
    requests = page.locator("#chart-requests svg g.series.series-0 rect")
    assert requests.count() >= 1  # this minute's bar
    assert re.search(r"\d+ requests", requests.last.locator("title").text_content())
    latency = page.locator("#chart-latency svg g.series")
    assert [latency.nth(i).get_attribute("data-series") for i in range(3)] == ["p50", "p95", "p99"]
    refusals = page.locator("#chart-refusals svg g.series")
    assert refusals.nth(0).locator("rect").count() >= 1  # guard blocks this minute
    assert refusals.nth(1).locator("rect").count() >= 1  # limit refusals this minute
    # colours from the stylesheet, no inline style (the strict CSP)
    assert page.locator("svg.chart [style]").count() == 0
    fill = requests.last.evaluate("e => getComputedStyle(e).fill")
    assert _contrast(fill, "#ffffff") >= 3
    # the text alternative: the same figures as a table
    page.locator("details.chart-data summary").click()
    last = page.locator("table.series tbody tr").last.locator("td").all_inner_texts()
    requests_now, p50, p95, p99, blocked, refused = last
    assert int(requests_now.replace(",", "")) >= 11 and int(blocked) >= 2 and int(refused) >= 3
    assert float(p50) <= float(p95) <= float(p99)
    # governance: which release each route serves, and the ungoverned requests counted
    ungoverned = page.locator("dt", has_text="Ungoverned").locator("xpath=following-sibling::dd[1]")
    assert int(ungoverned.inner_text()) >= 1
    credit = page.locator("table.events tr", has_text="Credit decision API").first
    assert "serves model:default/credit-scorer@2" in credit.inner_text()
    assert "ungoverned)" in credit.inner_text()  # "N (1 ungoverned)" in its Requests column
    chat = page.locator("table.events tr", has_text="Support chat API").first
    assert "serves model:default/support-assistant-model@1" in chat.inner_text()
    csp = page.request.get(f"{base}/gateway").headers["content-security-policy"]
    assert "script-src 'self';" in csp
