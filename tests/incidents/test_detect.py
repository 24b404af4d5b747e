"""The `incidents.detect` reconciler over a real workspace: a failed verify, the gateway's own
anomalies (an in-process gateway in front of a failing local upstream, recording to the
store through its real traffic log), dedupe by cause, the cursor, and a killed pass."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime

from keel.audit import Change, append, list_events
from keel.gateway.anomaly import Detector
from keel.gateway.traffic import GATEWAY, RequestEvent, TrafficLog
from keel.identity import SYSTEM, user_actor
from keel.incidents import detect, jobs, service, timeline
from keel.worker.registry import JobContext, reconcilers
from tests.gateway.test_app import EP, chat, scenario, snapshot

ANA = user_actor("ana.lima", "local")
SUPPORT = "system:default/support-assistant"


def run_pass(ws) -> str | None:
    """One pass as the worker runs it: the reconciler in one write transaction."""
    with ws.write(SYSTEM) as session:
        ctx = JobContext(workspace=ws, session=session, actor=SYSTEM, now=datetime.now(UTC))
        return jobs.detect(ctx)


def verify_failed(ws, problem: str, log: str = "governance") -> None:
    """What the worker's daily `audit verify` appends when the log fails to verify."""
    with ws.write(SYSTEM) as session:
        details = {"log": log, "problems": [problem]}
        append(session, SYSTEM, [Change(detect.VERIFY_FAILED, "workspace", details)])


def test_the_reconciler_is_declared():
    (declared,) = [r for r in reconcilers() if r.name == "incidents.detect"]
    assert declared.package == "incidents" and declared.every == jobs.EVERY


def test_a_failed_verify_opens_one_severity_1_incident_and_repeats_add_notes(demo_ws):
    assert run_pass(demo_ws) is None  # nothing to do
    verify_failed(demo_ws, "event 7: body does not hash to its leaf")
    assert run_pass(demo_ws) == "opened INC-1"
    assert run_pass(demo_ws) is None  # the cursor moved: the same event opens nothing again
    verify_failed(demo_ws, "checkpoint 9: bad signature")
    assert run_pass(demo_ws) == "noted INC-1"
    with demo_ws.read() as session:
        found = service.get_incident(session, "INC-1")
        (opened,) = list_events(session, action="incidents.incident.opened")
    assert (found.severity, found.status, found.cause) == (1, "open", "audit.verify:governance")
    assert found.title == "Audit verify failed for the governance log"
    assert found.systems == [] and found.opened_by == "user:keel/system"
    assert "checkpoint 9: bad signature" in found.notes[0].text
    assert opened.details["detected"]["problems"] == ["event 7: body does not hash to its leaf"]
    with demo_ws.write(ANA) as session:
        service.move(session, ANA, "INC-1", "resolved")
    verify_failed(demo_ws, "again")
    verify_failed(demo_ws, "traffic tail unsigned", log="traffic")  # another cause
    assert run_pass(demo_ws) == "opened INC-2, INC-3"  # a resolved incident is not reopened
    with demo_ws.read() as session:
        assert [i.cause for i in service.list_incidents(session)] == [
            "audit.verify:traffic",
            "audit.verify:governance",
            "audit.verify:governance",
        ]


def test_a_pass_that_fails_midway_keeps_nothing(demo_ws):
    verify_failed(demo_ws, "p")
    try:
        with demo_ws.write(SYSTEM) as session:
            detect.detect(session, SYSTEM)
            raise RuntimeError("the worker dies before its commit")
    except RuntimeError:
        pass
    with demo_ws.read() as session:
        assert service.list_incidents(session) == []
        assert detect.cursors(session) == {"governance": 0, "traffic": 0}
    assert run_pass(demo_ws) == "opened INC-1"


def test_a_killed_pass_opens_once_after_restart(sqlite_ws, tmp_path):
    """SIGKILL in the middle of a pass's transaction (after it opened the incident, before
    the commit): the next pass opens it, once."""
    from keel.catalog import service as catalog
    from tests.conftest import EXAMPLES

    with sqlite_ws.write(ANA) as session:
        catalog.apply(session, ANA, catalog.load([EXAMPLES / "demo" / "catalog"]).entities)
    verify_failed(sqlite_ws, "p")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from keel.config import Settings
        from keel.identity import SYSTEM
        from keel.incidents import detect
        from keel.workspace import open_workspace
        ws = open_workspace(Settings(home=Path({str(sqlite_ws.settings.home)!r}),
                                     database_url={sqlite_ws.settings.database_url!r}))
        with ws.write(SYSTEM) as session:
            done = detect.detect(session, SYSTEM)
            assert done.opened == ["INC-1"], done
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr.decode()
    with sqlite_ws.read() as session:
        assert service.list_incidents(session) == []
    assert run_pass(sqlite_ws) == "opened INC-1"
    assert run_pass(sqlite_ws) is None
    with sqlite_ws.read() as session:
        assert len(list_events(session, action="incidents.incident.opened")) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_error_spike_at_the_gateway_opens_an_incident_for_the_endpoints_system(demo_ws):
    clock = Clock()
    traffic = TrafficLog(demo_ws)

    async def body(client, gateway, upstream):
        ok = [(await chat(client)).status_code for _ in range(3)]
        gateway.snapshot = lambda: snapshot(upstream.url("fail"))
        failed = [(await chat(client)).status_code for _ in range(12)]
        traffic.flush()
        spike = run_pass(demo_ws)
        clock.now += 20  # a new bucket: the detector reports each kind once per bucket
        again = [(await chat(client)).status_code for _ in range(12)]
        traffic.flush()
        return ok, failed, again, spike

    ok, failed, again, spike = scenario(
        lambda up: snapshot(up.url("ok")),
        body,
        traffic=traffic,
        detector=Detector(mode="alert", clock=clock),
    )
    traffic.close()
    assert ok == [200] * 3 and set(failed) <= {502, 503} and set(again) <= {502, 503}
    assert spike == "opened INC-1"
    assert run_pass(demo_ws) == "noted INC-1"  # the same cause on the same endpoint
    with demo_ws.read() as session:
        found = service.get_incident(session, "INC-1")
        anomalies = list_events(session, log="traffic", action=timeline.ANOMALY)
        (opened,) = list_events(session, action="incidents.incident.opened")
        entries = timeline.timeline(session, found)
    assert len(anomalies) == 2 and {a.details["kind"] for a in anomalies} == {"error_spike"}
    assert found.cause == f"gateway.error_spike:{EP}" and found.severity == 2
    assert found.systems == [SUPPORT] and found.owner == "group:default/customer-care"
    assert found.title == f"Error spike on {EP}"
    assert opened.details["detected"]["endpoint"] == EP
    assert opened.details["detected"]["figures"]["errors"] >= 10
    assert "error_spike again" in found.notes[0].text
    minutes = [e for e in entries if e.kind == "minute"]
    assert sum(e.details["requests"] for e in minutes) == 27  # every request, in few entries
    assert len(minutes) <= 2 and all(e.subject == EP for e in minutes)
    assert sum(e.details["errors"] for e in minutes) == 24
    assert [e.kind for e in entries].count("anomaly") == 2
    assert any(e.title == "incidents.incident.opened" for e in entries)


def _requests(ws, n: int, *, decision: str, status: int, key: str = "gk_one") -> None:
    with ws.write(GATEWAY) as session:
        changes = [
            Change(
                timeline.REQUEST,
                EP,
                RequestEvent(
                    f"r{i}", "chat", key, "tester", EP, "production", None, status, decision, 3.0
                ).details(),
            )
            for i in range(n)
        ]
        append(session, GATEWAY, changes, log="traffic")


def _anomaly(ws, kind: str, key: str = "gk_one", **figures) -> None:
    details = {"kind": kind, "key": key, "consumer": "tester", "mode": "alert", "bucket_s": 10.0}
    with ws.write(GATEWAY) as session:
        append(
            session,
            GATEWAY,
            [Change(timeline.ANOMALY, "consumer:tester", {**details, **figures})],
            log="traffic",
        )


def test_a_spike_of_guard_blocks_is_its_own_cause(demo_ws):
    _requests(demo_ws, 4, decision="allowed", status=200)
    _requests(demo_ws, 12, decision="blocked", status=400)
    _anomaly(demo_ws, "error_spike", errors=12, requests=16)
    _requests(demo_ws, 200, decision="allowed", status=200, key="gk_two")
    _anomaly(demo_ws, "burst", key="gk_two", requests=200)
    assert run_pass(demo_ws) == "opened INC-1, INC-2"
    with demo_ws.read() as session:
        blocks, burst = (
            service.get_incident(session, "INC-1"),
            service.get_incident(session, "INC-2"),
        )
    assert blocks.cause == f"gateway.guard_blocks:{EP}" and blocks.severity == 2
    assert blocks.title == f"Guard blocks spike on {EP}" and blocks.systems == [SUPPORT]
    assert burst.cause == f"gateway.burst:{EP}" and burst.severity == 3


def test_an_anomaly_without_requests_to_an_endpoint_is_opened_for_the_consumer(demo_ws):
    _anomaly(demo_ws, "burst", key="gk_gone", requests=500)
    assert run_pass(demo_ws) == "opened INC-1"
    with demo_ws.read() as session:
        found = service.get_incident(session, "INC-1")
    assert found.cause == "gateway.burst:consumer:tester" and found.systems == []
    assert found.owner is None
