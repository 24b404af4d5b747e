"""Sending one attempt of a delivery: a signed webhook POST, or an e-mail over SMTP.

Each sender returns an `Outcome` and never raises for what the receiver did: `retry` says
whether another attempt may succeed (5xx, 408, 429, a time-out, a refused connection, an SMTP
server that is down or answers 4xx) or the answer is final (another 4xx, a redirect, which
is not followed, an SMTP 5xx, a missing secret).

Webhooks follow Standard Webhooks: the `webhook-id` is the delivery's id, the same on every
attempt, so a receiver can drop a repeat; `webhook-timestamp` and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, by the `standardwebhooks` library) are
made anew for each attempt.

SMTP settings come from the environment of the process that delivers (`keel worker`, or
`keel notify deliver`): KEEL_SMTP_HOST, KEEL_SMTP_PORT (587), KEEL_SMTP_STARTTLS (`true`
unless `false`), KEEL_SMTP_USERNAME, KEEL_SMTP_PASSWORD_REF (`env:NAME` or `file:/path`,
never the password), KEEL_SMTP_FROM (`keel@localhost`).
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from standardwebhooks import Webhook

from keel.errors import UsageError
from keel.notifications.targets import check_ref, resolve_ref
from keel.version import __version__

RETRIED_4XX = (408, 429)
TIMEOUT = 10.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool
    status: int | None
    error: str | None
    ms: int


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is an answer, not a new target
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def signed_headers(secret: str, msg_id: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    try:
        signer = Webhook(secret)
    except Exception as exc:  # the library raises plain errors for a secret it cannot read
        raise UsageError(
            f"the signing secret is not a Standard Webhooks secret (whsec_<base64>): {exc}"
        ) from None
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign(msg_id, now, body),
    }


def webhook(
    url: str, secret_ref: str, msg_id: str, body: str, now: datetime, *, timeout: float
) -> Outcome:
    start = time.monotonic()
    try:
        headers = signed_headers(resolve_ref(secret_ref, "signing secret"), msg_id, body, now)
    except UsageError as exc:
        return Outcome(False, False, None, str(exc), _ms(start))
    headers |= {"content-type": "application/json", "user-agent": f"keel/{__version__}"}
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(64 * 1024)
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except TimeoutError:
        return Outcome(False, True, None, f"no answer within {timeout:g} s", _ms(start))
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return Outcome(False, True, None, f"no answer within {timeout:g} s", _ms(start))
        return Outcome(False, True, None, f"cannot connect: {_reason(reason)}", _ms(start))
    except (OSError, ValueError) as exc:  # reset mid-answer, a malformed status line
        return Outcome(False, True, None, f"the connection failed: {_reason(exc)}", _ms(start))
    if 200 <= status < 300:
        return Outcome(True, False, status, None, _ms(start))
    retry = status >= 500 or status in RETRIED_4XX
    note = " (redirects are not followed)" if 300 <= status < 400 else ""
    return Outcome(False, retry, status, f"the receiver answered {status}{note}", _ms(start))


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    starttls: bool
    username: str | None
    password_ref: str | None
    sender: str


def smtp_settings(env: dict[str, str] | None = None) -> Smtp:
    """KEEL_SMTP_* of this process; UsageError with one line when unusable."""
    env = os.environ if env is None else env
    host = env.get("KEEL_SMTP_HOST", "").strip()
    if not host:
        raise UsageError(
            "e-mail needs KEEL_SMTP_HOST (and KEEL_SMTP_PORT) in the delivering process"
        )
    try:
        port = int(env.get("KEEL_SMTP_PORT") or 587)
    except ValueError:
        raise UsageError(f"KEEL_SMTP_PORT {env.get('KEEL_SMTP_PORT')!r} is not a port") from None
    if not 0 < port < 65536:
        raise UsageError(f"KEEL_SMTP_PORT {port} is not a port")
    starttls = (env.get("KEEL_SMTP_STARTTLS") or "true").strip().lower() not in ("false", "0", "no")
    if "KEEL_SMTP_PASSWORD" in env:
        raise UsageError(
            "KEEL_SMTP_PASSWORD holds a password: set KEEL_SMTP_PASSWORD_REF to env:NAME or "
            "file:/path instead"
        )
    ref = env.get("KEEL_SMTP_PASSWORD_REF") or None
    if ref is not None:
        check_ref(ref, "KEEL_SMTP_PASSWORD_REF")
    return Smtp(
        host,
        port,
        starttls,
        env.get("KEEL_SMTP_USERNAME") or None,
        ref,
        env.get("KEEL_SMTP_FROM") or "keel@localhost",
    )


def email(
    settings: Smtp, to: str, subject: str, text: str, msg_id: str, *, timeout: float
) -> Outcome:
    start = time.monotonic()
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    domain = settings.sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{msg_id}@{domain}>"  # the same on every attempt
    message.set_content(text)
    try:
        password = (
            resolve_ref(settings.password_ref, "KEEL_SMTP_PASSWORD_REF")
            if settings.password_ref
            else None
        )
        with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, password or "")
            refused = smtp.send_message(message)
    except UsageError as exc:
        return Outcome(False, False, None, str(exc), _ms(start))
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _smtp_refusal(code, reply, start)
    except smtplib.SMTPResponseException as exc:
        return _smtp_refusal(exc.smtp_code, exc.smtp_error, start)
    except smtplib.SMTPNotSupportedError as exc:
        return Outcome(False, False, None, f"the SMTP server: {exc}", _ms(start))
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return Outcome(
            False, True, None, f"SMTP {settings.host}:{settings.port}: {_reason(exc)}", _ms(start)
        )
    if refused:  # some of several recipients: the rest have it, so a retry would repeat it
        said = "; ".join(f"{to} ({code})" for to, (code, _) in sorted(refused.items()))
        return Outcome(True, False, 250, f"delivered, but refused for {said}"[:500], _ms(start))
    return Outcome(True, False, 250, None, _ms(start))


def _smtp_refusal(code: int, reply: bytes | str, start: float) -> Outcome:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    line = " ".join(text.split())[:300]
    return Outcome(False, code < 500, code, f"the SMTP server refused: {code} {line}", _ms(start))
