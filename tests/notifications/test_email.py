"""E-mail against a real SMTP server (aiosmtpd): the message, STARTTLS and login, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keel.errors import UsageError
from keel.notifications import Policy, deliveries, service
from keel.notifications.send import smtp_settings
from tests.notifications.conftest import deliver, emit, subscribe
from tests.servers import free_port

LATER = timedelta(hours=2)


@pytest.fixture
def smtp_env(mailbox, monkeypatch):
    for key, value in mailbox.env().items():
        monkeypatch.setenv(key, value)
    return mailbox


def test_the_message_names_the_event_and_links_to_it(sqlite_ws, admin, smtp_env):
    ws = sqlite_ws
    sub = subscribe(ws, admin, event="incident-opened", email="oncall@ops.example")
    event = emit(ws, admin, "incidents.incident.opened", "INC-7", severity=1, title="5xx")
    assert deliver(ws).delivered == 1
    ((sender, rcpts, message),) = smtp_env.messages
    assert sender == "keel@ops.example" and rcpts == ["oncall@ops.example"]
    assert message["To"] == "oncall@ops.example"
    assert message["Subject"] == "[Keel] incidents.incident.opened: INC-7"
    text = message.get_payload(decode=True).decode()
    assert f"Keel event #{event.seq}: incidents.incident.opened" in text
    assert f"http://127.0.0.1:8400/events/{event.seq}" in text
    assert '"title": "5xx"' in text and f"keel notify remove {sub.id}" in text
    with ws.read() as session:
        (row,) = deliveries(session)
    assert message["Message-ID"] == f"<{row.id}@ops.example>"


def test_a_public_url_is_the_link_base(tmp_path, admin, smtp_env):
    from keel.config import DB_FILE, Settings
    from keel.workspace import init_workspace

    home = tmp_path / "pub"
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home / DB_FILE}",
        public_url="https://keel.example.org",
    )
    ws, _ = init_workspace(settings, admin)
    try:
        subscribe(ws, admin, event="job-failed", email="ops@ops.example")
        event = emit(ws, admin, "worker.job.failed", "job:audit.verify")
        from keel.identity import SYSTEM
        from keel.notifications import run_pass

        run_pass(lambda: ws.write(SYSTEM), SYSTEM, public_url=settings.public_url)
    finally:
        ws.close()
    ((_, _, message),) = smtp_env.messages
    assert f"https://keel.example.org/events/{event.seq}" in message.get_payload()


def test_a_refusing_server_is_a_failure_recorded_and_retried(sqlite_ws, admin, smtp_env):
    ws = sqlite_ws
    subscribe(ws, admin, event="job-failed", email="ops@ops.example")
    emit(ws, admin, "worker.job.failed", "job:a")
    smtp_env.refuse = [(451, "try again later")]
    start = datetime.now(UTC)
    assert deliver(ws, now=start).retrying == 1
    assert smtp_env.messages == []
    assert deliver(ws, now=start + LATER).delivered == 1
    with ws.read() as session:
        (row,) = deliveries(session)
        tries = service.attempts(session, row.id)
    assert [(t["outcome"], t["status"]) for t in tries] == [("retry", 451), ("delivered", 250)]
    assert "451 try again later" in tries[0]["error"]


def test_a_permanent_refusal_dead_letters(sqlite_ws, admin, smtp_env):
    ws = sqlite_ws
    subscribe(ws, admin, event="job-failed", email="ops@ops.example")
    emit(ws, admin, "worker.job.failed", "job:a")
    smtp_env.refuse = [(550, "no such mailbox")]
    assert deliver(ws).dead == 1
    with ws.read() as session:
        (row,) = deliveries(session, status="dead")
    assert "550 no such mailbox" in row.last_error


def test_no_smtp_server_listening_is_retried(sqlite_ws, admin, monkeypatch):
    ws = sqlite_ws
    monkeypatch.setenv("KEEL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KEEL_SMTP_PORT", str(free_port()))
    subscribe(ws, admin, event="job-failed", email="ops@ops.example")
    emit(ws, admin, "worker.job.failed", "job:a")
    assert deliver(ws).retrying == 1
    with ws.read() as session:
        (row,) = deliveries(session)
    assert row.status == "pending" and "SMTP 127.0.0.1:" in row.last_error


def test_starttls_and_login_with_a_password_reference(sqlite_ws, admin, tls_mailbox, monkeypatch):
    ws = sqlite_ws
    env = tls_mailbox.env(
        KEEL_SMTP_STARTTLS="true", KEEL_SMTP_USERNAME="keel", KEEL_SMTP_PASSWORD_REF="env:SMTP_PW"
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SMTP_PW", "s3cret")
    subscribe(ws, admin, event="job-failed", email="ops@ops.example")
    emit(ws, admin, "worker.job.failed", "job:a")
    assert deliver(ws).delivered == 1
    assert tls_mailbox.logins == [("keel", "s3cret")] and len(tls_mailbox.messages) == 1
    monkeypatch.setenv("SMTP_PW", "wrong")  # refused (535, or the server hangs up): not sent
    emit(ws, admin, "worker.job.failed", "job:b")
    assert deliver(ws, policy=Policy(timeout=2.0)).delivered == 0
    assert len(tls_mailbox.messages) == 1 and tls_mailbox.logins[-1] == ("keel", "wrong")


def test_without_starttls_a_server_that_requires_it_refuses(
    sqlite_ws, admin, tls_mailbox, monkeypatch
):
    for key, value in tls_mailbox.env().items():
        monkeypatch.setenv(key, value)
    subscribe(sqlite_ws, admin, event="job-failed", email="ops@ops.example")
    emit(sqlite_ws, admin, "worker.job.failed", "job:a")
    assert deliver(sqlite_ws).delivered == 0
    assert tls_mailbox.messages == []


@pytest.mark.parametrize(
    "env, problem",
    [
        ({}, "KEEL_SMTP_HOST"),
        ({"KEEL_SMTP_HOST": "h", "KEEL_SMTP_PORT": "x"}, "is not a port"),
        ({"KEEL_SMTP_HOST": "h", "KEEL_SMTP_PORT": "70000"}, "is not a port"),
        ({"KEEL_SMTP_HOST": "h", "KEEL_SMTP_PASSWORD": "hunter2"}, "KEEL_SMTP_PASSWORD_REF"),
        ({"KEEL_SMTP_HOST": "h", "KEEL_SMTP_PASSWORD_REF": "hunter2"}, "a reference"),
    ],
)
def test_bad_smtp_settings_are_one_line(env, problem):
    with pytest.raises(UsageError) as caught:
        smtp_settings(env)
    assert problem in str(caught.value) and "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_an_approval_request_mails_the_pod_members_who_must_decide(
    demo_ws, smtp_env, credit_artifacts
):
    """A recipients subscription mails each person the request names, at their address in
    the map, with the release page to decide on; the author is not among them."""
    from keel.errors import InputError
    from keel.identity import user_actor
    from keel.pipeline import reviews
    from tests.pipeline.test_promotion import IVO, _approve, _release

    engineer = user_actor("user:default/ana.lima", "local")
    with pytest.raises(InputError, match="names no recipients"):
        subscribe(demo_ws, engineer, event="incident", recipients=True)
    with pytest.raises(InputError, match="give one target"):
        subscribe(demo_ws, engineer, event="approval-requested", recipients=True, email="a@b.org")
    sub = subscribe(demo_ws, engineer, event="approval-requested", recipients=True)
    assert sub.kind == "email" and sub.target == "(recipients)"

    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _approve(demo_ws, IVO, release, "mlEngineer")
    with demo_ws.write(engineer) as session:
        reviews.request_approval(session, engineer, release.short_name, "please review")
    assert deliver(demo_ws).delivered == 1
    ((_, rcpts, message),) = smtp_env.messages
    assert sorted(rcpts) == ["chen.wu@example.com", "dara.kim@example.com"]
    assert "ana.lima@example.com" not in message["To"]
    text = message.get_payload(decode=True).decode()
    assert f"Decide: http://127.0.0.1:8400/releases/default/{release.short_name}" in text
    assert "please review" in text

    # a server that knows only one of them: delivered to the other, the refusal noted, and
    # no retry (it would mail the one who has it again)
    smtp_env.unknown.add("dara.kim@example.com")
    with demo_ws.write(engineer) as session:
        reviews.request_approval(session, engineer, release.short_name, "again")
    assert deliver(demo_ws).delivered == 1
    assert smtp_env.messages[-1][1] == ["chen.wu@example.com"]
    with demo_ws.read() as session:
        newest = deliveries(session, subscription=sub.id)[0]
    assert newest.status == "delivered" and "dara.kim@example.com (550)" in newest.last_error


def test_a_request_whose_recipients_have_no_address_is_a_final_failure(sqlite_ws, admin, smtp_env):
    sub = subscribe(sqlite_ws, admin, event="approval-requested", recipients=True)
    emit(
        sqlite_ws,
        admin,
        "pipeline.approval.requested",
        "model:default/m@1",
        recipients=[{"user": "user:default/nobody", "role": "riskLead"}],
    )
    deliver(sqlite_ws)
    with sqlite_ws.read() as session:
        (row,) = deliveries(session, subscription=sub.id)
    assert row.status == "dead" and "spec.profile.email" in row.last_error
    assert smtp_env.messages == []
