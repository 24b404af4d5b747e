"""Every error Keel raises on purpose, in one hierarchy.

    KeelError                     root; `exit_code` is what the CLI exits with
    ├── UsageError                a user mistake: bad input, unknown reference (exit 2)
    │   ├── InputError            input that fails to parse or validate; holds one line per problem
    │   ├── NotFoundError         a reference to something that does not exist
    │   └── IdentityError         no usable identity for an action that needs one
    ├── WorkspaceError            the workspace is missing, outdated or in the wrong mode (exit 2)
    └── PermissionDenied          the actor may not do this (exit 3)

Errors from libraries below (SQLAlchemy, PyYAML, pydantic) are translated where they are
caught, so a user only ever sees one of these, as one line per problem.
"""

from __future__ import annotations


class KeelError(Exception):
    """Root of all errors Keel raises on purpose."""

    exit_code = 1


class UsageError(KeelError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class InputError(UsageError):
    """Input that fails to parse or validate. `problems` holds one line per problem."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class NotFoundError(UsageError):
    """A reference to something that does not exist."""


class IdentityError(UsageError):
    """No usable identity for an action that records an actor."""


class WorkspaceError(KeelError):
    """The workspace is missing, outdated, or in a mode that forbids the action."""

    exit_code = 2


class PermissionDenied(KeelError):
    """The actor is known but may not do this."""

    exit_code = 3
