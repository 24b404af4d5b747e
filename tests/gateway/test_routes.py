"""The upstream URL check (`routes.check_upstream`), property by property: what a route may
point at is an http(s) URL with a host and a port in range, and nothing a parser could read
two ways; credentials are refused with a pointer to --upstream-key-env."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.errors import UsageError
from keel.gateway.routes import check_upstream

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOST = st.one_of(
    st.lists(LABEL, min_size=1, max_size=4).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)
PATH = st.from_regex(r"(/[A-Za-z0-9._~-]{1,12}){0,4}", fullmatch=True)


@st.composite
def urls(draw, port=st.integers(1, 65535)) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    chosen = draw(st.none() | port)
    at = f":{chosen}" if chosen is not None else ""
    return f"{scheme}://{draw(HOST)}{at}{draw(PATH)}"


@given(urls())
def test_a_plain_http_url_is_kept(url):
    assert check_upstream(url) == url.rstrip("/")
    assert check_upstream(url + "/") == url.rstrip("/")


@given(urls(), st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20))
def test_any_userinfo_is_refused_and_not_echoed(url, userinfo):
    scheme, _, rest = url.partition("://")
    userinfo = userinfo.replace("/", "").replace("?", "").replace("#", "").replace("\\", "")
    if not userinfo or "@" in userinfo:
        userinfo = "user:pw"
    with pytest.raises(UsageError) as refused:
        check_upstream(f"{scheme}://{userinfo}@{rest}")
    assert "--upstream-key-env" in str(refused.value)
    assert userinfo not in str(refused.value) or len(userinfo) < 3


@given(
    urls(),
    st.characters(exclude_categories=()).filter(lambda c: not "!" <= c <= "~" or c == "\\"),
    st.integers(0, 200),
)
def test_whitespace_control_and_non_ascii_characters_are_refused_anywhere(url, odd, at):
    at = min(at, len(url))
    with pytest.raises(UsageError):
        check_upstream(url[:at] + odd + url[at:])


@given(HOST, st.integers(65536, 10**7) | st.just(0))
def test_a_port_out_of_range_is_refused(host, port):
    with pytest.raises(UsageError, match="port"):
        check_upstream(f"http://{host}:{port}/v1")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/v1",
        "javascript:alert(1)",
        "http:///v1",
        "http://h/v1?x=1",
        "http://h/v1#frag",
        "http://h:/v1",
        "http://h:8x/v1",
        "http://-h/v1",
        "http://[not-v6]/v1",
        "http://h/v1/%zz<>",
        "",
    ],
)
def test_other_malformed_urls_are_refused(url):
    with pytest.raises(UsageError):
        check_upstream(url)
