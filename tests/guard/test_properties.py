"""Fuzzing every scanner: no crash on any text, and time that grows linearly on hostile input."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from keel.guard import injection, pii, prefilter, scan, secrets, unicode

SCANNERS = [pii.scan, secrets.scan, unicode.scan, injection.score]

alphabet = st.sampled_from(
    [*list("0123456789 -.:@+()/=_'\"\n\tabcxyzAKIAeyJ"), "\u200b", "é", "\U000e0041"]
)
hostile_text = st.text(alphabet=alphabet, max_size=400)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), hostile_text))
def test_no_scanner_crashes(text):
    for fn in SCANNERS:
        fn(text)
    for stage in ("input", "output"):
        result = scan(text, stage)
        assert not result.errors
        for f in result.findings:
            assert 0 <= f.start <= f.end <= len(text)


@settings(max_examples=200, deadline=None)
@given(hostile_text)
def test_redacted_text_holds_no_finding(text):
    result = scan(text)
    assert result.text is not None
    for f in result.findings:
        if f.scanner in ("pii", "secrets") and f.end - f.start >= 6:
            assert text[f.start : f.end] not in result.text or text[f.start : f.end] in "".join(
                t for t in result.text.split("[REDACTED:")
            )


HOSTILE = {
    "digits": "1",
    "digit_groups": "12 ",
    "dotted": "1.",
    "colons": "a:",
    "at_signs": "a@",
    "keyword": "password=",
    "quotes": 'secret = "',
    "pem_headers": "-----BEGIN PRIVATE KEY-----",
    "base64": "QUJD",
    "jwt_like": "eyJhIjoxfQ.",
    "iban_like": "GB82 ",
    "spaces": " ",
    "invisible": "\u200b",
    # the prefilter's anchors that count or repeat
    "key_prefixes": "sk-AKIAAKCAP1",
    "url_credentials": "://a:b",
    "keywords": "pw_key_pass:",
}


def _best_time(fn, text: str) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def test_time_grows_linearly_on_hostile_input():
    for name, unit in HOSTILE.items():
        small = unit * (20_000 // len(unit))
        large = unit * (160_000 // len(unit))
        for fn in (prefilter.compute, pii.scan, secrets.scan, unicode.scan, injection.score):
            t_small = max(_best_time(fn, small), 1e-4)
            ratio = _best_time(fn, large) / t_small
            # 8x the input: linear is ~8x (more with cache effects); quadratic would be ~64x
            assert ratio < 24, (name, fn.__module__, ratio)
