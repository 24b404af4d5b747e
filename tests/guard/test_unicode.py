"""Invisible and control characters."""

from __future__ import annotations

from keel.guard import unicode


def test_finds_and_strips_invisibles():
    text = "pay\u200bpal \u202egnp.exe\u202c \U000e0049\U000e0047 ok\x07"
    runs = [(f.start, f.end) for f in unicode.scan(text)]
    assert runs == [(3, 4), (8, 9), (16, 17), (18, 20), (23, 24)]
    assert unicode.strip(text) == "paypal gnp.exe  ok"


def test_keeps_ordinary_whitespace_and_scripts():
    text = "tab\tnew\nline\r\n — 日本語 café 👍🏽"
    assert unicode.scan(text) == []
    assert unicode.strip(text) == text
