"""The base of every JSON request body: `keel.models.Strict` (unknown fields are refused).

Nested objects of a body derive from it too, and so do the models the services validate a
body's free-form parts with (evidence, run facts, guard policies): one mechanism, one line
naming the field, its path and the accepted ones, at any depth.
"""

from __future__ import annotations

from keel.models import Strict, unknown_field

Body = Strict

__all__ = ["Body", "unknown_field"]
