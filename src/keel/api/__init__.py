"""The control plane's HTTP API (`/api/v1`), one router per package, over the service functions.

`create_app()` builds the ASGI app that `keel serve` runs: the API, the web UI and
`/healthz`. Errors are RFC 9457 problem documents (`application/problem+json`).
"""

from keel.api.app import create_app

__all__ = ["create_app"]
