"""Checksums and shape rules, on values built here (not taken from the dev sets)."""

from __future__ import annotations

import base64
import json

import pytest

from keel.guard.validators import card_ok, iban_ok, ip_ok, jwt_ok, luhn_ok, shannon_entropy, ssn_ok


def _luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError


def _iban(country: str, bban: str) -> str:
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


def test_luhn_and_cards():
    card = _luhn_complete("457623011234567")
    assert luhn_ok(card) and card_ok(card)
    assert not card_ok(card[:-1] + str((int(card[-1]) + 1) % 10))
    assert not card_ok(_luhn_complete("900000000000123"))  # no card network starts with 9
    assert not card_ok("0000000000000000")
    assert card_ok(_luhn_complete("50123456789"))  # 12-digit Maestro
    assert not card_ok(_luhn_complete("40123456789"))


def test_iban_checksum_and_country_length():
    good = _iban("DE", "370400440532013000")
    assert iban_ok(good)
    assert not iban_ok(good[:-1] + ("1" if good[-1] != "1" else "2"))
    assert not iban_ok(_iban("DE", "37040044053201300"))  # one character short for DE
    assert not iban_ok(_iban("ZZ", "370400440532013000"))  # no such country
    assert iban_ok(_iban("GB", "WEST12345698765432"))


@pytest.mark.parametrize(
    ("area", "group", "serial", "ok"),
    [
        ("123", "45", "6789", True),
        ("000", "45", "6789", False),
        ("666", "45", "6789", False),
        ("912", "45", "6789", False),
        ("123", "00", "6789", False),
        ("123", "45", "0000", False),
        ("111", "11", "1111", False),
    ],
)
def test_ssn_rules(area, group, serial, ok):
    assert ssn_ok(area, group, serial) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("10.1.2.3", True),
        ("256.1.1.1", False),
        ("10.0.0.0/8", True),
        ("10.0.0.0/33", False),
        ("2001:db8::7", True),
        ("fe80::1%en0", True),
        ("2001:db8::/48", True),
        ("1:2:3:4", False),
        ("::1::2", False),
    ],
)
def test_ip(text, ok):
    assert ip_ok(text) is ok


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def test_jwt_needs_a_json_header():
    token = f"{_b64({'alg': 'HS256'})}.{_b64({'sub': 'u1'})}.c2lnbmF0dXJl"
    assert jwt_ok(token)
    assert jwt_ok(token.rsplit(".", 1)[0])
    assert not jwt_ok(_b64({"alg": "HS256"}))
    assert not jwt_ok(f"{_b64([1, 2])}.{_b64({'sub': 'u1'})}.x")
    assert not jwt_ok("eyJub3Q.eyJqc29u.x")


def test_entropy():
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2
    assert shannon_entropy("") == 0
