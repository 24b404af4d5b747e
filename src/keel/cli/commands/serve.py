"""`keel serve`: run the control plane (API and web UI), and the address links point at.

The address a control plane serves on is remembered in the workspace (KEEL_HOME/served-url)
so that `keel login-link` prints links to it, not to a fixed port.
"""

from __future__ import annotations

import typer

from keel.cli import context
from keel.config import Settings

DEFAULT_PORT = 8400
SERVED_FILE = "served-url"


def url_of(host: str, port: int) -> str:
    """The URL a browser on this host opens for a server bound to `host`:`port`."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def remember(settings: Settings, url: str) -> None:
    """Record where this workspace's control plane serves, for the links printed later."""
    (settings.home / SERVED_FILE).write_text(url + "\n", encoding="utf-8")


def base_url(settings: Settings) -> str:
    """Where links point: KEEL_PUBLIC_URL, else KEEL_URL, else where `keel serve` (or
    `keel demo`) last served this workspace, else the default port here."""
    if settings.public_url or settings.url:
        return (settings.public_url or settings.url or "").rstrip("/")
    try:
        served = (settings.home / SERVED_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        served = ""
    return served or url_of("127.0.0.1", DEFAULT_PORT)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Run the control plane: API at /api/v1, web UI at /."""
    import uvicorn

    from keel.api import create_app
    from keel.workspace import open_workspace

    settings = context.state(ctx).settings()
    open_workspace(settings).close()  # fail now, with one line, if the workspace is not ready
    url = url_of(host, port)
    remember(settings, url)
    print(f"Keel control plane on {url}/  (the API under /api/v1: {url}/api/v1/openapi.json)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
