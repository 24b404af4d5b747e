"""Web UI response times on the generated 10,000-node catalog (SQLite, in process).

The whole-catalog view must stay usable at 10,000 nodes: it draws one node per system and
searches in the store, page by page. Each page is fetched cold (first view after a change,
which validates the whole map once) and warm (cached until the audit log grows), and the
size of what the browser receives is printed; the ratio is against a 1 s budget.

    .venv/bin/python bench/ui_bench.py [--nodes 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from starlette.testclient import TestClient

from catalog_bench import generate
from keel.api import create_app
from keel.auth import create_token
from keel.catalog import service
from keel.config import DB_FILE, Settings
from keel.identity import user_actor
from keel.workspace import init_workspace

BUDGET = 1.0
PAGES = (
    ("systems overview", "/"),
    ("whole catalog (aggregate)", "/catalog"),
    ("catalog search 'model-12'", "/catalog/table?q=model-12"),
    ("catalog filter kind=API, page 3", "/catalog/table?kind=API&page=3"),
    ("one system's map", "/systems/default/sys-7"),
    ("node page", "/entities/model/default/model-42"),
    ("node history", "/entities/model/default/model-42/events"),
    ("audit log, newest page", "/events"),
    ("audit log, filtered by action", "/events?action=catalog.entity.created&before=5000"),
    ("API page (route, traffic)", "/entities/api/default/api-3"),
    ("gateway page (charts)", "/gateway?refresh=0"),
)
TRAFFIC = 20_000  # traffic-log events in the charts' window, more than the page reads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), database_url=f"sqlite:///{Path(tmp) / DB_FILE}")
        admin = user_actor("user:bench", "local")
        ws, _ = init_workspace(settings, admin)
        entities = service.load_text(generate(args.nodes), "catalog.yaml")
        entities += service.load_text(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: bench}\nspec: {memberOf: []}\n"
        )
        with ws.write(admin) as session:
            service.apply(session, admin, entities)
            _, code = create_token(session, admin, "bench", "admin", kind="login")
        _traffic(ws, TRAFFIC)
        print(
            f"{len(entities):,} entities, {TRAFFIC:,} traffic events; budget {BUDGET:.0f} s per page"
        )
        with TestClient(create_app(ws=ws)) as client:
            own = {"origin": str(client.base_url)}
            logged = client.post(
                "/login/code", data={"c": code}, headers=own, follow_redirects=False
            )
            assert logged.status_code == 303 and "keel_session" in logged.cookies, logged.text
            for label, path in PAGES:
                for state in ("cold", "warm"):
                    if state == "cold":
                        with ws.write(admin) as session:  # a change: the next view revalidates
                            from keel import audit

                            audit.append(session, admin, [audit.Change("bench.touch", "bench", {})])
                    start = time.perf_counter()
                    response = client.get(path)
                    seconds = time.perf_counter() - start
                    assert response.status_code == 200, (path, response.status_code)
                    assert "Log in to Keel" not in response.text, path  # the page, not the login
                    print(
                        f"  {label:34} {state}  {seconds * 1000:8.1f} ms  {BUDGET / seconds:6.1f}x"
                        f"  {len(response.content) / 1024:7.1f} KiB"
                    )
        ws.close()
    return 0


def _traffic(ws, n: int) -> None:
    """`n` requests in the traffic log, through its real writer."""
    from keel.gateway.traffic import TrafficLog

    log = TrafficLog(ws, batch=5000)
    decisions = ["allowed"] * 8 + ["blocked", "rate_limited:key-rpm"]
    for i in range(n):
        log.record(
            {
                "endpoint": f"api:default/api-{i % 5}",
                "environment": "production",
                "key": "gk_bench",
                "decision": decisions[i % len(decisions)],
                "status": 200,
                "latency_ms": (i % 97) / 10,
            }
        )
    log.flush()


if __name__ == "__main__":
    sys.exit(main())
