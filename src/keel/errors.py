"""Every error Keel raises on purpose, in one hierarchy.

Each class carries what the CLI exits with (`exit_code`) and what the API answers with
(`http_status`), side by side; `keel.api.problems` reads the status from the error.

    KeelError                     root                                          exit 1  500
    ├── UsageError                a user mistake that cannot be done as asked   exit 2  400
    │   ├── InputError            input that fails to parse or validate;        exit 2  422
    │   │                         holds one line per problem
    │   ├── NotFoundError         a reference to something that does not exist  exit 2  404
    │   ├── IdentityError         no usable identity for an action that needs   exit 2  400
    │   └── ConflictError         the state forbids it now: "already serves",   exit 2  409
    │                             "already approved", "already finished"
    ├── WorkspaceError            the workspace is missing, outdated or in      exit 2  409
    │                             the wrong mode
    └── PermissionDenied          the actor may not do this                     exit 3  403
        └── NoStanding            the actor holds no role that could ever allow exit 3  403
                                  it (outside the pod): refused without a governance
                                  event, counted instead (see keel.pipeline.refusals)

Deliberately outside the hierarchy, each with its own boundary:

- `keel.api.problems.Problem`: an HTTP answer chosen by an endpoint (carries its status).
- `keel.gateway.errors.GatewayError`: the gateway's answers to its clients, with OpenAI-
  style codes; the gateway never raises a KeelError to a client.
- `keel.gateway.errors.UpstreamStatus`: an upstream's redirect or 5xx inside the gateway,
  turned into a 502 by `keel.gateway.errors.translate`.
- `keel.gateway.ratelimit.Unavailable`: the limit store could not be asked; the route's
  `limits_fail` setting decides between a 503 and serving the request unchecked.
- `keel.guard.chat.GuardBlocked`: a guard's verdict inside the gateway, not a mistake.
- `keel.worker.registry.JobFailed`: a job's verdict that its slot failed, keeping what it
  wrote (the registry imports no other Keel module, so it cannot derive from KeelError).
- `keel.web.pages.LoginRequired`: a page without a session, answered by a redirect to /login.
- `keel.cli.remote.Refused` is a KeelError: a 409 from the control plane, exit 1.

Errors from libraries below (SQLAlchemy, PyYAML, pydantic) are translated where they are
caught, so a user only ever sees one of these, as one line per problem.
"""

from __future__ import annotations


class KeelError(Exception):
    """Root of all errors Keel raises on purpose."""

    exit_code = 1
    http_status = 500


class UsageError(KeelError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2
    http_status = 400


class InputError(UsageError):
    """Input that fails to parse or validate. `problems` holds one line per problem."""

    http_status = 422

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class NotFoundError(UsageError):
    """A reference to something that does not exist."""

    http_status = 404


class IdentityError(UsageError):
    """No usable identity for an action that records an actor."""


class ConflictError(UsageError):
    """The request is well formed but the current state forbids it (it already happened)."""

    http_status = 409


class WorkspaceError(KeelError):
    """The workspace is missing, outdated, or in a mode that forbids the action."""

    exit_code = 2
    http_status = 409


class PermissionDenied(KeelError):
    """The actor is known but may not do this."""

    exit_code = 3
    http_status = 403


class NoStanding(PermissionDenied):
    """The actor holds no role that could allow this at all (e.g. is outside the pod).

    Such refusals are not governance decisions: they are counted, not appended to the log,
    so one caller cannot flood it."""
