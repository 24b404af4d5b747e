"""The browser tests' shared fixtures: one demo workspace served by a real server (uvicorn in
a thread) for the whole session, and Debian's Chromium driven by Playwright.

`make test` installs Chromium; off CI a machine without it skips, on CI it fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.api import create_app
from keel.demo import build_demo
from tests.conftest import ON_CI
from tests.servers import serving

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    demo = build_demo(tmp_path_factory.mktemp("ui") / "demo", progress=lambda _: None)
    with serving(create_app(demo.settings)) as url:
        yield url, demo


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if ON_CI:
            pytest.fail("Chromium must be installed on CI (make test installs it)")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A desktop-sized page that fails the test on any console error or script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == [], errors


def fresh_login_code(demo, role: str = "viewer", user: str | None = None) -> str:
    """A one-time login link's code for `user` (default the demo's admin user), with `role`."""
    from keel.auth import create_token
    from keel.demo.build import ADMIN
    from keel.identity import user_actor
    from keel.workspace import open_workspace

    ws = open_workspace(demo.settings)
    try:
        actor = user_actor(ADMIN, "local")
        with ws.write(actor) as session:
            return create_token(session, actor, user or ADMIN, role, kind="login")[1]
    finally:
        ws.close()


def log_in(page, base: str, demo, role: str = "admin", user: str | None = None) -> None:
    page.goto(f"{base}/login/code?c={fresh_login_code(demo, role, user)}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
