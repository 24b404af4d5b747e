"""`keel gateway` (run the data plane), `keel route` and `keel key` (its config), and
`keel serve-model` (the demo's model server, an upstream for the gateway)."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, JSON_OPTION, console, print_json
from keel.errors import UsageError

route_app = typer.Typer(
    help="Gateway routes: endpoint x environment -> upstream.", no_args_is_help=True
)
key_app = typer.Typer(
    help="Gateway API keys: create (shown once), list, revoke.", no_args_is_help=True
)
ENV_HELP = "staging or production."


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s` -> a timedelta."""
    match = re.fullmatch(r"(\d{1,6})([dhms])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise typer.BadParameter(f"{text!r} is not a duration such as 90d, 12h, 30m or 45s")
    unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def gateway(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8401, "--port", min=1, max=65535, help="Traffic port."),
    admin_port: int = typer.Option(
        8402, "--admin-port", min=0, max=65535, help="Metrics and health port (0: none)."
    ),
    redis: str | None = typer.Option(
        None,
        "--redis",
        envvar="KEEL_REDIS_URL",
        metavar="URL",
        help="Share rate limits with other replicas through this Redis.",
    ),
    redis_timeout: float = typer.Option(
        0.05,
        "--redis-timeout",
        min=0.001,
        max=5,
        help="Deadline for a request's rate-limit round trips to Redis, s; past it the "
        "route's --limits-fail applies.",
    ),
    interval: float = typer.Option(1.0, "--poll", min=0.1, max=10, help="Config poll, s."),
    max_body: int = typer.Option(1 << 20, "--max-body", min=1024, help="Largest body, bytes."),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Upstream timeout, s."),
    anomaly: str = typer.Option(
        "alert", "--anomaly", help="Per-key anomalies: off, alert (events), throttle."
    ),
    workers: str = typer.Option(
        "1",
        "--workers",
        metavar="N",
        help="Worker processes sharing the port, 1 to 64; more than one needs --redis.",
    ),
) -> None:
    """Run the gateway: the OpenAI-compatible data plane (keys, routes, limits, traffic log)."""
    from keel.gateway import workers as workers_
    from keel.gateway.anomaly import MODES

    context.check_choice(anomaly, MODES, "--anomaly")
    count = workers_.parse_workers(workers, redis)
    settings = context.state(ctx).settings()
    print(
        f"Keel gateway on http://{host}:{port}/v1"
        + (f"  ({count} workers)" if count > 1 else "")
        + (f"  (metrics: http://{host}:{admin_port}/metrics)" if admin_port else "")
        + (f"  (limits shared through {redis.split('@')[-1]})" if redis else ""),
        flush=True,
    )
    workers_.run(
        settings,
        count,
        host=host,
        port=port,
        admin_port=admin_port or None,
        redis_url=redis,
        redis_timeout=redis_timeout,
        interval=interval,
        max_body=max_body,
        timeout=timeout,
        anomaly=anomaly,
    )


def serve_model(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8410, "--port", min=1, max=65535, help="Port to listen on."),
    artifacts: str | None = typer.Option(
        None, "--artifacts", metavar="DIR", help="Model folder (default: HOME/artifacts)."
    ),
) -> None:
    """Serve the demo's models: *.skops on /v1/predict, the support index on /v1/chat and
    /v1/embeddings (an OpenAI-compatible upstream for the gateway)."""
    from pathlib import Path

    import uvicorn

    from keel.serving.app import create_app
    from keel.serving.models import load_models

    folder = Path(artifacts) if artifacts else context.state(ctx).settings().home / "artifacts"
    models = load_models(folder)
    names = ", ".join(sorted(models.tabular)) or "no tabular models"
    print(
        f"Keel model server on http://{host}:{port}/v1  ({names}; "
        f"retrieval index: {'yes' if models.index else 'no'})",
        flush=True,
    )
    uvicorn.run(create_app(models), host=host, port=port, log_level="warning", access_log=False)


SETTINGS = ("model", "rpm", "tpm", "timeout", "upstream-key-env", "guard")  # --clear NAME


@route_app.command("set")
def route_set(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., metavar="ENDPOINT_REF", help="An API of the map."),
    env: str = typer.Option(..., "--env", help=ENV_HELP),
    upstream: str | None = typer.Option(
        None, "--upstream", metavar="URL", help="e.g. http://h:p/v1 (needed for a new route)."
    ),
    model: str | None = typer.Option(None, "--model", help="The upstream's name for it."),
    rpm: int | None = typer.Option(None, "--rpm", min=1, help="Requests/min, all keys."),
    tpm: int | None = typer.Option(None, "--tpm", min=1, help="Tokens/min, all keys."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.1, help="Upstream timeout, s."),
    capture: bool | None = typer.Option(
        None, "--capture/--no-capture", help="Store redacted payloads in the traffic log."
    ),
    credential_env: str | None = typer.Option(
        None,
        "--upstream-key-env",
        metavar="VAR",
        help="Send the upstream the API key held in this environment variable of the "
        "gateway's host (a provider's key; never stored by Keel).",
    ),
    guard_file: str | None = typer.Option(
        None,
        "--guard",
        metavar="POLICY_FILE",
        help="The route's guard policy (YAML/JSON, as for keel guard scan --policy); "
        "default: block injections, redact PII and secrets.",
    ),
    no_guard: bool = typer.Option(False, "--no-guard", help="No guard on this route."),
    limits_fail: str | None = typer.Option(
        None,
        "--limits-fail",
        help="When the rate-limit store (Redis) is down: closed (refuse, 503; the default) or "
        "open (serve, recorded as limit: unchecked).",
    ),
    allow_ungoverned: bool | None = typer.Option(
        None,
        "--allow-ungoverned/--refuse-ungoverned",
        help="Production only: serve while the API's model has no release promoted to "
        "production, each request recorded as ungoverned (default: refuse, 403).",
    ),
    clear: list[str] = typer.Option(
        [],
        "--clear",
        metavar="SETTING",
        **context.one_of(SETTINGS, "--clear"),
        help=f"Unset a setting of the route ({', '.join(SETTINGS)}; guard: back to the "
        "default). Repeatable.",
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Route ENDPOINT_REF in an environment to an upstream, or change an existing route.

    Only what is given changes: the route's other settings stay as they were (--clear
    unsets one). Prints the resulting route.
    """
    from keel.gateway import routes

    if upstream is not None:
        upstream = routes.check_upstream(upstream)  # here too: a refused URL goes nowhere
    if limits_fail is not None:
        context.check_choice(limits_fail, routes.LIMITS_FAIL, "--limits-fail")
    if guard_file and no_guard:
        raise UsageError("--guard and --no-guard exclude each other")
    given: dict = {
        "upstream": upstream,
        "model": model,
        "rpm": rpm,
        "tpm": tpm,
        "timeout": timeout,
        "capture": capture,
        "credential_env": credential_env,
        "limits_fail": limits_fail,
        "allow_ungoverned": allow_ungoverned,
        "guard": False if no_guard else None,
    }
    if guard_file:
        from pathlib import Path

        from keel.cli.commands.guard import policy_mapping
        from keel.guard.policy import parse_policy

        given["guard"] = policy_mapping(Path(guard_file)) or {}
        parse_policy(given["guard"])  # refuse a bad file here, one line per problem
    cleared = {name.replace("upstream-key-env", "credential_env") for name in clear}
    both = [n for n in cleared if given[n] is not None]
    if both:
        raise UsageError(f"--clear {both[0]} and a new value for it exclude each other")
    changes = {k: v for k, v in given.items() if v is not None}

    def merged(current: dict | None) -> dict:
        route = {k: v for k, v in (current or {}).items() if k in given}
        route.update(changes)
        route.update(dict.fromkeys(cleared))
        if not route.get("upstream"):
            raise UsageError(f"{endpoint} has no route in {env} yet: give its --upstream")
        return route

    def through_api(settings) -> dict:
        from keel.catalog.refs import key_of

        key = key_of(endpoint, default_kind="api")
        found = remote.call(settings, "GET", "/api/v1/gateway/routes")["routes"]
        current = next((r for r in found if (r["endpoint"], r["environment"]) == (key, env)), None)
        body = {"endpoint": endpoint, "environment": env, **merged(current)}
        return remote.call(settings, "PUT", "/api/v1/gateway/routes", body)

    def here(ws, who) -> dict:
        with ws.write(who) as session:
            key = routes.endpoint_key(session, endpoint)
            found = routes.list_routes(session)
            current = next((r for r in found if (r.endpoint, r.environment) == (key, env)), None)
            route = merged(current.as_dict() if current else None)
            return routes.set_route(
                session, who, endpoint, env, route.pop("upstream"), **route
            ).as_dict()

    done = context.change(ctx, as_user, remote=through_api, local=here)
    context.output(fmt, done, lambda: _print_route(done))


@route_app.command("remove")
def route_remove(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., metavar="ENDPOINT_REF"),
    env: str = typer.Option(..., "--env", help=ENV_HELP),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Remove a route."""
    from urllib.parse import urlencode

    from keel.gateway import routes

    def here(ws, who) -> None:
        with ws.write(who) as session:
            routes.remove_route(session, who, endpoint, env)

    query = urlencode({"endpoint": endpoint, "environment": env})
    context.change(
        ctx,
        as_user,
        remote=lambda settings: remote.call(settings, "DELETE", f"/api/v1/gateway/routes?{query}"),
        local=here,
    )
    context.output(
        fmt,
        {"endpoint": endpoint, "environment": env, "removed": True},
        lambda: console.print(f"removed the route of {endpoint} in {env}", markup=False),
    )


def _print_route(r: dict) -> None:
    limits = " ".join(f"{k}={r[k]}" for k in ("model", "rpm", "tpm", "timeout", "capture") if r[k])
    if r.get("credential_env"):
        limits += f" upstream-key-env={r['credential_env']}"
    limits += f" limits-fail={r['limits_fail']}"
    if r.get("allow_ungoverned"):
        limits += " allow-ungoverned"
    limits += " guard=" + ("off" if r["guard"] is False else "custom" if r["guard"] else "default")
    console.print(
        f"{r['endpoint']}  {r['environment']:10}  {r['upstream']}  {limits}", markup=False
    )


@route_app.command("list")
def route_list(
    ctx: typer.Context, fmt: str = FORMAT_OPTION, json_alias: bool = JSON_OPTION
) -> None:
    """List routes."""
    from keel.gateway import routes

    with context.workspace(ctx) as ws, ws.read() as session:
        found = [r.as_dict() for r in routes.list_routes(session)]
    if context.is_json(fmt, json_alias):
        print_json(found)
        return
    for r in found:
        _print_route(r)


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    consumer: str = typer.Option(..., "--consumer", metavar="NAME", help="Who uses it."),
    endpoint: list[str] = typer.Option(
        ..., "--endpoint", metavar="REF", help="An API it may call (repeatable)."
    ),
    env: str = typer.Option(..., "--env", help=ENV_HELP),
    operation: list[str] | None = typer.Option(
        None, "--operation", help="chat, embeddings, predict, models (repeatable; default all)."
    ),
    rpm: int | None = typer.Option(None, "--rpm", min=1, help="Requests per minute."),
    tpm: int | None = typer.Option(None, "--tpm", min=1, help="Tokens per minute."),
    expires: str | None = typer.Option(
        None, "--expires", metavar="DURATION", help="e.g. 90d, 12h, 30m."
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Create a key for a consumer; the key is printed once, only here."""
    from keel.gateway import keys

    ttl = parse_duration(expires) if expires else None

    def through_api(settings) -> dict:
        if ttl is not None and ttl % timedelta(minutes=1):
            raise typer.BadParameter("through the API, expiry is in whole minutes")
        body = {
            "consumer": consumer,
            "endpoints": endpoint,
            "environment": env,
            "operations": operation or None,
            "rpm": rpm,
            "tpm": tpm,
            "expires_in_minutes": int(ttl.total_seconds() // 60) if ttl else None,
        }
        answer = remote.call(settings, "POST", "/api/v1/gateway/keys", body)
        return {"id": answer["id"], "expires_at": answer["expires_at"], "key": answer["key"]}

    def here(ws, who) -> dict:
        with ws.write(who) as session:
            key, secret = keys.create_key(
                session,
                who,
                consumer,
                endpoint,
                env,
                operations=operation or None,
                rpm=rpm,
                tpm=tpm,
                ttl=ttl,
            )
        return {"id": key.id, "expires_at": key.expires_at, "key": secret}

    done = context.change(ctx, as_user, remote=through_api, local=here)
    done.update(consumer=consumer, environment=env)
    if fmt == "json":
        print_json(done)
        return
    context.err_console.print(
        f"key {done['id']} for {consumer} ({env}), expires {done['expires_at'] or 'never'}",
        markup=False,
    )
    print(done["key"])


@key_app.command("list")
def key_list(ctx: typer.Context, fmt: str = FORMAT_OPTION, json_alias: bool = JSON_OPTION) -> None:
    """List live keys (never their secrets)."""
    from keel.gateway import keys

    with context.workspace(ctx) as ws, ws.read() as session:
        found = [k.as_dict() for k in keys.list_keys(session)]
    if context.is_json(fmt, json_alias):
        print_json(found)
        return
    for k in found:
        limits = " ".join(f"{n}={k[n]}" for n in ("rpm", "tpm") if k[n])
        console.print(
            f"{k['id']}  {k['consumer']}  {k['environment']:10}  {','.join(k['endpoints'])}  "
            f"{limits}  expires {k['expires_at'] or 'never'}",
            markup=False,
        )


@key_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    key: str | None = typer.Argument(None, metavar="KEY", help="The key's id, or the key."),
    consumer: str | None = typer.Option(
        None, "--consumer", metavar="NAME", help="Revoke every key of a consumer."
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Revoke a key, or every key of a consumer; running gateways refuse it within 2 s."""
    from urllib.parse import quote

    from keel.gateway import keys

    if bool(key) == bool(consumer):
        raise typer.BadParameter("give a KEY or --consumer, not both")
    path = (
        f"/api/v1/gateway/keys/{quote(key, safe='')}"
        if key
        else f"/api/v1/gateway/consumers/{quote(consumer or '', safe='')}/keys"
    )

    def here(ws, who) -> list[str]:
        with ws.write(who) as session:
            return keys.revoke_keys(session, who, key=key, consumer=consumer)

    revoked = context.change(
        ctx,
        as_user,
        remote=lambda settings: remote.call(settings, "DELETE", path)["revoked"],
        local=here,
    )
    context.output(
        fmt,
        {"revoked": revoked},
        lambda: console.print(f"revoked {', '.join(revoked)}", markup=False),
    )
