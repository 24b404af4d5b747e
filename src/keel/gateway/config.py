"""The gateway's view of its configuration: one immutable snapshot, rebuilt on change.

`load` reads keys and routes through their service functions, the map through the catalog,
and which release each environment serves through `keel.pipeline.promotion.where`; the
running gateway never queries a table itself. The snapshot's `version` is the head of the
governance log: every change to a route, a key or a promotion is an event there, so a
gateway that polls `version()` each second (`keel.gateway.watch`) notices any of them.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from keel import audit
from keel.catalog.queries import get_entity
from keel.errors import KeelError
from keel.gateway import keys as keys_
from keel.gateway import routes as routes_
from keel.gateway.routes import Route
from keel.pipeline.promotion import where


@dataclass(frozen=True, slots=True)
class Grant:
    """A live key, ready for the hot path."""

    id: str
    consumer: str
    environment: str
    endpoints: frozenset[str]
    operations: frozenset[str]
    rpm: int | None
    tpm: int | None
    expires: float | None  # epoch seconds

    def only_endpoint(self) -> str | None:
        return next(iter(self.endpoints)) if len(self.endpoints) == 1 else None


@dataclass(frozen=True)
class Snapshot:
    version: int
    keys: dict[str, Grant] = field(default_factory=dict)  # digest -> grant
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # lower-cased model name -> endpoint
    names: dict[str, str] = field(default_factory=dict)  # endpoint -> the name clients use
    # (endpoint, environment) -> the releases serving it, sorted (empty before a promotion)
    releases: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    loaded_at: float = 0.0
    # (endpoint, "production") -> why no release governs it, for each production route
    # that serves nothing promoted: the gateway refuses it unless the route allows it
    ungoverned: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, model: str) -> str | None:
        return self.aliases.get(model.lower())


def version(session: Session) -> int:
    return audit.head(session)


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))


def load(session: Session) -> Snapshot:
    current = version(session)
    grants = {
        k.digest: Grant(
            k.id,
            k.consumer,
            k.environment,
            frozenset(k.endpoints),
            frozenset(k.operations),
            k.rpm,
            k.tpm,
            _epoch(k.expires_at),
        )
        for k in keys_.list_keys(session, expired=True)  # told apart from unknown ones
    }
    routes = {(r.endpoint, r.environment): r for r in routes_.list_routes(session)}
    endpoints = sorted({e for e, _ in routes} | {e for g in grants.values() for e in g.endpoints})
    names = _names(endpoints)
    releases, models = _releases(session, routes)
    return Snapshot(
        current,
        grants,
        routes,
        _aliases(endpoints),
        names,
        releases,
        time.time(),
        {
            (endpoint, environment): ungoverned_reason(names[endpoint], models.get(endpoint, ()))
            for (endpoint, environment) in routes
            if environment == GOVERNED and not releases.get((endpoint, environment))
        },
    )


GOVERNED = "production"  # the environment no traffic reaches without a release behind it


def ungoverned_reason(name: str, models: tuple[str, ...]) -> str:
    """Why a production route serves no release, and the two commands that change that."""
    if models:
        what = f"{', '.join(models)} {'has' if len(models) == 1 else 'have'} no release"
        what += " promoted to production"
    else:
        what = "the map names no model it depends on, so no release can govern it"
    return (
        f"{name} is not governed in production: {what}; promote a release "
        f"(keel release promote RELEASE --to production), or let the route serve "
        f"ungoverned traffic (keel route set {name} --env production --allow-ungoverned)"
    )


def _names(endpoints: list[str]) -> dict[str, str]:
    short = [e.partition("/")[2] for e in endpoints]
    return {e: s if short.count(s) == 1 else e for e, s in zip(endpoints, short, strict=True)}


def _aliases(endpoints: list[str]) -> dict[str, str]:
    """Every spelling of an endpoint a client may put in `model`; a short name only when no
    other endpoint shares it."""
    out: dict[str, str] = {}
    names = _names(endpoints)
    for endpoint in endpoints:
        kind, _, rest = endpoint.partition(":")
        namespace, _, name = rest.partition("/")
        spellings = [endpoint, rest]
        if namespace == "default":
            spellings.append(f"{kind}:{name}")
        if names[endpoint] == name:
            spellings.append(name)
        for spelling in spellings:
            out[spelling.lower()] = endpoint
    return out


def _releases(
    session: Session, routes: dict[tuple[str, str], Route]
) -> tuple[dict[tuple[str, str], tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """The releases each routed environment serves: the promoted releases of the models the
    endpoint depends on (none before any promotion); and those models, per endpoint."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    depends: dict[str, tuple[str, ...]] = {}
    by_system: dict[str, list[dict]] = {}
    for endpoint, environment in routes:
        try:
            entity = get_entity(session, endpoint)
        except KeelError:
            out[(endpoint, environment)] = ()
            continue
        spec = entity["entity"].get("spec", {})
        models = {r["target"] for r in entity["relations"] if r["target"].startswith("model:")}
        depends[endpoint] = tuple(sorted(models))
        system = spec.get("system")
        if not system or not models:
            out[(endpoint, environment)] = ()
            continue
        if system not in by_system:
            try:
                by_system[system] = where(session, system)
            except KeelError:
                by_system[system] = []
        out[(endpoint, environment)] = tuple(
            sorted(
                row["release"]
                for row in by_system[system]
                if row["environment"] == environment and row["model"] in models
            )
        )
    return out, depends
