"""Webhooks against a real HTTP receiver: signed as Standard Webhooks, retried under one
`webhook-id`, dead-lettered once, each attempt a row."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from keel import audit
from keel.identity import SYSTEM
from keel.notifications import Policy, deliveries, service
from keel.notifications.deliver import delivery_id, run_pass
from keel.worker import runner
from keel.worker.tables import JobStateRow
from tests.notifications.conftest import SECRET, deliver, emit, subscribe
from tests.servers import free_port

LATER = timedelta(hours=2)  # past any back-off (capped at one hour)


@pytest.fixture
def hook_secret(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    return "env:HOOK_SECRET"


def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(ws, admin, receiver, hook_secret):
    sub = subscribe(ws, admin, event="incident", webhook=receiver.url, secret_ref=hook_secret)
    event = emit(ws, admin, "incidents.incident.opened", "INC-1", severity=1, title="down")
    done = deliver(ws)
    assert (done.fanned, done.delivered) == (1, 1)
    (got,) = receiver.received
    body = Webhook(SECRET).verify(got.body, got.headers)  # raises unless the signature holds
    assert body["type"] == "incidents.incident.opened"
    assert body["data"]["seq"] == event.seq and body["data"]["details"]["title"] == "down"
    assert body["links"]["event"].endswith(f"/events/{event.seq}")
    assert got.headers["webhook-id"] == delivery_id(ws.name, sub.id, event.seq)
    with pytest.raises(WebhookVerificationError):  # a body changed on the way fails
        Webhook(SECRET).verify(got.body.replace(b"down", b"fine"), got.headers)
    with pytest.raises(WebhookVerificationError):  # and so does another key
        Webhook("whsec_" + "QUFB" * 8).verify(got.body, got.headers)
    with ws.read() as session:
        (row,) = deliveries(session)
        assert (row.status, row.attempts) == ("delivered", 1)
        assert service.attempts(session, row.id)[0]["status"] == 200
    assert deliver(ws).attempted == 0  # delivered is done


def test_503_twice_then_200_is_one_delivery_under_one_webhook_id(ws, admin, receiver, hook_secret):
    subscribe(ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    emit(ws, admin, "worker.job.failed", "job:audit.verify", error="boom")
    receiver.script = [503, 503]
    start = datetime.now(UTC)
    assert deliver(ws, now=start).retrying == 1
    assert deliver(ws, now=start).attempted == 0  # not due yet: it backs off
    assert deliver(ws, now=start + LATER).retrying == 1
    assert deliver(ws, now=start + 2 * LATER).delivered == 1
    assert len(receiver.ids()) == 3 and len(set(receiver.ids())) == 1
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1  # the same bytes on every attempt; only the signature is new
    for got in receiver.received:
        Webhook(SECRET).verify(got.body, got.headers)
    with ws.read() as session:
        (row,) = deliveries(session)
        tries = service.attempts(session, row.id)
        failed = audit.list_events(session, action="notifications.delivery.failed")
    assert [t["outcome"] for t in tries] == ["retry", "retry", "delivered"]
    assert [t["status"] for t in tries] == [503, 503, 200]
    assert row.status == "delivered" and failed == []  # attempts are rows, not events


def test_the_last_attempt_dead_letters_once_and_is_listed(
    ws, admin, receiver, hook_secret, monkeypatch, capsys
):
    sub = subscribe(ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    event = emit(ws, admin, "worker.job.failed", "job:audit.verify", error="boom")
    receiver.then = 500
    policy = Policy(attempts=3)
    start = datetime.now(UTC)
    for n in range(5):
        deliver(ws, now=start + n * LATER, policy=policy)
    assert len(receiver.received) == 3  # never more than the policy's attempts
    with ws.read() as session:
        (row,) = deliveries(session, status="dead")
        (failed,) = audit.list_events(session, action="notifications.delivery.failed")
    assert row.attempts == 3 and "500" in row.last_error
    assert failed.subject == sub.id
    assert failed.details["event"] == event.seq and failed.details["delivery"] == row.id

    from keel.cli.main import run

    monkeypatch.setenv("KEEL_HOME", str(ws.settings.home))
    monkeypatch.setenv("KEEL_DATABASE_URL", ws.settings.database_url)
    assert run(["notify", "deliveries", "--status", "dead", "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == row.id and listed["status"] == "dead"
    assert run(["notify", "deliveries", "--status", "delivered", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_4xx_is_final_but_408_and_429_are_retried(sqlite_ws, admin, receiver, hook_secret):
    subscribe(sqlite_ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    for name in ("a", "b", "c"):
        emit(sqlite_ws, admin, "worker.job.failed", f"job:{name}")
    receiver.script = [404, 408, 429]
    done = deliver(sqlite_ws)
    assert (done.attempted, done.dead, done.retrying) == (3, 1, 2)
    with sqlite_ws.read() as session:
        (dead,) = deliveries(session, status="dead")
    assert dead.subject == "job:a" and "404" in dead.last_error


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed_and_is_final(
    sqlite_ws, admin, receiver, internal, hook_secret, status
):
    subscribe(sqlite_ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    emit(sqlite_ws, admin, "worker.job.failed", "job:a")
    receiver.script = [(status, {"location": internal.url})]
    assert deliver(sqlite_ws).dead == 1
    assert internal.received == [] and len(receiver.received) == 1
    with sqlite_ws.read() as session:
        (row,) = deliveries(session)
    assert row.last_error == f"the receiver answered {status} (redirects are not followed)"


def test_a_refused_connection_is_recorded_and_retried(ws, admin, hook_secret, receiver):
    nobody = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    subscribe(ws, admin, event="job-failed", webhook=nobody, secret_ref=hook_secret)
    emit(ws, admin, "worker.job.failed", "job:a")
    assert deliver(ws).retrying == 1
    with ws.read() as session:
        (row,) = deliveries(session)
        (attempt,) = service.attempts(session, row.id)
    assert row.status == "pending" and attempt["outcome"] == "retry"
    assert "cannot connect" in attempt["error"] and attempt["status"] is None


def test_a_receiver_that_does_not_answer_in_time_is_retried(
    sqlite_ws, admin, receiver, hook_secret
):
    subscribe(sqlite_ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    emit(sqlite_ws, admin, "worker.job.failed", "job:a")
    receiver.script = [3.0]
    start = datetime.now(UTC)
    assert deliver(sqlite_ws, now=start, policy=Policy(timeout=0.5)).retrying == 1
    assert deliver(sqlite_ws, now=start + LATER).delivered == 1
    with sqlite_ws.read() as session:
        (row,) = deliveries(session)
        errors = [a["error"] for a in service.attempts(session, row.id)]
    assert errors == ["no answer within 0.5 s", None]
    assert len(set(receiver.ids())) == 1


def test_a_pass_starts_no_attempt_after_its_budget(sqlite_ws, admin, receiver, hook_secret):
    subscribe(sqlite_ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    for name in ("a", "b", "c"):
        emit(sqlite_ws, admin, "worker.job.failed", f"job:{name}")
    receiver.script = [1.0, 1.0, 1.0]  # each answer takes a second
    assert deliver(sqlite_ws, policy=Policy(budget=1.5)).delivered == 2
    assert deliver(sqlite_ws).delivered == 1  # the third stayed due


def test_a_missing_secret_is_a_final_failure_that_names_the_reference(sqlite_ws, admin, receiver):
    subscribe(
        sqlite_ws, admin, event="job-failed", webhook=receiver.url, secret_ref="env:NOT_SET_HERE"
    )
    emit(sqlite_ws, admin, "worker.job.failed", "job:a")
    assert deliver(sqlite_ws).dead == 1
    assert receiver.received == []
    with sqlite_ws.read() as session:
        (row,) = deliveries(session)
    assert "NOT_SET_HERE is not set" in row.last_error


def test_subject_filters_and_later_subscriptions(ws, admin, receiver, hook_secret):
    emit(ws, admin, "incidents.incident.opened", "INC-0")  # before any subscription
    subscribe(
        ws,
        admin,
        event="incidents.incident.*",
        subject="system:credit*",
        webhook=receiver.url,
        secret_ref=hook_secret,
    )
    emit(ws, admin, "incidents.incident.opened", "system:default/support-bot")
    emit(ws, admin, "incidents.incident.resolved", "system:default/credit-decisioning")
    emit(ws, admin, "pipeline.promotion.refused", "system:default/credit-decisioning")
    assert deliver(ws).delivered == 0  # the prefix is as events spell subjects
    subscribe(
        ws,
        admin,
        event="incident",
        subject="system:default/credit*",
        webhook=receiver.url,
        secret_ref=hook_secret,
    )
    emit(ws, admin, "incidents.incident.noted", "system:default/credit-decisioning")
    assert deliver(ws).delivered == 1
    (got,) = receiver.received
    assert json.loads(got.body)["type"] == "incidents.incident.noted"


def test_a_removed_subscription_gets_nothing_more(ws, admin, receiver, hook_secret):
    sub = subscribe(ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    emit(ws, admin, "worker.job.failed", "job:a")
    receiver.then = 503
    deliver(ws)
    with ws.write(admin) as session:
        service.remove(session, admin, sub.id)
    emit(ws, admin, "worker.job.failed", "job:b")
    start = datetime.now(UTC)
    assert deliver(ws, now=start + LATER).attempted == 0
    with ws.read() as session:
        (row,) = deliveries(session)
    assert row.status == "cancelled" and len(receiver.received) == 1


def _reconciler():
    (rec,) = [r for r in runner.load().reconcilers if r.name == "notifications.deliver"]
    return rec


def _pass(ws):
    return runner.run_reconciler(ws, _reconciler(), datetime.now(UTC))


def test_the_reconciler_delivers_in_transactions_of_its_own(ws, admin, receiver, hook_secret):
    assert _reconciler().own_transactions  # the worker opens no transaction around its sends
    subscribe(ws, admin, event="key-expiring", webhook=receiver.url, secret_ref=hook_secret)
    emit(ws, admin, "gateway.key.expiring", "consumer:web", key="gk_1", expires_at="soon")
    emit(ws, admin, "auth.token.expiring", "user:default/ana", token="t1", expires_at="soon")
    outcome = _pass(ws)
    assert outcome.result == "ok"
    assert outcome.summary == "2 new, 2 attempted: 2 delivered, 0 to retry, 0 dead"
    assert sorted(json.loads(r.body)["type"] for r in receiver.received) == [
        "auth.token.expiring",
        "gateway.key.expiring",
    ]
    assert _pass(ws).summary is None  # nothing new, nothing due
    with ws.read() as session:
        state = session.get(JobStateRow, "notifications.deliver")
    assert (state.runs, state.failures, state.last_result) == (2, 0, "ok")


def test_a_paused_reconciler_sends_nothing(ws, admin, receiver, hook_secret):
    subscribe(ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    emit(ws, admin, "worker.job.failed", "job:a")
    with ws.write(admin) as session:
        runner.state_of(session, "notifications.deliver").paused = True
    assert _pass(ws) is None and receiver.received == []


def test_a_slow_receiver_never_holds_the_writer_lock(ws, admin, receiver, hook_secret):
    """While the worker waits on a receiver, the rest of Keel writes (on SQLite a write
    transaction held across the send would make this write wait the whole 3 s)."""
    subscribe(ws, admin, event="job-failed", webhook=receiver.url, secret_ref=hook_secret)
    emit(ws, admin, "worker.job.failed", "job:a")
    receiver.script = [3.0]  # the request hangs 3 s, then is answered 200
    with ThreadPoolExecutor(1) as pool:
        passing = pool.submit(_pass, ws)
        assert receiver.arrived.wait(30), "no request arrived"
        started = time.monotonic()
        emit(ws, admin, "worker.job.failed", "job:b")  # a write while the send is waited on
        waited = time.monotonic() - started
        assert not passing.done()  # the receiver still holds the request
        assert waited < 2.0, f"a write waited {waited:.1f} s behind a delivery"
        assert passing.result(timeout=60).summary.startswith("1 new, 1 attempted: 1 delivered")


def test_a_real_refused_promotion_reaches_the_webhook(
    demo_ws, admin, receiver, hook_secret, credit_artifacts
):
    from keel.pipeline import promotion, releases
    from tests.conftest import GERMAN_CREDIT

    engineer = admin.__class__("user:default/ana.lima", "local")
    subscribe(
        demo_ws, admin, event="promotion-refused", webhook=receiver.url, secret_ref=hook_secret
    )
    build = releases.Build(
        artifact=credit_artifacts["credit-scorer"],
        data={"datasource:default/german-credit": GERMAN_CREDIT},
    )
    with demo_ws.write(engineer) as session:
        release = releases.create_release(
            session, engineer, demo_ws.signer(), "credit-decisioning", "credit-scorer", build
        )
    with demo_ws.write(engineer) as session:
        refused = promotion.promote(
            session, engineer, demo_ws.signer(), release.short_name, "staging"
        )
    assert not refused.allowed
    assert run_pass(lambda: demo_ws.write(SYSTEM), SYSTEM).delivered == 1
    (got,) = receiver.received
    body = Webhook(SECRET).verify(got.body, got.headers)
    assert body["type"] == "pipeline.promotion.refused"
    assert body["data"]["details"]["missing"] == [str(m) for m in refused.missing]
