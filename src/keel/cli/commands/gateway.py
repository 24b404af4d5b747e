"""`keel gateway` (run the data plane), `keel route` and `keel key` (its config), and
`keel serve-model` (the demo's model server, an upstream for the gateway)."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from keel.cli import context, remote
from keel.cli.context import AS_OPTION, console, print_json
from keel.errors import UsageError

route_app = typer.Typer(
    help="Gateway routes: endpoint x environment -> upstream.", no_args_is_help=True
)
key_app = typer.Typer(
    help="Gateway API keys: create (shown once), list, revoke.", no_args_is_help=True
)
ENV_HELP = "staging or production."


def register(root: typer.Typer) -> None:
    root.command("gateway")(gateway)
    root.command("serve-model")(serve_model)
    root.add_typer(route_app, name="route")
    root.add_typer(key_app, name="key")


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
        None, "--artifacts", metavar="DIR", help="Model folder (default <home>/artifacts)."
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


@route_app.command("set")
def route_set(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., metavar="ENDPOINT_REF", help="An API of the map."),
    env: str = typer.Option(..., "--env", help=ENV_HELP),
    upstream: str = typer.Option(..., "--upstream", metavar="URL", help="e.g. http://h:p/v1"),
    model: str | None = typer.Option(None, "--model", help="The upstream's name for it."),
    rpm: int | None = typer.Option(None, "--rpm", min=1, help="Requests/min, all keys."),
    tpm: int | None = typer.Option(None, "--tpm", min=1, help="Tokens/min, all keys."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.1, help="Upstream timeout, s."),
    capture: bool = typer.Option(
        False, "--capture/--no-capture", help="Store redacted payloads in the traffic log."
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
    limits_fail: str = typer.Option(
        "closed",
        "--limits-fail",
        help="When the rate-limit store (Redis) is down: closed (refuse, 503) or open "
        "(serve, recorded as limit: unchecked).",
    ),
    as_user: str | None = AS_OPTION,
) -> None:
    """Route ENDPOINT_REF in an environment to an upstream (replaces an existing route)."""
    from keel.gateway import routes

    upstream = routes.check_upstream(upstream)  # here too: a refused URL goes nowhere
    context.check_choice(limits_fail, routes.LIMITS_FAIL, "--limits-fail")
    if guard_file and no_guard:
        raise UsageError("--guard and --no-guard exclude each other")
    guard: dict | bool | None = None
    if no_guard:
        guard = False
    elif guard_file:
        from pathlib import Path

        from keel.cli.commands.guard import policy_mapping
        from keel.guard.policy import parse_policy

        guard = policy_mapping(Path(guard_file)) or {}
        parse_policy(guard)  # refuse a bad file here, one line per problem
    settings = context.state(ctx).settings()
    if remote.enabled(settings):
        body = {
            "endpoint": endpoint,
            "environment": env,
            "upstream": upstream,
            "model": model,
            "rpm": rpm,
            "tpm": tpm,
            "timeout": timeout,
            "capture": capture,
            "credential_env": credential_env,
            "guard": guard,
            "limits_fail": limits_fail,
        }
        done = remote.call(settings, "PUT", "/api/v1/gateway/routes", body)
    else:
        actor = context.actor(ctx, as_user)
        with context.workspace(ctx) as ws, ws.write(actor) as session:
            done = routes.set_route(
                session,
                actor,
                endpoint,
                env,
                upstream,
                model=model,
                rpm=rpm,
                tpm=tpm,
                timeout=timeout,
                capture=capture,
                credential_env=credential_env,
                guard=guard,
                limits_fail=limits_fail,
            ).as_dict()
    console.print(
        f"route {done['endpoint']} ({done['environment']}) -> {done['upstream']}", markup=False
    )


@route_app.command("remove")
def route_remove(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., metavar="ENDPOINT_REF"),
    env: str = typer.Option(..., "--env", help=ENV_HELP),
    as_user: str | None = AS_OPTION,
) -> None:
    """Remove a route."""
    from keel.gateway import routes

    settings = context.state(ctx).settings()
    if remote.enabled(settings):
        from urllib.parse import urlencode

        query = urlencode({"endpoint": endpoint, "environment": env})
        remote.call(settings, "DELETE", f"/api/v1/gateway/routes?{query}")
    else:
        actor = context.actor(ctx, as_user)
        with context.workspace(ctx) as ws, ws.write(actor) as session:
            routes.remove_route(session, actor, endpoint, env)
    console.print(f"removed the route of {endpoint} in {env}", markup=False)


@route_app.command("list")
def route_list(
    ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """List routes."""
    from keel.gateway import routes

    with context.workspace(ctx) as ws, ws.read() as session:
        found = [r.as_dict() for r in routes.list_routes(session)]
    if json_out:
        print_json(found)
        return
    for r in found:
        limits = " ".join(
            f"{k}={r[k]}" for k in ("model", "rpm", "tpm", "timeout", "capture") if r[k]
        )
        limits += f" limits-fail={r['limits_fail']}"
        limits += " guard=" + (
            "off" if r["guard"] is False else "custom" if r["guard"] else "default"
        )
        console.print(
            f"{r['endpoint']}  {r['environment']:10}  {r['upstream']}  {limits}", markup=False
        )


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
    as_user: str | None = AS_OPTION,
) -> None:
    """Create a key for a consumer; the key is printed once, only here."""
    from keel.gateway import keys

    ttl = parse_duration(expires) if expires else None
    settings = context.state(ctx).settings()
    if remote.enabled(settings):
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
        key_id, expires_at, secret = answer["id"], answer["expires_at"], answer["key"]
    else:
        actor = context.actor(ctx, as_user)
        with context.workspace(ctx) as ws, ws.write(actor) as session:
            key, secret = keys.create_key(
                session,
                actor,
                consumer,
                endpoint,
                env,
                operations=operation or None,
                rpm=rpm,
                tpm=tpm,
                ttl=ttl,
            )
        key_id, expires_at = key.id, key.expires_at
    context.err_console.print(
        f"key {key_id} for {consumer} ({env}), expires {expires_at or 'never'}", markup=False
    )
    print(secret)


@key_app.command("list")
def key_list(
    ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """List live keys (never their secrets)."""
    from keel.gateway import keys

    with context.workspace(ctx) as ws, ws.read() as session:
        found = [k.as_dict() for k in keys.list_keys(session)]
    if json_out:
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
    as_user: str | None = AS_OPTION,
) -> None:
    """Revoke a key, or every key of a consumer; running gateways refuse it within 2 s."""
    from keel.gateway import keys

    if bool(key) == bool(consumer):
        raise typer.BadParameter("give a KEY or --consumer, not both")
    settings = context.state(ctx).settings()
    if remote.enabled(settings):
        from urllib.parse import quote

        path = (
            f"/api/v1/gateway/keys/{quote(key, safe='')}"
            if key
            else f"/api/v1/gateway/consumers/{quote(consumer or '', safe='')}/keys"
        )
        revoked = remote.call(settings, "DELETE", path)["revoked"]
    else:
        actor = context.actor(ctx, as_user)
        with context.workspace(ctx) as ws, ws.write(actor) as session:
            revoked = keys.revoke_keys(session, actor, key=key, consumer=consumer)
    console.print(f"revoked {', '.join(revoked)}", markup=False)
