"""The environments a release is promoted to, in order: one Literal, and its values as a tuple.

Policies name them (`approvals`), promotions and the gateway's routes are per environment,
and the API validates them with the same Literal.
"""

from __future__ import annotations

from typing import Literal, get_args

from keel.errors import UsageError

Environment = Literal["staging", "production"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)


def check_environment(environment: str) -> str:
    """`environment` if it is one of ENVIRONMENTS; UsageError (exit 2, HTTP 4xx) otherwise."""
    if environment not in ENVIRONMENTS:
        raise UsageError(f"environment {environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    return environment
