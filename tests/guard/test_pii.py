"""PII scanner: each type found where it is, and the look-alikes left alone (cases written here)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.guard import pii


def found(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in pii.scan(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.roe+news@mail.example.org today", [("EMAIL_ADDRESS", "jane.roe+news@mail.example.org")]),
        ("card: 5425 2334 3010 9903.", [("CREDIT_CARD", "5425 2334 3010 9903")]),
        ("card 5425-2334-3010-9903 and 378282246310005", [("CREDIT_CARD", "5425-2334-3010-9903"), ("CREDIT_CARD", "378282246310005")]),
        ("IBAN DE89 3704 0044 0532 0130 00 please", [("IBAN_CODE", "DE89 3704 0044 0532 0130 00")]),
        ("iban: de89370400440532013000", [("IBAN_CODE", "de89370400440532013000")]),
        ("SSN 219-09-9999 on file", [("US_SSN", "219-09-9999")]),
        ("my ssn is 219099999", [("US_SSN", "219099999")]),
        ("server at 203.0.113.9, backup 2001:db8:1::ab9", [("IP_ADDRESS", "203.0.113.9"), ("IP_ADDRESS", "2001:db8:1::ab9")]),
        ("net 198.51.100.0/24 is ours", [("IP_ADDRESS", "198.51.100.0/24")]),
        ("call +1 (212) 555-0199 now", [("PHONE_NUMBER", "+1 (212) 555-0199")]),
        ("tel. 020 7946 0958", [("PHONE_NUMBER", "020 7946 0958")]),
        ("office: 212.555.0199 x204", [("PHONE_NUMBER", "212.555.0199 x204")]),
        ("please call 555 0199", [("PHONE_NUMBER", "555 0199")]),
        # an IBAN-like word ("FY24") must not swallow what follows it
        ("In FY24 call me on 415 555 0132", [("PHONE_NUMBER", "415 555 0132")]),
        ("FY24 CALL ME AT 415 555 0132", [("PHONE_NUMBER", "415 555 0132")]),
        ("Pay GB82 WEST 1234 5698 7654 32 or mail jane@example.org", [("IBAN_CODE", "GB82 WEST 1234 5698 7654 32"), ("EMAIL_ADDRESS", "jane@example.org")]),
        ("IBAN DE89 3704 0044 0532 0130 00 call 415 555 0132", [("IBAN_CODE", "DE89 3704 0044 0532 0130 00"), ("PHONE_NUMBER", "415 555 0132")]),
        ("so in FY25 we did it at last, write to jane.doe@example.org", [("EMAIL_ADDRESS", "jane.doe@example.org")]),
    ],
)  # fmt: skip
def test_finds(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 5425 2334 3010 9904 fails Luhn",
        "DE89 3704 0044 0532 0130 01 has a bad check",
        "SSN 000-12-3456 and 666-12-3456 cannot exist",
        "version 1.2.3.4.5 and 999.1.1.1",
        "meet on 2024-03-15 14:30 or 15/03/2024",
        "the years 1990-2020 and the range 1,000,000",
        "lives at 4512 218 Elm Street",
        "pi is 3.14159265358979",
        "order id 20240315123456789 shipped",
        "no.at.sign and user@localhost",
        "ratio 1:2:3:4 at 12:30:45",
        "a 16-digit 1234567812345678 without Luhn",
        "Version 10.2.0.1 was released; firmware 3.1.4.1 follows",
        "ISBN 978-3-16-148410-0 and ISBN-10: 0-306-40615-2",
    ],
)
def test_leaves_alone(text):
    assert found(text) == []


ITEMS = [
    ("PHONE_NUMBER", "+1 (212) 555-0199"),
    ("EMAIL_ADDRESS", "jane.doe@example.org"),
    ("CREDIT_CARD", "5425 2334 3010 9903"),
    ("IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
    ("IP_ADDRESS", "203.0.113.9"),
]
WORDS = ["FY24", "AB12", "Q3", "GB82", "WEST", "1234", "it", "was", "a", "good", "year", "DE89"]
WORDS += ["x", "CALL", "ME", "AT", "THE", "TEAM", "0012", "A1B2"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.sampled_from(ITEMS))
def test_what_precedes_an_item_never_hides_it(words, item):
    kind, value = item
    text = " ".join([*words, "contact:", value, "thanks"])
    assert (kind, value) in found(text)


def test_types_filter():
    text = "jane@example.org 203.0.113.9"
    assert [f.type for f in pii.scan(text, frozenset({"IP_ADDRESS"}))] == ["IP_ADDRESS"]


def test_offsets_count_characters_not_bytes():
    text = "école ünïcødé → jane@example.org"
    (f,) = pii.scan(text)
    assert text[f.start : f.end] == "jane@example.org"
