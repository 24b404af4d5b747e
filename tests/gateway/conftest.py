"""Gateway fixtures: real processes (`keel gateway`, `keel serve-model`) on free ports,
stopped by their PID; Redis at KEEL_TEST_REDIS_URL (required on CI, as PostgreSQL is)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keel.config import Settings
from keel.gateway import keys, routes
from keel.identity import Actor
from keel.workspace import Workspace
from tests.api.conftest import api  # noqa: F401  (the control-plane API client)
from tests.conftest import EXAMPLES, ON_CI
from tests.servers import free_port

REDIS_URL = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KEEL = [str(Path(sys.executable).parent / "keel")]
CREDIT_ROW = ["A11", 6, "A34", "A43", 1169, "A65", "A75", 4, "A93", "A101", 4, "A121", 67]
CREDIT_ROW += ["A143", "A152", 2, "A173", 1, "A192", "A201"]


@dataclass
class Process:
    popen: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(args: list[str], env: dict[str, str], log: Path, ready: str, timeout: float = 60):
    """Start `keel ARGS` and wait until GET `ready` answers."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        popen = subprocess.Popen([*KEEL, *args], env=full_env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise AssertionError(f"keel {args[0]} exited: {log.read_text()}")
        try:
            httpx.get(ready, timeout=1)
            return popen
        except httpx.TransportError:
            time.sleep(0.1)
    popen.kill()
    raise AssertionError(f"keel {args[0]} did not start: {log.read_text()}")


def workspace_env(settings: Settings) -> dict[str, str]:
    env = {"KEEL_HOME": str(settings.home), "KEEL_USER": "alice"}
    if not settings.embedded:
        env["KEEL_DATABASE_URL"] = settings.database_url
    else:
        env["KEEL_DATABASE_URL"] = ""
    return env


@dataclass
class GatewayProcess(Process):
    admin: str


@pytest.fixture
def run_gateway(tmp_path: Path) -> Iterator:
    """Start gateways: run_gateway(settings, *extra_args, env={...}) -> GatewayProcess."""
    started: list[GatewayProcess] = []

    def run(settings: Settings, *extra: str, env: dict[str, str] | None = None):
        port, admin = free_port(), free_port()
        log = tmp_path / f"gateway-{port}.log"
        args = ["gateway", "--port", str(port), "--admin-port", str(admin), *extra]
        popen = start(
            args,
            {**workspace_env(settings), **(env or {})},
            log,
            f"http://127.0.0.1:{admin}/healthz",
        )
        process = GatewayProcess(
            popen, f"http://127.0.0.1:{port}", log, f"http://127.0.0.1:{admin}"
        )
        started.append(process)
        return process

    yield run
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def model_artifacts(credit_artifacts, tmp_path_factory) -> Path:
    """A folder as `keel demo` leaves it: the credit models and the support index."""
    from keel.demo.support import build_index

    folder = tmp_path_factory.mktemp("served")
    for name, path in credit_artifacts.items():
        (folder / f"{name}.skops").write_bytes(path.read_bytes())
    index, _ = build_index(EXAMPLES / "demo" / "knowledge-base")
    index.save(folder / "kb-index")
    return folder


@pytest.fixture(scope="session")
def model_server(model_artifacts, tmp_path_factory) -> Iterator[Process]:
    """`keel serve-model` on the demo's models, for the whole session."""
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "serve-model.log"
    popen = start(
        ["serve-model", "--port", str(port), "--artifacts", str(model_artifacts)],
        {},
        log,
        f"http://127.0.0.1:{port}/v1/models",
    )
    process = Process(popen, f"http://127.0.0.1:{port}/v1", log)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        if ON_CI:
            pytest.fail(f"Redis must be reachable on CI: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    return REDIS_URL


@dataclass
class Setup:
    """A demo workspace with routes to the model server and a key per environment."""

    ws: Workspace
    settings: Settings
    prod_key: str
    staging_key: str


def make_key(ws: Workspace, actor: Actor, consumer: str | None = None, **kwargs) -> str:
    kwargs.setdefault("environment", "production")
    kwargs.setdefault("endpoints", ["api:credit-decision-api", "api:support-chat-api"])
    with ws.write(actor) as session:
        _, secret = keys.create_key(
            session,
            actor,
            consumer or f"app-{uuid.uuid4().hex[:6]}",
            kwargs.pop("endpoints"),
            kwargs.pop("environment"),
            **kwargs,
        )
    return secret


def route_all(ws: Workspace, actor: Actor, upstream: str, environments=("production",)) -> None:
    """Both demo APIs routed to `upstream`. The catalog-only workspaces of these tests have
    no release promoted, so their production routes allow ungoverned traffic (which
    `test_ungoverned.py` is about; the rest are about routing, limits and guards)."""
    with ws.write(actor) as session:
        for env in environments:
            routes.set_route(
                session,
                actor,
                "api:credit-decision-api",
                env,
                upstream,
                model="credit-scorer",
                allow_ungoverned=True,
            )
            routes.set_route(
                session, actor, "api:support-chat-api", env, upstream, allow_ungoverned=True
            )


@pytest.fixture
def served(demo_ws: Workspace, settings: Settings, admin: Actor, model_server) -> Setup:
    """Production routes to the model server; a production key and a staging key."""
    route_all(demo_ws, admin, model_server.url)
    prod = make_key(demo_ws, admin, "support-widget")
    staging = make_key(demo_ws, admin, "support-widget-staging", environment="staging")
    return Setup(demo_ws, settings, prod, staging)


@pytest.fixture
def sqlite_served(sqlite_ws: Workspace, admin: Actor, model_server) -> Setup:
    from keel.catalog import service

    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    with sqlite_ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
    route_all(sqlite_ws, admin, model_server.url)
    prod = make_key(sqlite_ws, admin, "support-widget")
    staging = make_key(sqlite_ws, admin, "support-widget-staging", environment="staging")
    return Setup(sqlite_ws, sqlite_ws.settings, prod, staging)
