"""Secrets in text: known credential formats, private keys, JWTs, keyword assignments, high entropy.

RE2 patterns (linear time) propose candidates, leftmost first, in three passes (formats, keyword
assignments, entropy); a validator per kind decides. A pass runs only when the text holds one of
its anchors (`prefilter`: one RE2 set scan per text, shared with the PII scanner).
Known formats (Keel's own `keel_pat_`, `keel_gw_`, `keel_code_`, `keel_ses_` tokens, AWS, Google, GitHub, GitLab, Slack, Stripe, OpenAI, SendGrid, Twilio, npm, PyPI,
Discord, Telegram, Mailchimp, Azure storage, Artifactory) are matched loosely (`prefix[\\w-]+`) and
their exact lengths checked in Python, which stands in for the lookarounds RE2 does not have.
A keyword assignment (`password = "..."`, `"..." == api_key`) is reported when its value looks
like a real value: not empty, not a template (`${X}`, `{{x}}`), not a UUID, not a placeholder word.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import re2

from keel.guard import engine, prefilter
from keel.guard.findings import Finding, resolve_overlaps
from keel.guard.validators import jwt_ok, shannon_entropy

SCANNER = "secrets"

_KEYWORD = (
    r"(?i:api_?key|apikey|auth_?key|service_?key|account_?key|db_?key|database_?key|priv_?key|"
    r"private_?key|client_?key|client_?secret|db_?pass|database_?pass|key_?pass|password|passwd|"
    r"pwd|secret|secrete|contrase[ñn]a|access_?token|auth_?token|api_?token|bearer_?token|"
    r"refresh_?token|secret_?key|access_?key|aws_?secret|credential|api[_-]key|[_-]key\b|"
    r"[_-]?pw\b|[_-]pass\b)"
)
# Every open-ended class is bounded: RE2 finds where a match starts by running the whole pattern
# backwards from its end, and an unbounded class that fits the text would run back to the start
# of the text on every match (quadratic on hostile input such as "eyJ.eyJ.eyJ...").
_IDENT = rf"[A-Za-z0-9_.\-]{{0,40}}{_KEYWORD}[A-Za-z0-9_.\-]{{0,40}}"
_FROM_KEYWORD = rf"{_KEYWORD}[A-Za-z0-9_.\-]{{0,40}}"  # an assignment's match starts at its keyword
_QUOTED = r"(?:\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`)"

# (group name, regex, finding type); the order is the priority at one position
_KINDS: list[tuple[str, str, str]] = [
    ("keel", r"\bkeel_(?:pat|code|ses|gw)_[A-Za-z0-9_\-]+", "KEEL_TOKEN"),
    ("pem", r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----", "PRIVATE_KEY"),
    ("aws_id", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]+", "AWS_ACCESS_KEY_ID"),
    ("google", r"\bAIza[0-9A-Za-z_\-]+", "GOOGLE_API_KEY"),
    ("github", r"\b(?:gh[pousr]_[A-Za-z0-9]+|github_pat_[A-Za-z0-9_]+)", "GITHUB_TOKEN"),
    ("gitlab", r"\b(?:glpat|gldt|glrt|glptt|glcbt|glft|glsoat|glffct|glimt|glagent|gloas)-[\w\-]+|\bGR1348941[\w\-]+", "GITLAB_TOKEN"),
    ("slack", r"\bxox[abposre]-[0-9A-Za-z\-]+|https://hooks\.slack\.com/services/[A-Za-z0-9_/]{1,120}", "SLACK_TOKEN"),
    ("stripe", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]+", "STRIPE_KEY"),
    ("openai", r"\bsk-(?:proj-|svcacct-|admin-|ant-[a-z0-9]+-)?[A-Za-z0-9_\-]+", "API_KEY"),
    ("sendgrid", r"\bSG\.[\w\-]+\.[\w\-]+", "SENDGRID_KEY"),
    ("twilio", r"\b(?:AC|SK)[a-z0-9]+", "TWILIO_KEY"),
    ("npm", r"//registry\.npmjs\.org/:_authToken=[A-Za-z0-9_\-]+|\bnpm_[A-Za-z0-9]+", "NPM_TOKEN"),
    ("pypi", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]+", "PYPI_TOKEN"),
    ("mailchimp", r"\b[0-9a-z]+-us[0-9]+\b", "MAILCHIMP_KEY"),
    ("azure", r"AccountKey=[A-Za-z0-9+/=]+", "AZURE_STORAGE_KEY"),
    ("telegram", r"\b\d+:[0-9A-Za-z_\-]+", "TELEGRAM_TOKEN"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*)?", "JWT"),
    ("discord", r"\b[MNO][\w\-]+\.[\w\-]+\.[\w\-]+", "DISCORD_TOKEN"),
    ("basic_auth", r"\b[a-z][a-z0-9+.\-]{0,15}://[^:/?#\s@\"']{1,100}:[^@/?#\s\"']{1,100}@", "URL_CREDENTIALS"),
    ("artifactory", r"(?:^|[\s=:\"'])(?:AKC|AP[\dA-F])[a-zA-Z0-9]+", "ARTIFACTORY_TOKEN"),
    ("kw_cmp", rf"{_QUOTED}\s*[!=]==?\s*{_IDENT}|{_FROM_KEYWORD}\s*[!=]==?\s*{_QUOTED}", "KEYWORD_SECRET"),
    ("kw_assign", rf"{_FROM_KEYWORD}['\"]?(?:\[\d*\])?\s*(?::=|=>|=|:|\s)\s*@?{_QUOTED}", "KEYWORD_SECRET"),
    ("kw_bare", rf"{_FROM_KEYWORD}['\"]?\s*(?::=|=>|=|:)[ \t]*[^\s\"'`,;][^\s\"'`]{{0,200}}", "KEYWORD_SECRET"),
    # in prose, as a model tells a user: "your new password is Xk8#mP2q"
    ("kw_prose", r"(?i:\b(?:password|passphrase|passcode|passwd)\s{1,3}(?:(?:is|was|has\s{1,3}been|will\s{1,3}be)(?:\s{1,3}(?:now|set|changed|reset|updated)(?:\s{1,3}to)?)?|(?:set|changed|reset|updated)\s{1,3}to)\s{0,3}:?\s{1,3})[^\s]{6,64}", "KEYWORD_SECRET"),
    ("entropy", r"[A-Za-z0-9+/_\-]{20,}={0,2}", "HIGH_ENTROPY_STRING"),
]  # fmt: skip
_OPTIONS = engine.options(max_mem=64 << 20)


def _compile(names: set[str] | None, exclude: set[str] = frozenset()) -> engine.Regex:
    kinds = [(n, rx) for n, rx, _ in _KINDS if (names is None or n in names) and n not in exclude]
    return engine.Regex("|".join(f"(?P<{n}>{rx})" for n, rx in kinds), _OPTIONS)


# Three passes keep each DFA small (one combined pattern with the bounded keyword classes made
# RE2's DFA run out of memory and fall back to its slow NFA): formats, keyword assignments, entropy.
_KEYWORD_KINDS = {"kw_cmp", "kw_assign", "kw_bare", "kw_prose"}
_PASSES = [
    (prefilter.FORMATS, _compile(None, exclude=_KEYWORD_KINDS | {"entropy"})),
    (prefilter.KEYWORDS, _compile(_KEYWORD_KINDS)),
    (prefilter.ENTROPY, _compile({"entropy"})),
]
# what to run, in order, for each set of passes the prefilter can name: (pattern, kind by group)
_PLANS = {
    passes: [
        (rx, {index: kind for kind, index in rx.groupindex.items()})
        for name, rx in _PASSES
        if name in passes
    ]
    for passes in prefilter.POSSIBLE
}

_TYPE = {name: kind for name, _, kind in _KINDS}
_IDENTIFIER = re2.compile(r"^[A-Za-z_][A-Za-z_.]*$")
_KEYWORD_RE = re2.compile(rf"(?i){_KEYWORD}")
_FULL_IDENT = re2.compile(rf"(?i)^{_IDENT}$")

_PLACEHOLDER_WORDS = (
    "fake", "dummy", "example", "sample", "placeholder", "changeme", "change_me", "your",
    "redacted", "secret", "password", "passwd", "token", "key", "null", "none", "true", "false",
    "undefined", "test", "xxxx",
)  # fmt: skip


def scan(text: str) -> list[Finding]:
    """Every secret in `text`, in order, without overlaps (formats win ties)."""
    _, data, ascii_only, passes = prefilter.prepare(text)
    plan = _PLANS[passes]
    return _scan(text, data, ascii_only, plan) if plan else []


def _scan(
    text: str, data: bytes, ascii_only: bool, plan: list[tuple[engine.Regex, dict[int, str]]]
) -> list[Finding]:
    out: list[Finding] = []
    for regex, kinds in plan:
        found = regex.groups(data)
        if not found:
            continue
        spans = engine.to_chars(data, [(s, e) for _, s, e in found]) if not ascii_only else None
        for i, (group, start, end) in enumerate(found):
            if spans is not None:
                start, end = spans[i]
            kind = kinds[group]
            check = _CHECKS.get(kind)
            span = check(text, start, end) if check else (start, end)
            if span:
                out.append(Finding(_TYPE[kind], span[0], span[1], SCANNER))
    return resolve_overlaps(out) if len(out) > 1 else out


Span = tuple[int, int] | None


def _word_end(text: str, end: int) -> bool:
    return end >= len(text) or not (text[end].isalnum() or text[end] in "_-")


def _length(*allowed: range | int) -> Callable[[str, int, int], Span]:
    """A known format: the token (prefix included) has one of these lengths and ends there."""

    def check(text: str, start: int, end: int) -> Span:
        n = end - start
        ok = any(n in a if isinstance(a, range) else n == a for a in allowed)
        return (start, end) if ok and _word_end(text, end) else None

    return check


_PEM_END = "PRIVATE KEY"
_PEM_BODY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=:,. \t\r\n")
PEM_MAX = 16384  # longer than any real key block (RSA 8192 is ~6.5 KB)


def _pem(text: str, start: int, end: int) -> Span:
    """From BEGIN through its END line; without one, through the base64 body that follows."""
    closing = text.find("-----END", end, end + PEM_MAX)
    if closing >= 0:
        stop = text.find("-----", closing + 8, closing + 60)
        if stop >= 0 and _PEM_END in text[closing:stop]:
            return start, stop + 5
    pos = end
    limit = min(len(text), end + PEM_MAX)
    while pos < limit and text[pos] in _PEM_BODY:
        pos += 1
    return start, pos


_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def _aws_id(text: str, start: int, end: int) -> Span:
    """AWS access key ids: a 4-letter prefix and 16 base32 characters (A-Z, 2-7)."""
    ok = end - start == 20 and _BASE32.issuperset(text[start + 4 : end]) and _word_end(text, end)
    return (start, end) if ok else None


def _twilio(text: str, start: int, end: int) -> Span:
    return (start, end) if end - start == 34 and _word_end(text, end) else None


def _mailchimp(text: str, start: int, end: int) -> Span:
    key, _, dc = text[start:end].partition("-us")
    return (start, end) if len(key) == 32 and len(dc) <= 2 else None


def _telegram(text: str, start: int, end: int) -> Span:
    bot, _, token = text[start:end].partition(":")
    ok = 8 <= len(bot) <= 10 and len(token) == 35 and _word_end(text, end)
    return (start, end) if ok else None


def _artifactory_len(token: str) -> bool:
    return len(token) >= (13 if token.startswith("AKC") else 11)


def _gitlab(text: str, start: int, end: int) -> Span:
    token = text[start:end]
    prefix, _, rest = token.partition("-")
    if token.startswith("GR1348941"):
        prefix, rest = "GR1348941", token[9:]
    n = len(rest)
    ok = {"glagent": n >= 50, "gloas": n == 64, "glimt": n == 25}.get(prefix, 20 <= n <= 50)
    return (start, end) if ok and _word_end(text, end) else None


def _jwt(text: str, start: int, end: int) -> Span:
    return (start, end) if jwt_ok(text[start:end]) else None


def _discord(text: str, start: int, end: int) -> Span:
    first, middle, last = text[start:end].split(".", 2)
    ok = 24 <= len(first) <= 26 and len(middle) == 6 and 27 <= len(last) <= 40
    return (start, end) if ok and _word_end(text, end) else None


def _artifactory(text: str, start: int, end: int) -> Span:
    if not text[start].isalnum():
        start += 1
    token = text[start:end]
    if (
        not _word_end(text, end)
        or (token.isalpha() and token.isupper())
        or not _artifactory_len(token)
    ):
        return None
    return start, end


def _basic_auth(text: str, start: int, end: int) -> Span:
    password = text[start:end].rsplit(":", 1)[1][:-1]
    ok = _value_ok(password, quoted=False) and not placeholder(password)
    return (start, end) if ok else None


def _openai(text: str, start: int, end: int) -> Span:
    token = text[start:end]
    ok = len(token) >= 32 and _mixed(token) and _word_end(text, end) and not placeholder(token)
    return (start, end) if ok else None


def _kw_quoted(text: str, start: int, end: int) -> Span:
    """`key = "value"` or `"value" == key`: the span is the value inside its quotes."""
    candidate = text[start:end]
    quote = candidate[-1] if candidate[-1] in "\"'`" else candidate[0]
    if candidate[0] in "\"'`":
        close = candidate.index(quote, 1)
        v_start, v_end = start + 1, start + close
        ident = candidate[close + 1 :].lstrip(" \t!=")
    else:
        open_at = candidate.index(quote)
        if candidate[-1] != quote or open_at == len(candidate) - 1:
            return None
        v_start, v_end = start + open_at + 1, end - 1
        ident = candidate[:open_at].rstrip(" \t@:=><[]!0123456789\"'")
    if not _FULL_IDENT.search(ident):
        return None
    value = text[v_start:v_end]
    known = _provider(_whole_ident(text, start, ident), value)
    if known is not None:
        return (v_start, v_end) if known else None
    if not _value_ok(value, quoted=True) or placeholder(value):
        return None
    return v_start, v_end


def _kw_bare(text: str, start: int, end: int) -> Span:
    """`key: value` unquoted: a value only when it cannot be an identifier or an expression."""
    candidate = text[start:end]
    op = min((candidate.find(o) for o in ":=" if o in candidate), default=-1)
    ident = candidate[:op].rstrip(" \t'\"")
    rest = candidate[op:]
    operator = rest[: len(rest) - len(rest.lstrip(":=>"))]
    value = rest[len(operator) :].strip()
    v_start = end - len(value)
    value = value.rstrip(",;")
    v_start = start + len(candidate) - len(candidate[op:].lstrip(":=> \t"))
    known = _provider(_whole_ident(text, start, ident), value)
    if known is not None:
        return (v_start, v_start + len(value)) if known else None
    if operator in ("=", "=>") and any(c in value for c in "(){}[]$"):
        return None  # `password = compute(x)` in code
    if len(value) < 6 or not any(not c.isalpha() for c in value) or _IDENTIFIER.match(value):
        return None
    if not _value_ok(value, quoted=False) or placeholder(value):
        return None
    return v_start, v_start + len(value)


_PROSE_SYMBOLS = frozenset("!@#$%^&*+=?~<>|")


def _kw_prose(text: str, start: int, end: int) -> Span:
    """`password is VALUE` in a sentence: a value only with a digit or a symbol a word lacks
    ("is case-sensitive." and "is required" are words, "is Tr0ub4dor&3" is not)."""
    candidate = text[start:end]
    value_at = len(candidate.rstrip()) - len(candidate.split()[-1])
    raw = candidate[value_at:]
    quote = raw[0] if raw[0] in "\"'`" else ""
    if quote and quote in raw[1:]:
        value = raw[1 : raw.index(quote, 1)]  # quoted: exactly what is inside
    else:
        value = raw.lstrip("\"'`").rstrip(".,;:)\"'`")  # "!" and "?" may belong to it
    v_start = start + value_at + raw.index(value) if value else end
    if len(value) < 6 or not any(c.isdigit() or c in _PROSE_SYMBOLS for c in value):
        return None
    if not _value_ok(value, quoted=False) or placeholder(value):
        return None
    return v_start, v_start + len(value)


def _value_ok(value: str, quoted: bool) -> bool:
    stripped = value.strip()
    if len(stripped) < 4 or not any(c.isalnum() for c in stripped):
        return False
    if stripped.startswith(("${", "{{", "<%", "$(", "%(", "#{")) or (
        stripped[0] == "$" and stripped[1:].replace("_", "").isalnum()
    ):
        return False
    if stripped[0] == "<" and stripped[-1] == ">":
        return False
    if _is_uuid(stripped):
        return False
    lowered = stripped.lower()
    if lowered.replace("_", "").replace("-", "").isalpha() and any(
        w in lowered for w in _PLACEHOLDER_WORDS
    ):
        return False  # "real_secret", "somefakekey", "your_api_key": a placeholder, not a value
    if _IDENTIFIER.match(stripped) and stripped.islower():
        return False  # `sort_key = "created_at"`: a name, not a credential
    return not (_KEYWORD_RE.search(stripped) and _FULL_IDENT.search(stripped))


# Providers whose keyword names a documented format. A value in the format's alphabet must
# have exactly its length (a 41-character "AWS secret" or a 50-character IBM IAM key is no
# such key), and one that has it is a secret even where it would read as a word (Cloudant
# keys are 24 lower-case letters). Values outside the alphabet are judged as any other value.
_PROVIDER_FORMATS: list[tuple[tuple[str, ...], re.Pattern, re.Pattern]] = [
    (("aws",), re.compile(r"[A-Za-z0-9/+]+"), re.compile(r"[A-Za-z0-9/+]{40}")),
    (("iam",), re.compile(r"[A-Za-z0-9_\-]+"), re.compile(r"[A-Za-z0-9_\-]{44}")),
    (("cloudant",), re.compile(r"[a-z0-9]+"), re.compile(r"[a-z]{24}|[0-9a-f]{64}")),
]


def _whole_ident(text: str, start: int, ident: str) -> str:
    """`ident` with the identifier characters before the match (which starts at its keyword:
    `ibm_iam_key` matches from `_key`)."""
    pos = start
    while pos > 0 and start - pos < 40 and (text[pos - 1].isalnum() or text[pos - 1] in "_.-"):
        pos -= 1
    return text[pos:start] + ident


def _provider(ident: str, value: str) -> bool | None:
    """True or False when `ident` names a provider with a documented format and `value` is in
    its alphabet, else None."""
    lowered = ident.lower()
    for words, alphabet, exact in _PROVIDER_FORMATS:
        if all(w in lowered for w in words) and alphabet.fullmatch(value):
            return exact.fullmatch(value) is not None
    return None


def _aws_ok(ident: str, value: str) -> bool:
    return _provider(ident, value) is not False


# Marks of a placeholder or documentation value anywhere in it ("sk-your-key-here",
# "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" where no provider format vouches for it, runs of
# x or *): real credentials are random and hold none of these.
# Python's re: RE2 has no back-references; values are short and no part of it backtracks
_PLACEHOLDER_RE = re.compile(
    r"(?i)example|your[-_ ]?(?:own[-_ ]?)?(?:api[-_ ]?)?(?:key|token|secret|pass|password)|"
    r"[-_ ](?:goes[-_ ])?here\b|<[^>]*>|changeme|change[-_]me|replace[-_]?me|placeholder|"
    r"dummy|redacted|x{4,}|\*{3,}|\.{3,}|(.)\1{5,}"
)


def placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER_RE.search(value))


def _is_uuid(value: str) -> bool:
    parts = value.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdefABCDEF" for c in "".join(parts)
    )


def _mixed(token: str) -> bool:
    return (
        any(c.isdigit() for c in token)
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
    )


def _entropy(text: str, start: int, end: int) -> Span:
    token = text[start:end]
    if len(token) < 24 or token.startswith("eyJ"):
        return None  # base64 JSON is a JWT's business
    if (start and (text[start - 1].isalnum() or text[start - 1] in "/\\.")) or not _word_end(
        text, end
    ):
        return None  # part of a path, a URL or a longer word
    if text[end : end + 1] == "." and text[end + 1 : end + 2].isalnum():
        return None  # one part of a dotted token
    parts = [p for p in token.replace("_", "-").split("-") if len(p) >= 20]
    if not parts or all(all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        return None
    if not _mixed(token) or ("/" in token.strip("/") and token.count("/") > 2):
        return None
    if all(c in "0123456789abcdefABCDEF" for c in token):
        return None  # hashes and ids print as hex all the time
    if placeholder(token):
        return None
    return (start, end) if shannon_entropy(token) >= 4.0 else None


def _keel(text: str, start: int, end: int) -> Span:
    """Keel's own tokens: a prefix and token_urlsafe(32), 43 characters (auth/service.py,
    gateway/keys.py)."""
    rest = text[start:end].split("_", 2)[2]
    return (start, end) if len(rest) == 43 and _word_end(text, end) else None


def _real(check: Callable[[str, int, int], Span]) -> Callable[[str, int, int], Span]:
    """A format whose length is open-ended: a placeholder in its shape is not a secret."""

    def run(text: str, start: int, end: int) -> Span:
        span = check(text, start, end)
        return None if span is None or placeholder(text[span[0] : span[1]]) else span

    return run


_CHECKS: dict[str | None, Callable[[str, int, int], Span]] = {
    "keel": _keel,
    "pem": _pem,
    "aws_id": _aws_id,
    "google": _length(39),
    "github": _length(40, range(60, 100)),
    "gitlab": _gitlab,
    "slack": _real(_length(range(15, 300))),
    "stripe": _real(_length(range(18, 120))),
    "openai": _openai,
    "sendgrid": _length(69),
    "jwt": _jwt,
    "twilio": _twilio,
    "mailchimp": _mailchimp,
    "telegram": _telegram,
    "npm": _real(_length(range(36, 200))),
    "pypi": _length(range(70, 300)),
    "azure": _length(range(90, 104)),
    "discord": _discord,
    "basic_auth": _basic_auth,
    "artifactory": _artifactory,
    "kw_cmp": _kw_quoted,
    "kw_assign": _kw_quoted,
    "kw_bare": _kw_bare,
    "kw_prose": _kw_prose,
    "entropy": _entropy,
}
