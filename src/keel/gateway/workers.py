"""`keel gateway --workers N`: N gateway processes on one port, under one supervisor.

The design (docs/gateway.md, "Across cores"):

- **Sockets.** The supervisor binds one listening socket per worker on the port, each with
  SO_REUSEPORT, so the kernel spreads new connections evenly over the workers (with one
  shared socket, the uvloop worker that wakes first accepts a whole burst). It first binds
  the port once without SO_REUSEPORT, so a port already served, by any gateway, is refused
  rather than silently shared. It keeps its copy of every socket: a worker's replacement
  takes the same socket over, and connections that arrive in between wait in its backlog
  instead of being reset.
- **Workers.** Each is a fresh interpreter (`python -m keel.gateway.workers`) handed its
  socket's descriptor and its options on stdin (no secret on a command line), and a whole
  gateway (`keel.gateway.server.build`): its own config watcher, rate-limit client (the
  limits live in Redis, which is why more than one worker needs it), breaker, anomaly
  detector, traffic-log writer and journal folder (`<pid>-<random>`, never shared). The
  traffic log's appends are write transactions, which the store serialises (SQLite's
  writer lock, PostgreSQL's writer advisory lock), so its sequence numbers never fork
  whatever the number of writers. stdin stays open as a lifeline: a worker whose
  supervisor is gone (even killed) stops as on SIGTERM.
- **Deaths.** A worker that dies is restarted (its replacement recovers what the dead one
  journaled but had not stored, as any gateway does at start); one that dies `DEATHS` times
  within `WINDOW` seconds, or any worker failing before it was first ready, stops the
  gateway: every worker is stopped and `serve` raises, one line, exit 1.
- **Stopping.** SIGTERM or SIGINT: the supervisor closes its sockets and sends SIGTERM to
  each worker, which finishes the requests in flight and flushes its traffic log; one
  still running after `GRACE` seconds is killed (its journal is recovered by the next start).
- **Admin port.** The supervisor's: `/metrics` merges the workers' (each serves its own on
  a loopback port of its own), every series labelled `worker`; `/healthz` lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keel.config import Settings
from keel.errors import KeelError, UsageError

MAX_WORKERS = 64
DEATHS, WINDOW = 5, 60.0  # a worker dying this often within WINDOW s stops the gateway
GRACE = 60.0  # s a worker has at SIGTERM to finish its requests and flush its records
READY = 120.0  # s a worker has to start
BACKLOG = 2048  # uvicorn's default


def parse_workers(text: str, redis_url: str | None) -> int:
    """`--workers`: a whole number from 1 to 64; more than one needs the shared limit store."""
    if not re.fullmatch(r"[0-9]{1,3}", text.strip()) or not 1 <= int(text) <= MAX_WORKERS:
        raise UsageError(
            f"--workers must be a whole number from 1 to {MAX_WORKERS}, not {text[:20]!r}"
        )
    count = int(text)
    if count > 1 and not redis_url:
        raise UsageError(
            f"--workers {count} needs --redis URL (or KEEL_REDIS_URL): without it each worker "
            f"counts rate limits on its own, allowing {count} times each limit"
        )
    return count


def listen(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on (host, port) sharing it through SO_REUSEPORT; refused
    (KeelError) when the port is served already, by anything."""
    try:
        family, *_, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        with _socket(family) as probe:  # plain: fails on a port any socket holds
            probe.bind(address)
        for _ in range(count):
            sock = _socket(family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise KeelError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sockets


def _socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return sock


def run(settings: Settings, count: int = 1, **options: Any) -> None:
    """`keel gateway`: one process (`keel.gateway.server.run`), or `count` workers."""
    if count == 1:
        from keel.gateway import server

        server.run(settings, **options)
        return
    options["redis_url"] = options.get("redis_url") or os.environ.get("KEEL_REDIS_URL") or None
    if not options["redis_url"]:
        raise UsageError(f"--workers {count} needs --redis URL (or KEEL_REDIS_URL)")
    serve(settings, count, **options)


def serve(
    settings: Settings,
    count: int,
    *,
    host: str,
    port: int,
    admin_port: int | None,
    **options: Any,
) -> None:
    """Run `count` workers until SIGTERM or SIGINT; raises KeelError (one line) when a
    worker cannot start or keeps dying, after stopping the others."""
    from keel.workspace import open_workspace

    open_workspace(settings).close()  # a missing workspace: the one line it gives, at once
    sockets = listen(host, port, count)
    admin = None
    try:
        if admin_port is not None:
            try:
                admin = _socket(socket.getaddrinfo(host, admin_port)[0][0])
                admin.bind((host, admin_port))
            except OSError as exc:
                raise KeelError(f"cannot listen on {host}:{admin_port}: {exc.strerror}") from None
        asyncio.run(Supervisor(settings, sockets, admin, options).run())
    finally:
        for sock in [*sockets, *([admin] if admin else [])]:
            sock.close()


@dataclass
class Worker:
    index: int  # 1..N, kept by a replacement
    sock: socket.socket
    process: asyncio.subprocess.Process | None = None
    admin_port: int | None = None
    deaths: deque[float] = field(default_factory=deque)
    restarts: int = 0


class _Died(Exception):
    pass


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        sockets: list[socket.socket],
        admin: socket.socket | None,
        options: dict[str, Any],
    ):
        self.settings = settings
        self.workers = [Worker(i + 1, sock) for i, sock in enumerate(sockets)]
        self.admin = admin
        self.options = options
        self.stopping = False
        self._client = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        stopped = asyncio.create_task(stop.wait())
        runner = None
        tasks: list[asyncio.Task] = []
        try:
            starting = asyncio.create_task(self._start_all())
            await asyncio.wait([stopped, starting], return_when=asyncio.FIRST_COMPLETED)
            if stopped.done():
                starting.cancel()
                return
            starting.result()  # a worker that could not start: raises
            if self.admin is not None:
                runner = await self._serve_admin()
            tasks = [asyncio.create_task(self._keep(w)) for w in self.workers]
            await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()
        except _Died as exc:
            raise KeelError(str(exc)) from None
        finally:
            for task in (*tasks, stopped):
                task.cancel()
            await self._stop()
            if runner is not None:
                await runner.cleanup()
            if self._client is not None:
                await self._client.close()

    async def _start_all(self) -> None:
        await asyncio.gather(*(self._spawn(w) for w in self.workers))

    async def _spawn(self, w: Worker) -> None:
        """Start `w`'s process and wait until it serves; `_Died` when it does not."""
        read, write = os.pipe()
        try:
            w.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "keel.gateway.workers",
                stdin=asyncio.subprocess.PIPE,
                pass_fds=(w.sock.fileno(), write),
            )
        finally:
            os.close(write)
        spec = {
            "index": w.index,
            "socket": w.sock.fileno(),
            "report": write,
            "admin": self.admin is not None,
            "home": str(self.settings.home),
            "database_url": self.settings.database_url,
            "options": self.options,
        }
        assert w.process.stdin is not None
        w.process.stdin.write(orjson.dumps(spec) + b"\n")  # then kept open: its lifeline
        reading = asyncio.ensure_future(asyncio.to_thread(_readline, read))
        try:
            line = await asyncio.wait_for(asyncio.shield(reading), READY)
        except TimeoutError:
            w.process.kill()
            raise _Died(f"worker {w.index} did not start within {READY:.0f} s") from None
        if not line:
            code = await w.process.wait()
            raise _Died(f"worker {w.index} {_how(code)} before it was ready")
        w.admin_port = orjson.loads(line)["admin_port"]

    async def _keep(self, w: Worker) -> None:
        """Restart `w` each time it dies; `_Died` once it died DEATHS times within WINDOW s."""
        while True:
            assert w.process is not None
            pid, code = w.process.pid, await w.process.wait()
            if self.stopping:
                return
            now = time.monotonic()
            w.deaths.append(now)
            while now - w.deaths[0] > WINDOW:
                w.deaths.popleft()
            if len(w.deaths) >= DEATHS:
                raise _Died(
                    f"worker {w.index} died {len(w.deaths)} times within {WINDOW:.0f} s "
                    f"(last: {_how(code)}); the gateway stops"
                )
            _say(f"keel gateway: worker {w.index} (pid {pid}) {_how(code)}; starting another")
            w.admin_port = None
            await asyncio.sleep(0.25 * len(w.deaths))
            with contextlib.suppress(_Died):  # failing to start counts as dying again
                await self._spawn(w)
                w.restarts += 1

    async def _stop(self) -> None:
        self.stopping = True
        for w in self.workers:  # no new connection is queued for a worker that stops
            w.sock.close()
        live = [w.process for w in self.workers if w.process and w.process.returncode is None]
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        done = await asyncio.gather(
            *(asyncio.wait_for(p.wait(), GRACE) for p in live), return_exceptions=True
        )
        for process, result in zip(live, done, strict=True):
            if isinstance(result, BaseException):
                _say(f"keel gateway: pid {process.pid} still running after {GRACE:.0f} s; killed")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    # --- the admin port -------------------------------------------------------------------

    async def _serve_admin(self):
        import aiohttp
        from aiohttp import web

        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, self.admin).start()
        return runner

    async def _ask(self, w: Worker, path: str) -> bytes | None:
        if w.admin_port is None or self._client is None:
            return None
        try:
            async with self._client.get(f"http://127.0.0.1:{w.admin_port}{path}") as answer:
                return await answer.read() if answer.status == 200 else None
        except Exception:  # dying or restarting: reported as down
            return None

    async def _metrics(self, _request):
        from aiohttp import web

        texts = await asyncio.gather(*(self._ask(w, "/metrics") for w in self.workers))
        body = merge_metrics(
            [(w.index, t.decode()) for w, t in zip(self.workers, texts, strict=True) if t],
            {w.index: w.restarts for w in self.workers},
        )
        return web.Response(body=body, headers={"content-type": "text/plain; version=0.0.4"})

    async def _healthz(self, _request):
        from aiohttp import web

        answers = await asyncio.gather(*(self._ask(w, "/healthz") for w in self.workers))
        workers, up = [], []
        for w, raw in zip(self.workers, answers, strict=True):
            pid = w.process.pid if w.process else None
            entry = {"worker": w.index, "pid": pid, "restarts": w.restarts}
            if raw:
                up.append(orjson.loads(raw))
                workers.append({**entry, **up[-1]})
            else:
                workers.append({**entry, "status": "down"})
        body: dict[str, Any] = {"status": "ok" if len(up) == len(workers) else "degraded"}
        if up:
            oldest = min(up, key=lambda b: b["config_version"])  # what every worker has
            body.update({k: oldest[k] for k in ("config_version", "keys", "routes")})
            for k in ("traffic_pending", "traffic_written"):
                body[k] = sum(b[k] for b in up)
        body["workers"] = workers
        status = 200 if body["status"] == "ok" else 503
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def merge_metrics(texts: list[tuple[int, str]], restarts: dict[int, int]) -> bytes:
    """The workers' Prometheus texts as one, each series labelled with its `worker`, plus
    how many workers answered and how often each was restarted."""
    from prometheus_client.exposition import generate_latest
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, Metric] = {}
    for index, text in texts:
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name] = merged
            worker = {"worker": str(index)}
            merged.samples.extend(s._replace(labels={**s.labels, **worker}) for s in family.samples)
    ready = GaugeMetricFamily("keel_gateway_workers", "Worker processes answering.")
    ready.add_metric([], len(texts))
    again = CounterMetricFamily(
        "keel_gateway_worker_restarts", "Times a worker was replaced.", labels=["worker"]
    )
    for index, count in sorted(restarts.items()):
        again.add_metric([str(index)], count)

    class Families:
        def collect(self):
            return [*families.values(), ready, again]

    return generate_latest(Families())  # type: ignore[arg-type]


def _readline(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as pipe:
        return pipe.readline()


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --- one worker -----------------------------------------------------------------------------


def worker() -> None:
    """A worker's life: read its spec from stdin, serve its socket until SIGTERM or until
    stdin closes (the supervisor is gone), flush, exit."""
    import uvicorn

    from keel.gateway.server import UVICORN, build
    from keel.workspace import open_workspace

    spec = orjson.loads(sys.stdin.buffer.readline())
    sock = socket.socket(fileno=spec["socket"])
    report: int = spec["report"]
    settings = Settings(home=Path(spec["home"]), database_url=spec["database_url"])
    server: uvicorn.Server | None = None

    def started(admin_port: int | None) -> None:
        loop = asyncio.get_running_loop()

        def lifeline() -> None:
            if not os.read(0, 4096):
                loop.remove_reader(0)
                if server is not None:
                    server.should_exit = True

        loop.add_reader(0, lifeline)
        os.write(report, orjson.dumps({"pid": os.getpid(), "admin_port": admin_port}) + b"\n")
        os.close(report)

    try:
        ws = open_workspace(settings)
    except KeelError as exc:
        _say(f"keel gateway: worker {spec['index']}: {exc}")
        sys.exit(1)
    try:
        app = build(
            ws,
            admin_port=0 if spec["admin"] else None,
            admin_host="127.0.0.1",
            on_started=started,
            **spec["options"],
        )
        server = uvicorn.Server(uvicorn.Config(app, **UVICORN))
        server.run(sockets=[sock])
    except Exception as exc:  # one line for the supervisor's log, as `keel gateway` gives
        _say(f"keel gateway: worker {spec['index']}: {type(exc).__name__}: {exc}")
        sys.exit(1)
    finally:
        ws.close()


if __name__ == "__main__":
    worker()
