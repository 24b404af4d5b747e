"""The first jobs: signing both logs' tails, the daily verify, expiry warnings once per
window, and readiness re-scores; each run through the worker as it runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from keel import audit
from keel.audit import checkpoints
from keel.auth import create_token
from keel.gateway import keys
from keel.readiness import reviews
from keel.worker import runner
from tests.worker.helpers import events


def only(*names: str) -> runner.Plan:
    full = runner.load()
    return runner.Plan(
        [p for p in full.jobs if p.job.name in names],
        [r for r in full.reconcilers if r.name in names],
    )


def test_the_checkpoint_reconciler_signs_both_logs_tails(ws, admin):
    with ws.write(admin) as session:  # the gateway's log, which no write transaction signs
        audit.append(
            session, admin, [audit.Change("gateway.request.handled", "gateway", {})], log="traffic"
        )
        audit.append(session, admin, [audit.Change("tests.thing.done", "workspace", {})])
    (outcome,) = runner.once(ws, only("audit.checkpoint"), datetime.now(UTC))
    assert outcome.result == "ok" and "traffic at 1" in outcome.summary
    with ws.read() as session:
        for log in ("governance", "traffic"):
            assert checkpoints.latest(session, log).size == audit.head(session, log)
    (again,) = runner.once(ws, only("audit.checkpoint"), datetime.now(UTC))
    assert again.summary is None  # nothing left to sign


def test_the_daily_verify_passes_quietly_and_a_tampered_log_fails_with_an_event(ws):
    plan = only("audit.verify")
    now = datetime.now(UTC)
    (outcome,) = runner.once(ws, plan, now)
    assert outcome.result == "ok" and "governance" in outcome.summary
    assert events(ws, "audit.verify.failed") == []
    with ws.engine.begin() as conn:  # someone with the store edits a signed event
        body = conn.execute(
            text("SELECT body FROM audit_events WHERE log = 'governance' AND seq = 1")
        ).scalar()
        changed = bytes(body).replace(b'"embedded"', b'"server!!"')
        conn.execute(
            text("UPDATE audit_events SET body = :b WHERE log = 'governance' AND seq = 1"),
            {"b": changed},
        )
    (failed,) = runner.once(ws, plan, now + timedelta(days=1))
    assert failed.result == "failed" and "governance: FAILED" in failed.error
    (event,) = events(ws, "audit.verify.failed")
    assert event.subject == "workspace" and event.details["log"] == "governance"
    problems = event.details["problems"]
    assert problems and all(isinstance(p, str) and "\n" not in p for p in problems)
    assert "event 1" in problems[0]
    (job_failed,) = events(ws, runner.FAILED)
    assert job_failed.details["job"] == "audit.verify"


def test_api_tokens_near_expiry_are_warned_about_once_per_window(demo_ws, admin):
    with demo_ws.write(admin) as session:
        soon, _ = create_token(session, admin, "dara.kim", "viewer", ttl=timedelta(days=10))
        create_token(session, admin, "chen.wu", "viewer", ttl=timedelta(days=90))  # not yet
        create_token(session, admin, "chen.wu", "viewer")  # never expires
    plan = only("auth.token_expiry")
    now = datetime.now(UTC)
    for hours in range(0, 5):  # hourly runs, one warning
        runner.once(demo_ws, plan, now + timedelta(hours=hours))
    (first,) = events(demo_ws, "auth.token.expiring")
    assert first.subject == "user:default/dara.kim"
    assert first.details == {
        "token": soon.id,
        "expires": soon.expires_at,
        "days_left": 9,
        "window": 30,
    }
    runner.once(demo_ws, plan, now + timedelta(days=4))  # 6 days left: the 7-day window
    runner.once(demo_ws, plan, now + timedelta(days=4, hours=1))
    runner.once(demo_ws, plan, now + timedelta(days=9, hours=12))  # hours left: the last window
    runner.once(demo_ws, plan, now + timedelta(days=11))  # expired: nothing more
    found = events(demo_ws, "auth.token.expiring")
    assert [(e.details["days_left"], e.details["window"]) for e in found] == [
        (9, 30),
        (5, 7),
        (0, 1),
    ]


def test_gateway_keys_near_expiry_are_warned_about_once_per_window(demo_ws, admin):
    with demo_ws.write(admin) as session:
        key, _ = keys.create_key(
            session, admin, "support-widget", ["support-chat-api"], "staging", ttl=timedelta(days=3)
        )
        gone, _ = keys.create_key(
            session, admin, "support-widget", ["support-chat-api"], "staging", ttl=timedelta(days=3)
        )
        keys.revoke_keys(session, admin, key=gone.id)  # a revoked key is no one's worry
    plan = only("gateway.key_expiry")
    now = datetime.now(UTC)
    runner.once(demo_ws, plan, now)
    runner.once(demo_ws, plan, now + timedelta(hours=1))
    (event,) = events(demo_ws, "gateway.key.expiring")
    assert event.subject == "consumer:support-widget"
    assert event.details == {
        "key": key.id,
        "expires_at": key.expires_at,
        "days_left": 2,
        "window": 7,
    }


def test_readiness_is_rescored_and_only_changes_are_recorded(demo_ws, admin):
    plan = only("readiness.rescore")
    now = datetime.now(UTC)
    runner.once(demo_ws, plan, now)
    first = events(demo_ws, "readiness.score.changed")
    assert {e.subject for e in first} >= {"system:default/credit-decisioning"}
    assert all(e.details["before"] is None and e.details["system"] == e.subject for e in first)
    runner.once(demo_ws, plan, now + timedelta(hours=1))
    assert len(events(demo_ws, "readiness.score.changed")) == len(first)  # nothing changed
    card = {e.subject: e.details["after"] for e in first}["system:default/credit-decisioning"]
    reviewer = _reviewer(demo_ws)
    with demo_ws.write(reviewer) as session:
        reviews.review(session, reviewer, "credit-decisioning", "privacy", "fine")
    runner.once(demo_ws, plan, now + timedelta(hours=2))
    (changed,) = events(demo_ws, "readiness.score.changed")[len(first) :]
    assert changed.subject == "system:default/credit-decisioning"
    assert changed.details["before"] == card and changed.details["after"] > card


def _reviewer(ws):
    from keel.catalog.graph import load_system_scope
    from keel.identity import user_actor

    with ws.read() as session:
        graph = load_system_scope(session, "system:default/credit-decisioning")
        who, _ = reviews.reviewers_in(graph, "system:default/credit-decisioning", "privacy")
    return user_actor(who[0], "local")
