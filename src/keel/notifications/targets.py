"""Where notifications go, checked before anything is stored: webhook URLs, e-mail addresses,
and references to secrets.

- A webhook URL is `http` or `https`, with a host, without credentials in it, and never the
  control plane itself (its configured origins: KEEL_PUBLIC_URL, KEEL_URL, the address an API
  request came to, and the default `keel serve` address) - a subscription must not make Keel
  call its own API.
- A secret (a webhook's signing key, the SMTP password) is a reference, `env:NAME` or
  `file:/absolute/path`, resolved only when a delivery is attempted; a literal is refused, so
  no table or event ever holds one.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from keel.errors import InputError, UsageError

DEFAULT_SERVE = ("127.0.0.1", 8400)  # `keel serve` without --host/--port
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LOOPBACK = "loopback"


def _host_key(host: str) -> str:
    """One spelling per host: every loopback and unspecified address is `loopback`."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return LOOPBACK
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.is_loopback or address.is_unspecified:
        return LOOPBACK
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None and (mapped.is_loopback or mapped.is_unspecified):
        return LOOPBACK
    return str(address)


def origin(url: str) -> tuple[str, int] | None:
    """(host key, port) of an http(s) URL, or None when it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return _host_key(parts.hostname), port or (443 if parts.scheme == "https" else 80)


def control_plane(*urls: str | None, bound: tuple[str, int] | None = None) -> set[tuple[str, int]]:
    """The control plane's own origins: the configured URLs, the address it is bound to."""
    found = {(_host_key(DEFAULT_SERVE[0]), DEFAULT_SERVE[1])}
    if bound is not None:
        found.add((_host_key(bound[0]), bound[1]))
    found |= {o for u in urls if u and (o := origin(u)) is not None}
    return found


def check_webhook(url: str, own: set[tuple[str, int]]) -> str:
    """The URL, stripped, or InputError with one line saying why it cannot be a webhook."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # a bad port raises here
    except ValueError as exc:
        raise InputError(f"webhook URL {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InputError(f"webhook URL must be http or https, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise InputError(f"webhook URL {url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise InputError(
            "webhook URL must not carry credentials (user:password@); "
            "receivers check the signature instead"
        )
    if any(c.isspace() for c in url) or len(url) > 2000:
        raise InputError("webhook URL must be at most 2000 characters, without spaces")
    where = origin(url)
    if where in own:
        raise InputError(
            f"webhook URL points at the control plane itself ({parts.hostname}:{where[1]})"  # type: ignore[index]
        )
    return url


RECIPIENTS = "(recipients)"  # an e-mail target: the people the event names, not one address


def check_email(address: str) -> str:
    address = address.strip()
    if len(address) > 254 or not EMAIL.match(address):
        raise InputError(f"{address!r} is not an e-mail address (name@example.org)")
    return address


def check_ref(ref: str, what: str) -> str:
    """`env:NAME` or `file:/absolute/path`; anything else (a literal secret) is refused."""
    ref = ref.strip()
    kind, _, rest = ref.partition(":")
    if kind == "env" and ENV_NAME.match(rest):
        return ref
    if kind == "file" and rest.startswith("/") and "\n" not in rest:
        return ref
    raise InputError(
        f"{what} must be a reference, env:NAME or file:/absolute/path, never the secret itself"
    )


def resolve_ref(ref: str, what: str) -> str:
    """The secret a checked reference names, read now; UsageError when it cannot be read."""
    kind, _, rest = check_ref(ref, what).partition(":")
    if kind == "env":
        value = os.environ.get(rest)
        if not value:
            raise UsageError(f"{what} {ref}: the environment variable {rest} is not set")
        return value
    try:
        value = Path(rest).read_text().strip()
    except OSError as exc:
        raise UsageError(f"{what} {ref}: cannot read it: {exc.strerror or exc}") from None
    if not value:
        raise UsageError(f"{what} {ref}: the file is empty")
    return value


def shown(url: str) -> str:
    """A webhook URL as events and lists show it: without its query (often a token)."""
    parts = urlsplit(url)
    return parts._replace(query="…" if parts.query else "", fragment="").geturl()
