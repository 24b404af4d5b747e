"""Checksums and structural rules that turn a regex candidate into a finding (or not).

Pure functions over short strings: Luhn (payment cards), IBAN (per-country length + mod-97),
US SSN (area/group/serial rules), IPv4/IPv6 (the stdlib parser), phone-number shape rules, JWT
(base64url JSON header), Shannon entropy.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
from collections import Counter

# ISO 13616 registry (SWIFT IBAN registry, release 2024): total IBAN length per country.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")  # digit sum of 2 * d


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of ASCII digits (anything else fails)."""
    raw = digits.encode()
    if len(raw) != len(digits) or (raw and not raw.isdigit()):
        return False
    # every second digit from the right doubled (as its digit sum), summed as byte values
    total = sum(raw[-1::-2]) + sum(raw[-2::-2].translate(_LUHN_DOUBLED)) - 48 * len(raw)
    return total % 10 == 0


def card_ok(digits: str) -> bool:
    """13-19 digits with a card-network leading digit (12 for Maestro), passing Luhn."""
    n = len(digits)
    if n < 12 or n > 19 or digits[0] not in "123456":
        return False
    if n == 12 and digits[0] not in "56":
        return False
    if len(set(digits)) < 2:
        return False
    return luhn_ok(digits)


_IBAN_DIGITS = str.maketrans(
    {c: str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
)  # A = 10 ... Z = 35


def iban_ok(compact: str) -> bool:
    """`compact` is upper-case, without separators, already of its country's length."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    if not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    return int(rearranged.translate(_IBAN_DIGITS)) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """SSA rules: no area 000, 666 or 9xx, no group 00, no serial 0000, not one repeated digit."""
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return len(set(area + group + serial)) > 1


def ip_ok(text: str) -> bool:
    """An IPv4 or IPv6 address, optionally with a zone (%eth0) or a CIDR prefix length."""
    address, _, prefix = text.partition("/")
    address = address.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (prefix and (not prefix.isdigit() or int(prefix) > (32 if ip.version == 4 else 128)))


def shannon_entropy(text: str) -> float:
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def b64url_json(part: str) -> object | None:
    """Decode one JWT segment (base64url, padding optional) as JSON; None when it is not."""
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def jwt_ok(token: str) -> bool:
    """At least header.payload, the header a JSON object, the payload JSON when it decodes at all."""
    parts = token.split(".")
    if len(parts) < 2 or len(parts) > 5:
        return False
    header = b64url_json(parts[0])
    if not isinstance(header, dict) or not header:
        return False
    return b64url_json(parts[1]) is not None
