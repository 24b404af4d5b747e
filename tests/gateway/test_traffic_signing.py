"""A real `keel gateway` on a host of its own signs the traffic log with the traffic key.

Its KEEL_HOME holds only `audit-traffic-ed25519.pem` (no governance key), as a gateway's
host should; it shares the PostgreSQL store with the control plane. After requests and a
shutdown, the control plane's `keel audit verify` trusts the traffic log's checkpoints
through the governance event that introduced the traffic key.
"""

from __future__ import annotations

import shutil

import httpx

from keel.audit import checkpoints, keys
from keel.audit import log as audit_log
from keel.config import Settings
from keel.workspace import init_workspace


def test_a_gateway_without_the_governance_key_signs_its_traffic_log(
    tmp_path, pg_schema_url, admin, run_gateway
):
    control = Settings(home=tmp_path / "control", database_url=pg_schema_url)
    ws, _ = init_workspace(control, admin)
    gateway_home = tmp_path / "gateway"
    gateway_home.mkdir()
    shutil.copy(control.home / keys.TRAFFIC_KEY_FILE, gateway_home / keys.TRAFFIC_KEY_FILE)
    gw = run_gateway(Settings(home=gateway_home, database_url=pg_schema_url))
    for _ in range(3):
        assert httpx.post(f"{gw.url}/v1/chat/completions", json={}).status_code == 401
    gw.stop()  # shutdown flushes and signs
    assert not (gateway_home / keys.KEY_FILE).exists()
    try:
        with ws.read() as session:
            latest = checkpoints.latest(session, "traffic")
            results = audit_log.verify_logs(
                session, ws.name, ["governance", "traffic"], pinned=ws.signer().public_key
            )
        assert latest is not None and latest.size == 3
        assert f"\u2014 {ws.name}/traffic " in latest.note
        assert all(r.ok for r in results), [r.problems for r in results]
        assert results[1].events == 3 and results[1].unsigned == 0
    finally:
        ws.close()
