"""Release tests act as the credit system's ML engineer."""

from __future__ import annotations

import pytest

from keel.identity import Actor, user_actor


@pytest.fixture
def engineer() -> Actor:
    """The credit system's ML engineer in the demo catalog."""
    return user_actor("user:default/ana.lima", "local")
