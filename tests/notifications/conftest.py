"""Real receivers for notifications: an HTTP server and an SMTP server on 127.0.0.1, each in a
thread, scripted to answer as a test needs (503, then 200; hang; refuse)."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.servers import free_port

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers POSTs with the statuses in `script` in turn (then `then`); a float hangs that
    many seconds first (then answers 200); a (status, headers) pair sends those headers."""

    url: str
    script: list = field(default_factory=list)
    then: int = 200
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _receiver()


@pytest.fixture
def internal() -> Iterator[Receiver]:
    """A second receiver: an internal service a redirect might point at."""
    yield from _receiver()


def _receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    box = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                box.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                answer = box.script.pop(0) if box.script else box.then
            box.arrived.set()
            if isinstance(answer, float):
                time.sleep(answer)
                answer = 200
            headers = {}
            if isinstance(answer, tuple):
                answer, headers = answer
            self.send_response(answer)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server.RequestHandlerClass = Handler
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    refuse: list[tuple[int, str]] = field(default_factory=list)  # answers to DATA, in turn
    unknown: set[str] = field(default_factory=set)  # addresses refused at RCPT (550)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def env(self, **more: str) -> dict[str, str]:
        return {
            "KEEL_SMTP_HOST": self.host,
            "KEEL_SMTP_PORT": str(self.port),
            "KEEL_SMTP_STARTTLS": "false",
            "KEEL_SMTP_FROM": "keel@ops.example",
            **more,
        }


class _Handler:
    def __init__(self, box: Mailbox):
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.box.unknown:
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.box.refuse:
            code, text = self.box.refuse.pop(0)
            return f"{code} {text}"
        self.box.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


def _authenticator(box: Mailbox):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            box.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=auth_data.password == b"s3cret")
        return AuthResult(success=False)

    return check


def _serve(box: Mailbox, **smtp) -> Controller:
    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=_authenticator(box),
        **smtp,
    )
    controller.start()
    return controller


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A plain SMTP server (login allowed without TLS: the password is `s3cret`)."""
    box = Mailbox("127.0.0.1", free_port())
    controller = _serve(box, auth_require_tls=False)
    yield box
    controller.stop()


@pytest.fixture
def tls_mailbox(tmp_path, monkeypatch) -> Iterator[Mailbox]:
    """An SMTP server that requires STARTTLS before anything else, with a certificate for
    127.0.0.1 that this process trusts (SSL_CERT_FILE)."""
    import ssl

    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox("127.0.0.1", free_port())
    controller = _serve(box, tls_context=context, require_starttls=True, auth_require_tls=True)
    yield box
    controller.stop()


def _certificate(folder) -> tuple[os.PathLike, os.PathLike]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def own() -> set[tuple[str, int]]:
    from keel.notifications.targets import control_plane

    return control_plane()


def subscribe(ws, actor, **kwargs):
    from keel.notifications import subscribe as make

    with ws.write(actor) as session:
        return make(session, actor, own=own(), **kwargs)


def emit(ws, actor, action: str, subject: str, **details):
    """Append an event as its package would (the incidents and worker emitters do just this)."""
    from keel import audit

    with ws.write(actor) as session:
        (event,) = audit.append(session, actor, [audit.Change(action, subject, details)])
    return event


def deliver(ws, *, now=None, policy=None):
    """One pass as `keel notify deliver --once` runs it: a transaction per step."""
    from keel.identity import SYSTEM
    from keel.notifications import run_pass

    return run_pass(lambda: ws.write(SYSTEM), SYSTEM, now=now, own=own(), policy=policy)
