"""Decisions in the browser (Debian's Chromium): request approval, approve, reject and promote
on the release page, under the rules of the CLI; forged, cross-site, stale and viewer posts
record nothing.

A demo workspace of this module's own (its decisions must not leak into the other pages'
tests), with a third credit-scorer release from the fair pipeline run, so a promotion can go.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from keel.api import create_app
from keel.audit import list_events
from keel.demo import build_demo
from keel.demo.build import ADMIN, DATA_STEWARD, PEER, RISK_LEAD, examples_dir
from keel.workspace import open_workspace
from tests.servers import serving
from tests.web.conftest import log_in

UNFAIR = "/releases/default/credit-scorer@1"
FAIR = "/releases/default/credit-scorer@3"


@pytest.fixture(scope="module")
def decisions_server(tmp_path_factory):
    from keel.pipeline.sdk import run_file

    demo = build_demo(tmp_path_factory.mktemp("decide") / "demo", progress=lambda _: None)
    out = demo.home / "artifacts"
    run_file(
        examples_dir() / "demo" / "pipelines" / "credit_scorer.py",
        ["--variant", "fair", "--out", str(out), "--baseline",
         str(out / "credit-scorer-all-features.skops")],
        home=demo.home,
        user=ADMIN,
    )  # fmt: skip
    with serving(create_app(demo.settings)) as url:
        yield url, demo


@pytest.fixture
def as_user(browser, decisions_server):
    """`as_user(user, role)`: a fresh browser context logged in as that demo user."""
    base, demo = decisions_server
    contexts = []

    def open_as(user: str, role: str = "editor"):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        log_in(page, base, demo, role, user)
        return page

    yield open_as
    for context in contexts:
        context.close()


def _events(demo, subject: str, action: str | None = None):
    ws = open_workspace(demo.settings)
    try:
        with ws.read() as session:
            return list_events(session, subject=subject, action=action)
    finally:
        ws.close()


def _form_fields(page, form_class: str) -> dict[str, str]:
    form = page.locator(f"section.decide form.{form_class}")
    return {
        name: form.locator(f"input[name={name}]").get_attribute("value")
        for name in ("csrf", "state", "action")
    }


def test_one_page_answers_the_risk_leads_question(decisions_server, as_user):
    """A system's releases page: what serves where, who approved it, each gated figure
    beside its threshold, and what each environment still lacks for the newest release."""
    page = as_user(RISK_LEAD, "viewer")
    page.goto(f"{decisions_server[0]}/systems/default/credit-decisioning")
    page.locator("p.lead a", has_text="Releases").click()
    production = page.locator("article.governed[data-environment=production]")
    expect(production).to_have_count(1)
    assert "credit-scorer@2" in production.locator("h3").inner_text()
    approved = production.locator("p", has_text="Approved by").inner_text()
    for person, role in (("Ivo Costa", "ML engineer"), ("Dara Kim", "risk lead")):
        assert f"{person} as {role}" in approved
    assert "local identity, unproven" in approved  # the demo approves with --as
    dpd = production.locator("tr[data-figure='model.fairness-sex.demographic_parity_difference']")
    assert dpd.locator("td.bound").inner_text() == "≤ 0.1"
    assert dpd.locator("td.verdict").inner_text() == "pass"
    assert float(dpd.locator("td.value").inner_text()) <= 0.1
    lacking = page.locator("article.lacks[data-release='model:default/credit-scorer@3']")
    expect(lacking).to_have_count(1)
    staging = lacking.locator("ul.missing-staging").inner_text()
    assert "approval" in staging and "ML engineer" in staging
    production_gaps = lacking.locator("ul.missing-production").inner_text()
    assert "has not been in staging" in production_gaps


def test_request_reject_approve_and_a_refused_promote(decisions_server, as_user):
    base, demo = decisions_server
    subject = "model:default/credit-scorer@1"

    # the author asks for approval; as the author they may not approve it
    author = as_user(ADMIN, "admin")
    author.goto(base + UNFAIR)
    author.locator("form.request input[name=note]").fill("please look at the fairness checks")
    author.locator("form.request").get_by_role("button", name="Request approval").click()
    expect(author.locator(".notice.ok")).to_have_text("Approval requested.")
    expect(author.locator("p.requested")).to_contain_text("risk lead")
    author.locator("form.approve select[name=role]").select_option("mlEngineer")
    author.locator("form.approve").get_by_role("button", name="Approve").click()
    expect(author.locator(".notice.gaps")).to_contain_text("may not approve it")
    assert _events(demo, subject, "pipeline.release.approved") == []

    # the risk lead rejects it with a reason: shown, and every environment lists it
    lead = as_user(RISK_LEAD)
    lead.goto(base + UNFAIR)
    lead.locator("form.reject input[name=reason]").fill("it scores applicants on sex and age")
    lead.locator("form.reject").get_by_role("button", name="Reject").click()
    expect(lead.locator(".notice.ok")).to_have_text("Rejected.")
    expect(lead.locator("ul.rejections")).to_contain_text("it scores applicants on sex and age")
    expect(lead.locator("ul.missing-staging")).to_contain_text("rejected credit-scorer@1")
    (rejected,) = _events(demo, subject, "pipeline.release.rejected")
    assert rejected.actor == {"id": RISK_LEAD, "via": "token"}  # the web session's identity

    # an approval in the browser is a proven identity: no "unproven" mark on it
    lead.locator("form.approve").get_by_role("button", name="Approve").click()
    expect(lead.locator(".notice.ok")).to_have_text("Approved.")
    approvals = lead.locator("ul.approvals li")
    expect(approvals).to_have_count(1)
    expect(approvals).not_to_contain_text("unproven")

    # a promotion the policy refuses shows the same itemised list as `keel release promote`
    lead.goto(base + FAIR)
    lead.locator("form.promote select[name=to]").select_option("production")
    lead.locator("form.promote").get_by_role("button", name="Promote").click()
    expect(lead.locator(".notice.gaps .error")).to_contain_text("cannot go to production")
    items = lead.locator("ul.refusal li")
    expect(items.first).to_contain_text("has not been in staging")
    expect(lead.locator("ul.refusal")).to_contain_text("no risk lead has approved")
    (refused,) = _events(demo, "model:default/credit-scorer@3", "pipeline.promotion.refused")
    assert refused.actor["id"] == RISK_LEAD
    assert items.count() == len(refused.details["missing"])

    # a promotion the service refuses outright (superseded) says why in one line
    lead.goto(base + UNFAIR)
    lead.locator("form.promote select[name=to]").select_option("staging")
    lead.locator("form.promote").get_by_role("button", name="Promote").click()
    expect(lead.locator(".notice.gaps .error")).to_have_text(
        "credit-scorer@1 is superseded: credit-scorer@2 serves staging"
    )


def test_a_fair_release_is_approved_and_promoted(decisions_server, as_user):
    base, demo = decisions_server
    peer = as_user(PEER)
    peer.goto(base + FAIR)
    expect(peer.locator("ul.missing-staging")).to_have_text(
        re.compile(r"^approval ML engineer: no ML engineer has approved")
    )
    peer.locator("form.approve input[name=comment]").fill("reviewed the run's evidence")
    peer.locator("form.approve").get_by_role("button", name="Approve").click()
    expect(peer.locator(".notice.ok")).to_have_text("Approved.")
    peer.locator("form.promote select[name=to]").select_option("staging")
    peer.locator("form.promote").get_by_role("button", name="Promote").click()
    expect(peer.locator(".notice.ok")).to_have_text("Promoted.")
    expect(peer.locator(".lead .tag.ok")).to_have_text("serves staging")
    (promoted,) = _events(demo, "model:default/credit-scorer@3", "pipeline.release.promoted")
    assert promoted.actor == {"id": PEER, "via": "token"}
    assert promoted.details["environment"] == "staging"


def test_a_double_post_records_one_decision(decisions_server, as_user):
    base, demo = decisions_server
    lead = as_user(RISK_LEAD)
    lead.goto(base + FAIR)
    fields = _form_fields(lead, "approve")
    post = {**fields, "role": "riskLead", "comment": "twice"}
    first = lead.request.post(base + FAIR + "/decide", form=post, headers={"Origin": base})
    assert first.ok  # followed the redirect to the page
    second = lead.request.post(base + FAIR + "/decide", form=post, headers={"Origin": base})
    assert second.status == 409 and "out of date" in second.text()
    approved = _events(demo, "model:default/credit-scorer@3", "pipeline.release.approved")
    assert [e.actor["id"] for e in approved].count(RISK_LEAD) == 1


@pytest.mark.parametrize(
    ("user", "action", "extra", "recorded"),
    [
        (ADMIN, "request", {"note": "at once"}, "pipeline.approval.requested"),
        # refused: @2 serves production, so @1 is superseded (an error path, not a Decision)
        (PEER, "promote", {"to": "production"}, "pipeline.promotion.refused"),
    ],
)
def test_simultaneous_posts_of_one_form_record_one_decision(
    decisions_server, as_user, user, action, extra, recorded
):
    """Eight posts of the same form at once (a hammered button, a replaying proxy): the state
    is checked under the writer lock, so exactly one is recorded, refusals included."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    base, demo = decisions_server
    page = as_user(user)
    page.goto(base + UNFAIR)
    form = {**_form_fields(page, action), **extra}
    cookies = {c["name"]: c["value"] for c in page.context.cookies(base)}
    before = len(_events(demo, "model:default/credit-scorer@1", recorded))

    def post(_: int) -> int:
        with httpx.Client(cookies=cookies, headers={"Origin": base}, timeout=30) as http:
            return http.post(base + UNFAIR + "/decide", data=form).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(8)))
    assert set(statuses) <= {303, 409} and statuses.count(409) >= 7, statuses
    assert len(_events(demo, "model:default/credit-scorer@1", recorded)) == before + 1


def test_someone_elses_refusal_leaves_my_open_form_current(decisions_server, as_user):
    """A refusal decides nothing: the author's refused approval does not make the data
    steward's open page stale (or anyone could keep everyone's forms out of date)."""
    base, demo = decisions_server
    steward = as_user(DATA_STEWARD)
    steward.goto(base + UNFAIR)
    author = as_user(ADMIN)
    author.goto(base + UNFAIR)
    refused = author.request.post(
        base + UNFAIR + "/decide",
        form={**_form_fields(author, "approve"), "role": "mlEngineer", "comment": "mine"},
        headers={"Origin": base},
    )
    assert refused.status == 403
    assert _events(demo, "model:default/credit-scorer@1", "pipeline.approval.refused")
    steward.locator("section.decide form.approve select[name=role]").select_option("dataSteward")
    steward.locator("section.decide form.approve button").click()
    expect(steward.locator(".notice.ok")).to_have_text("Approved.")


def test_forged_cross_site_and_viewer_posts_record_nothing(decisions_server, as_user):
    base, demo = decisions_server
    subject = "model:default/credit-scorer@3"
    lead = as_user(RISK_LEAD)
    lead.goto(base + FAIR)
    fields = _form_fields(lead, "reject")
    before = len(_events(demo, subject))
    url = base + FAIR + "/decide"
    attempts = [
        ({**fields, "csrf": ""}, {"Origin": base}),  # no token
        ({**fields, "csrf": "0" * 64}, {"Origin": base}),  # a forged token
        (fields, {"Origin": "http://evil.example"}),  # another site
        (fields, {"Origin": "null"}),
    ]
    for form, headers in attempts:
        answer = lead.request.post(url, form={**form, "role": "riskLead", "reason": "x"},
                                   headers=headers)  # fmt: skip
        assert answer.status == 403, (headers, answer.status)
    assert len(_events(demo, subject)) == before

    # bad input: a release that does not exist, an unknown action, a role not held
    headers = {"Origin": base}
    missing = lead.request.post(
        base + "/releases/default/credit-scorer@99/decide",
        form={**fields, "role": "riskLead", "reason": "x"},
        headers=headers,
    )
    assert missing.status == 404 and "credit-scorer@99" in missing.text()
    odd = lead.request.post(url, form={**fields, "action": "delete"}, headers=headers)
    assert odd.status == 422 and "delete" in odd.text()
    unheld = lead.request.post(
        url, form={**fields, "role": "dataSteward", "reason": "x"}, headers=headers
    )
    assert unheld.status == 403 and "dataSteward" in unheld.text()
    assert len(_events(demo, subject, "pipeline.release.rejected")) == 0
    (refused,) = _events(demo, subject, "pipeline.rejection.refused")  # refusals are logged
    assert refused.actor["id"] == "user:default/dara.kim" and refused.actor["via"] == "token"
    before = len(_events(demo, subject))

    # a viewer session holding the pod role sees why it cannot decide, and a post is refused
    viewer = as_user(RISK_LEAD, "viewer")
    viewer.goto(base + FAIR)
    expect(viewer.locator("section.decide")).to_contain_text("deciding needs editor")
    expect(viewer.locator("section.decide form")).to_have_count(0)
    answer = viewer.request.post(
        url,
        form={**fields, "csrf": _viewer_token(viewer, base), "role": "riskLead", "reason": "x"},
        headers={"Origin": base},
    )
    assert answer.status == 403 and "editor role" in answer.text()
    assert len(_events(demo, subject)) == before


def _viewer_token(page, base: str) -> str:
    """The viewer session's own valid form token (its page shows no decision form), computed
    from its session cookie as the server does: what a viewer who crafted a post would send."""
    import hashlib
    import hmac

    (cookie,) = [c for c in page.context.cookies(base) if c["name"] == "keel_session"]
    return hmac.new(cookie["value"].encode(), b"keel-web-form", hashlib.sha256).hexdigest()
