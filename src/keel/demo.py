"""The demo workspace: a bank with two AI systems, built fresh from `examples/demo`."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from keel.catalog import service
from keel.catalog.apply import ApplyResult
from keel.config import DB_FILE, Settings
from keel.errors import UsageError
from keel.identity import user_actor
from keel.workspace import init_workspace

MARKER = ".keel-demo"
DEMO_ADMIN = "user:default/ana.lima"


def examples_dir() -> Path:
    """`examples/` as installed in the wheel, or in the source tree for an editable install."""
    here = Path(__file__).parent
    for candidate in (here / "_examples", here.parents[1] / "examples"):
        if (candidate / "demo").is_dir():
            return candidate
    raise UsageError("the demo catalog is missing from this installation")


@dataclass
class Demo:
    home: Path
    applied: ApplyResult


def build_demo(home: Path) -> Demo:
    """A fresh demo workspace in `home` (an earlier demo there is replaced; nothing else is)."""
    home = home.absolute()
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise UsageError(
                f"{home} exists and is not a Keel demo workspace; choose another --home"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("built by `keel demo`; safe to delete\n")
    settings = Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}")
    actor = user_actor(DEMO_ADMIN, "local")
    ws, _ = init_workspace(settings, actor)
    try:
        loaded = service.load([examples_dir() / "demo" / "catalog"])
        with ws.write(actor) as session:
            applied = service.apply(session, actor, loaded.entities)
    finally:
        ws.close()
    return Demo(home, applied)
