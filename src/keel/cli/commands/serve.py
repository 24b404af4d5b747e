"""`keel serve`: run the control plane (API and web UI)."""

from __future__ import annotations

import typer

from keel.cli import context

DEFAULT_PORT = 8400


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)


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
    print(f"Keel control plane on http://{host}:{port}/  (API: /api/v1, docs: /api/v1/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
