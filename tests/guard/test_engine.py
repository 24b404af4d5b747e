"""The fast paths under the PII and secrets scanners change no finding (properties over texts).

`engine` calls RE2 without the binding's Python layer and converts byte offsets itself; `pii`
names the alternative that matched without capture groups; `prefilter` lets a text skip passes.
Each is checked against the plain way of doing the same thing.
"""

from __future__ import annotations

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.guard import engine, pii, prefilter, secrets
from tests.guard.test_secrets import ALNUM, FORMATS, _jwt, rand

# pieces of every kind of candidate, so random joins of them come close to real ones
FRAGMENTS = [
    *(token for _, token in FORMATS),
    *"0123456789 -.:@+()/=_'\"\n\tabcxyzAKIAeyJ#%`",
    "\u200b", "é", "€", "\U0001f600", "\u212a",  # KELVIN SIGN folds to "k" under (?i)
    "4111 1111 1111 1111", "219-09-9999", "+1 (212) 555-0199", "203.0.113.9", "2001:db8::1",
    "GB82 WEST 1234 5698 7654 32", "jane@example.org", "ssn ", "call ", "x204",
    "password", "api_key", "DB_PASS", "secret", "token", " = ", ": ", "==", "'", '"',
    " is ", " was reset to ", "Passcode", "Xk8#mP2q!",
    "-----BEGIN RSA PRIVATE KEY-----\n", "\n-----END RSA PRIVATE KEY-----", "eyJhbGciOiJIUzI1NiJ9.",
    "AKIA", "ASIA", "sk-", "sk_live_", "xoxb-", "ghp_", "glpat-", "SG.", "npm_", "AC", "SK", "AKC", "AP1",
    "://user:", "@host", "AccountKey=", "-us12", "12345678:", ".abcdef.", "hooks.slack.com/services/",
    rand(24), rand(35), rand(40, "abcdef0123456789"), rand(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
    _jwt(),
    # one of each format that FORMATS leaves out
    "AC" + rand(32, "abcdef0123456789"), rand(32, "abcdef0123456789") + "-us14",
    "AccountKey=" + rand(86, ALNUM + "+/") + "==", "12345678:" + rand(35, ALNUM + "_-"),
    "M" + rand(25) + "." + rand(6) + "." + rand(27), "https://admin:" + rand(12) + "@db.example.com",
    "AKC" + rand(10), "AP6" + rand(8), "pypi-AgEIcHlwaS5vcmc" + rand(60, ALNUM + "_-"),
    "https://hooks.slack.com/services/T000/B000/" + rand(24), "ghp_" + rand(36), "GR1348941" + rand(20),
    "sk-ant-api03-" + rand(40), "github_pat_" + rand(70), "\u212aey = " + rand(12),
    "fe80::", "::1", "GB82WEST",
]  # fmt: skip
SEPARATORS = ["", "", " ", "\n", '"', ".", "="]
texts = st.lists(
    st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(SEPARATORS)), max_size=20
).map(lambda pieces: "".join(a + b for a, b in pieces))
unicode_texts = st.one_of(st.text(max_size=200), texts)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_kind_of_names_the_alternative_that_matched(text):
    grouped = re2.compile("|".join(f"(?P<{name}>{rx})" for name, rx in pii.KINDS.items()))
    for match in grouped.finditer(text):
        assert pii.kind_of(match.group()) == match.lastgroup, match.group()


@settings(max_examples=400, deadline=None)
@given(unicode_texts)
def test_spans_and_offsets_agree_with_the_binding(text):
    plain = re2.compile("|".join(f"(?:{rx})" for rx in pii.KINDS.values()))
    data, ascii_only = engine.encode(text)
    spans = engine.Regex(plain.pattern).spans(data)
    assert ascii_only == text.isascii()
    if not ascii_only:
        spans = engine.to_chars(data, spans)
    assert spans == [m.span() for m in plain.finditer(text)]


def unfiltered(text: str) -> tuple[list, list]:
    """What the PII and secrets scanners find with every pass run, whatever the prefilter says."""
    data, ascii_only = engine.encode(text)
    plan = secrets._PLANS[prefilter.ALL]
    return pii._scan(text, data, ascii_only), secrets._scan(text, data, ascii_only, plan)


@settings(max_examples=600, deadline=None)
@given(unicode_texts)
def test_prefilter_skips_only_passes_that_find_nothing(text):
    assert (pii.scan(text), secrets.scan(text)) == unfiltered(text)


# the shortest (or least marked) finding of each kind, where an anchor just fits
SHORTEST = [
    "aB3dE5fG7hJ9kL1mN2pQ4r==", "fe80::", "::1", "10.0.0.1", "-@mail.example.com", "x@y.io",
    "GB82WEST12345698765432", "sk-" + rand(29), "ftp://u:" + rand(8) + "@h", "secret `Tr0ub4dor&3`",
    "12345678:" + rand(35, ALNUM + "_-"), "M" + rand(23) + "." + rand(6) + "." + rand(27),
    "AKC" + rand(10), "AP6" + rand(8), "AC" + rand(32, "abcdef0123456789"),
    "AKIA" + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),  # base32, as AWS issues them
    "api_\u212aey = vHNsG9eh6Yo4", 'my pa\u017f\u017fword = "vHNsG9eh6Yo4"',  # Unicode case folds
]  # fmt: skip


@pytest.mark.parametrize("sample", SHORTEST)
@pytest.mark.parametrize("context", ["{}", "x {} y", "key: {}\n", '"{}"'])
def test_prefilter_keeps_the_shortest_of_each_kind(sample, context):
    text = context.format(sample)
    everything = unfiltered(text)
    assert everything[0] + everything[1], text
    assert (pii.scan(text), secrets.scan(text)) == everything


def test_anchor_separator_is_the_pii_one():
    assert prefilter._SEP == pii._SEP


def test_known_formats_reach_their_pass():
    for kind, token in FORMATS:
        for text in (token, f"x {token}.", f'key: "{token}"'):
            assert prefilter.prepare(text)[3] >= {prefilter.FORMATS}, (kind, text)


def test_prepare_hands_the_work_over_once_on_the_same_string():
    a = "call 555 0199 now"
    b = "".join(["call 555 0199", " now"])  # equal, not the same object
    first = prefilter.prepare(a)
    assert prefilter.prepare(b) is not first  # equal is not enough
    assert prefilter.prepare(b)[1:] == first[1:]  # b's handed over
    assert prefilter.prepare(a) is not first and prefilter.prepare(a) is not first
    assert prefilter.prepare(a) == first
    assert prefilter.compute("plain words only")[3] == frozenset()
