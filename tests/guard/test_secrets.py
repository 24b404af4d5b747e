"""Secrets scanner: formats, PEM blocks, JWTs, keyword assignments, entropy (values built here)."""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from keel.guard import secrets

RNG = random.Random(7)
ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def kinds(text: str) -> list[str]:
    return [f.type for f in secrets.scan(text)]


def spans(text: str) -> list[str]:
    return [text[f.start : f.end] for f in secrets.scan(text)]


def _jwt() -> str:
    enc = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).decode().rstrip("=")  # noqa: E731
    return f"{enc({'alg': 'RS256', 'typ': 'JWT'})}.{enc({'sub': '42', 'exp': 1})}.{rand(43)}"


FORMATS = [
    ("AWS_ACCESS_KEY_ID", "AKIA" + rand(16, string.ascii_uppercase + "234567")),
    ("GOOGLE_API_KEY", "AIza" + rand(35)),
    ("GITHUB_TOKEN", "ghp_" + rand(36)),
    ("GITLAB_TOKEN", "glpat-" + rand(20)),
    ("SLACK_TOKEN", "xoxb-1234567890-" + rand(24)),
    ("STRIPE_KEY", "sk_live_" + rand(24)),
    ("API_KEY", "sk-proj-" + rand(40)),
    ("SENDGRID_KEY", "SG." + rand(22) + "." + rand(43)),
    ("JWT", _jwt()),
    ("NPM_TOKEN", "npm_" + rand(36)),
]


@pytest.mark.parametrize(("kind", "token"), FORMATS)
def test_known_formats(kind, token):
    text = f"config uses {token} in production"
    assert kinds(text) == [kind]
    assert spans(text) == [token]


@pytest.mark.parametrize(
    "token",
    ["AKIA" + "A" * 15, "ghp_short", "sk_live_", "glpat-" + "a" * 10, "eyJub3Q.eyJqc29u.x"],
)
def test_too_short_or_malformed_formats(token):
    assert kinds(f"value {token} here") == []


def test_private_key_block_whole():
    body = "\n".join(rand(64, ALNUM + "+/") for _ in range(5))
    block = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"
    text = f"here:\n{block}\nthanks"
    assert spans(text) == [block]


def test_private_key_without_end_is_still_caught():
    text = "-----BEGIN PRIVATE KEY-----\n" + rand(64, ALNUM + "+/") + "\n"
    assert kinds(text) == ["PRIVATE_KEY"]


@pytest.mark.parametrize(
    "text",
    [
        'db_password = "Tr0ub4dor&3x!"',
        "API_KEY='9f8e7d6c5b4a39281706f5e4'",
        'if (token_secret == "Zx8-qq1-PLm-00a") {',
        '"hY7&kk29Lq!" != client_secret',
        "export DB_PASS=Hx72-kkq9-Q01",
        "admin_pwd: s3cr3t-Value-77",
        "postgres://app:Sup3rS3cret@db.internal:5432/app",
    ],
)
def test_keyword_assignments(text):
    assert kinds(text), text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Your new password is Xk8#mP2q.", "Xk8#mP2q"),
        ("Your password was reset to 'Summer2024!' as requested.", "Summer2024!"),
        ("The passcode is 493021, valid for ten minutes", "493021"),
        ("Password has been changed to: Qw3rty-99x", "Qw3rty-99x"),
    ],
)
def test_passwords_told_in_prose_are_redacted_whole(text, value):
    found = secrets.scan(text)
    assert [text[f.start : f.end] for f in found] == [value]


@pytest.mark.parametrize(
    "text",
    [
        "The password is case-sensitive.",
        "Your password is required to continue",
        "A strong password is 12 characters or more",
        "The password was changed to something stronger",
        "the password is your_password_here",
    ],
)
def test_prose_about_passwords_is_not_a_secret(text):
    assert secrets.scan(text) == [], text


@pytest.mark.parametrize(
    "text",
    [
        'password = ""',
        "password: ${DB_PASSWORD}",
        'api_key = "{{ api_key }}"',
        'secret = "your_secret_here"',
        "password = get_password(user)",
        'sort_key = "created_at"',
        "token = 123e4567-e89b-12d3-a456-426614174000",
        "the password must be at least 8 characters",
        "git commit 3f786850e387550fdab836ed7e6dc881de23001b",
    ],
)
def test_not_secrets(text):
    assert kinds(text) == [], text


def test_high_entropy_string():
    token = rand(40, ALNUM + "+/")
    assert "HIGH_ENTROPY_STRING" in kinds(f"the value is {token} ok")
    assert kinds("see /usr/share/docs/ThisIsAVeryLongPathComponent123/x") == []
