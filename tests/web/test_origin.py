"""The login forms' origin check, over generated headers: a post is accepted exactly when
its Origin is this server's, or, with no Origin, its Referer is a URL of this server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from keel.errors import PermissionDenied
from keel.web.pages.auth import same_origin

OWN = "http://keel.test:8400"
origins = st.one_of(
    st.just(OWN),
    st.just("null"),
    st.just("https://keel.test:8400"),
    st.just("http://keel.test"),
    st.just("http://evil.example"),
    st.text(max_size=30),
)
referers = st.one_of(
    st.builds(lambda p: f"{OWN}/{p}", st.text("abc/?=&", max_size=10)),
    st.builds(lambda p: f"http://evil.example/{p}", st.text("abc/", max_size=5)),
    st.just(f"{OWN}.evil.example/login"),
    st.just("/login"),
    st.text(max_size=30),
)


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"host", b"keel.test:8400"))
    scope = {"type": "http", "method": "POST", "scheme": "http", "path": "/login",
             "server": ("keel.test", 8400), "headers": raw, "query_string": b""}  # fmt: skip
    return Request(scope)


@given(origin=st.none() | origins, referer=st.none() | referers)
def test_accepted_exactly_from_our_own_pages(origin, referer):
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if referer is not None:
        headers["Referer"] = referer
    headers = {k: v for k, v in headers.items() if v.isascii() and v.isprintable()}
    origin, referer = headers.get("Origin"), headers.get("Referer")
    if origin is not None:
        expected = origin == OWN
    else:
        expected = referer is not None and (
            referer == OWN or (referer.startswith(OWN) and referer[len(OWN)] in "/?#")
        )
    if expected:
        same_origin(_request(headers))
    else:
        with pytest.raises(PermissionDenied):
            same_origin(_request(headers))


@pytest.mark.parametrize(
    "host, origin",
    [
        ("keel.example:443", "https://keel.example"),
        ("KEEL.Example", "https://keel.example"),
        ("keel.example", "HTTPS://KEEL.EXAMPLE:443"),
    ],
)
def test_origins_compare_without_case_or_default_port(host, origin):
    """Review finding 11: an exact comparison refused every login behind these."""
    scope = {"type": "http", "method": "POST", "scheme": "https", "path": "/login",
             "headers": [(b"host", host.encode()), (b"origin", origin.encode())],
             "query_string": b""}  # fmt: skip
    same_origin(Request(scope))


def test_a_configured_public_url_is_the_only_origin(tmp_path):
    """Behind a TLS proxy the server sees http://127.0.0.1:8400; KEEL_PUBLIC_URL names the
    origin browsers use, and a rebinding Host: is no longer trusted."""
    from types import SimpleNamespace

    from keel.config import load_settings

    settings = load_settings(tmp_path, env={"KEEL_PUBLIC_URL": "https://keel.example"})
    app = SimpleNamespace(state=SimpleNamespace(workspace=SimpleNamespace(settings=settings)))

    def post(origin: str) -> Request:
        return Request({"type": "http", "method": "POST", "scheme": "http", "path": "/login",
                        "headers": [(b"host", b"127.0.0.1:8400"), (b"origin", origin.encode())],
                        "query_string": b"", "app": app})  # fmt: skip

    same_origin(post("https://keel.example:443"))
    for foreign in ("http://127.0.0.1:8400", "http://keel.example", "https://evil.example"):
        with pytest.raises(PermissionDenied):
            same_origin(post(foreign))
