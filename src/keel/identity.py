"""Who acts: every event names an actor, decided here once for every package.

- Through the API the actor is the user its bearer token belongs to (`via: "token"`).
- On the local CLI against the workspace's own store it is `--as user:NAME`, else
  `KEEL_USER`, else the operating-system login: a *local* identity (`via: "local"`),
  recorded as such, since nothing proves it.
- A workspace in server mode refuses local identities for changes: the CLI must go through
  the API (KEEL_URL + KEEL_TOKEN), so that separation of duties means something.
- Keel itself, for work no person asked for (a scheduled job), acts as `via: "system"`.

Roles in a delivery pod are checked against the pod alone (`keel.catalog.pods`): an admin
token never stands in for a pod role it does not hold.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Literal

from keel.catalog.refs import parse_ref
from keel.errors import IdentityError

Via = Literal["local", "token", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    id: str  # a normalised user reference: user:namespace/name
    via: Via

    def record(self) -> dict[str, str]:
        """The actor as written into an event."""
        return {"id": self.id, "via": self.via}


def user_actor(ref: str, via: Via) -> Actor:
    """An actor for a user reference (`alice`, `user:alice`, `user:ops/alice`)."""
    try:
        parsed = parse_ref(ref, default_kind="user")
    except ValueError as exc:
        raise IdentityError(f"identity: {exc}") from None
    if parsed.kind.lower() != "user":
        raise IdentityError(f"identity: {ref!r} is a {parsed.kind}, not a user")
    return Actor(parsed.key, via)


def local_actor(as_user: str | None, env_user: str | None) -> Actor:
    """The local CLI's identity: --as, then KEEL_USER, then the OS login."""
    chosen = as_user or env_user
    if not chosen:
        try:
            chosen = getpass.getuser()
        except (KeyError, OSError):
            raise IdentityError(
                "identity: no login name; pass --as user:NAME or set KEEL_USER"
            ) from None
    return user_actor(chosen, "local")


SYSTEM = Actor("user:keel/system", "system")
