"""Settings read from the environment (KEEL_*), and the paths derived from them.

KEEL_HOME          the workspace folder (default ./.keel): SQLite file, keys, local files
KEEL_DATABASE_URL  overrides the store: postgresql+psycopg://... for the scale-out store
KEEL_USER          the local identity on the CLI (same as --as)
KEEL_URL           the control plane's URL, for a workspace in server mode
KEEL_TOKEN         the API token used with KEEL_URL
KEEL_PUBLIC_URL    the web UI's public origin (behind a TLS proxy): when set, the only
                   origin whose form posts are accepted
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DB_FILE = "keel.db"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    user: str | None = None
    url: str | None = None
    token: str | None = None
    public_url: str | None = None

    @property
    def embedded(self) -> bool:
        """True when the store is the workspace's own SQLite file."""
        return self.database_url.startswith("sqlite")


def load_settings(home: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from the environment; an explicit `home` wins over KEEL_HOME."""
    env = os.environ if env is None else env
    home_path = Path(home or env.get("KEEL_HOME") or ".keel").expanduser().absolute()
    url = env.get("KEEL_DATABASE_URL") or f"sqlite:///{home_path / DB_FILE}"
    return Settings(
        home=home_path,
        database_url=url,
        user=env.get("KEEL_USER") or None,
        url=env.get("KEEL_URL") or None,
        token=env.get("KEEL_TOKEN") or None,
        public_url=env.get("KEEL_PUBLIC_URL") or None,
    )
