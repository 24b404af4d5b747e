"""Streaming filter: equal to the whole-text scan for any chunking; nothing leaks across chunks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.guard import STRICT_POLICY, StreamFilter, scan
from keel.guard.scan import redact

CARD = "4539 1488 0343 6467"
JWT = (
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxNzAwMDAwMDAwfQ."
    "tq1mJ8kP3xZr0aV5nY2cW7dE9fG4hJ6kL8mN0pQ2rS4"
)
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5owl8iWo3W0pSoAoGCCqGSM49\n"
    "AwEHoUQDQgAEf8N5u3X1o2LQh8hsm0w4W6Uu2H7l3bqu1rLkq9xOz6qS6l0Cqf2B\n"
    "-----END EC PRIVATE KEY-----"
)
PIECES = [
    "Your order shipped. ",
    f"Card on file: {CARD}.\n",
    "Contact jane.doe@example.org or +44 20 7946 0958 for help.\n",
    f"token {JWT} expires soon\n",
    f"{PEM}\n",
    "SSN 219-09-9999 and IBAN GB82 WEST 1234 5698 7654 32 are on record.\n",
    "Nothing sensitive in this sentence at all. ",
    "db_password = 'Tr0ub4dor&3x!'\n",
    "Server 203.0.113.77 answered.\n",
]


def stream(text: str, cuts: list[int], **kw) -> str:
    flt = StreamFilter(**kw)
    out = []
    prev = 0
    for cut in sorted(set(cuts)):
        out.append(flt.feed(text[prev:cut]))
        prev = cut
    out.append(flt.feed(text[prev:]))
    out.append(flt.close())
    return "".join(out)


texts = st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    split=st.integers(1, len(CARD) - 1),
    prefix=st.sampled_from(["", "pay with ", "x\n", "card: "]),
    suffix=st.sampled_from(["", " thanks", ".\nbye", "\n"]),
)
def test_card_split_anywhere_is_never_emitted(split, prefix, suffix):
    text = prefix + CARD + suffix
    cut = len(prefix) + split
    out = stream(text, [cut])
    assert CARD not in out and "[REDACTED:CREDIT_CARD]" in out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(PEM) + 20), max_size=20))
def test_private_key_split_anywhere_is_redacted(cuts):
    text = f"key:\n{PEM}\nend"
    out = stream(text, cuts)
    assert "MHcCAQEE" not in out and "[REDACTED:PRIVATE_KEY]" in out


def test_candidate_longer_than_holdback_is_cut_and_redacted():
    body = "\n".join("QUJD" * 16 for _ in range(200))  # ~13 KB of base64, no END line
    text = "-----BEGIN RSA PRIVATE KEY-----\n" + body
    flt = StreamFilter(holdback=1024)
    out = "".join(flt.feed(text[i : i + 100]) for i in range(0, len(text), 100)) + flt.close()
    assert "-----BEGIN" not in out and "QUJDQUJD" not in out
    assert flt.held <= 1024 + 100


def test_holdback_is_bounded_on_a_long_line():
    flt = StreamFilter(holdback=512)
    for _ in range(100):
        flt.feed("word " * 20)
        assert flt.held <= 512 + 100


@settings(max_examples=60, deadline=None)
@given(
    at=st.lists(st.integers(0, 3000), min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 4000), max_size=40),
)
def test_cards_in_a_line_longer_than_the_holdback_never_pass(at, cuts):
    words = ["lorem"] * 600  # one 3.6 KB line, no newline, against a 512-char hold-back
    for pos in at:
        words[pos // 6] = CARD
    text = " ".join(words)
    out = stream(text, cuts, holdback=512)
    assert "4539" not in out.replace("[REDACTED:CREDIT_CARD]", "")
    assert out.count("[REDACTED:CREDIT_CARD]") == text.count(CARD)


FILLER = [
    "The committee reviewed the proposal and agreed to continue with the plan. ",
    "We don't expect delays, and the team's schedule looks fine for now. ",
    "Please confirm the details below before the end of the week, thanks. ",
]
LINE_PIECES = (
    [p.replace("\n", " ") for p in PIECES if "PRIVATE KEY" not in p]
    + FILLER * 3
    + [
        'if ("the quick brown fox jumps over the lazy dog and then some more words" == password) ok ',
        'db_password = "correct horse battery staple and a few more plain words" was set. ',
        "Your new password is Xk8#mP2q, keep it safe. ",
        "She said 'the quick brown fox jumps over the lazy dog' == api_key and left. ",
        "Call the office on 415 555 0132 if needed. ",
    ]
)
long_lines = st.lists(st.sampled_from(LINE_PIECES), min_size=1, max_size=40).map("".join)


@settings(max_examples=350, deadline=None)
@given(data=st.data(), text=st.one_of(texts, long_lines))
def test_stream_equals_whole_text_scan(data, text):
    """Short lines, and long ones released between words: any chunking, the same text."""
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=60))
    assert stream(text, cuts) == scan(text).text


def test_prose_streams_a_few_words_behind_not_a_paragraph_behind():
    text = " ".join(FILLER * 20)  # ~4 KB, no newline
    flt = StreamFilter()
    held, out = [], []
    for i in range(0, len(text), 8):
        out.append(flt.feed(text[i : i + 8]))
        held.append(flt.held)
    out.append(flt.close())
    assert "".join(out) == text
    assert max(held) < 128 + 64 + 2 * 16  # lookahead + step + a word or two either side


@pytest.mark.parametrize("quote", ['"', "'", "`"])
def test_a_quoted_value_is_never_released_early(quote):
    quoted = quote + " ".join(["plain"] * 100) + quote + " == password"
    text = "Here it is: " + quoted + " and more words after it all"
    out = stream(text, list(range(0, len(text), 7)))
    assert "plain plain" not in out and out == scan(text).text


@pytest.mark.parametrize(
    "text",
    [
        # an IBAN-like word runs over the words after it: a scan from mid-line reads it differently
        "Sure. In FY24 it was a good year for us and so was FY25 as we grew the team so call me on "
        "415 555 0132 if you want more detail on any of it. Let me know if anything else would "
        "help, I am happy to go through the rest of the plan with you.\nThanks!",
        # a key block runs from its first BEGIN to the first complete END, other BEGINs inside it
        "Key: -----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA and some words that go on and on "
        + "then more plain words " * 8
        + "-----BEGIN RSA PRIVATE KEY----- MIIEpAIB again "
        + "plain words here " * 8
        + "-----END RSA PRIVATE KEY----- and the rest of the line is ordinary prose again.",
    ],
)
def test_findings_found_by_review_match_the_whole_text_scan(text):
    for size in (1, 3, 7, 16, 64):
        assert stream(text, list(range(0, len(text), size))) == scan(text).text


def test_plain_text_is_released_line_by_line():
    flt = StreamFilter()
    first = "hello there, this is a first line of text\n"
    assert flt.feed(first + "and a sec") == "hello there, this is a first line o"  # lookahead
    assert flt.feed("ond line, long enough") == "f text\n"
    assert flt.close() == "and a second line, long enough"


def test_blocking_finding_stops_the_stream():
    flt = StreamFilter(policy=STRICT_POLICY)
    assert flt.feed("fine line\n") == ""  # held: less than the lookahead past the newline
    flt.feed("mail jane@example.org\n" + "more text " * 5)
    assert flt.blocked and flt.blocked_by == "pii"
    assert flt.feed("anything") == "" and flt.close() == ""


def test_random_chunkings_match_redact_of_scan():
    rng = random.Random(3)
    text = "".join(PIECES) * 3
    expected = redact(text, scan(text).findings)
    for _ in range(30):
        cuts = [rng.randrange(len(text)) for _ in range(rng.randrange(1, 60))]
        assert stream(text, cuts) == expected
