"""Which scanner passes a text needs: one RE2 set scan over it, shared by the PII and secrets scanners.

A pass (the PII pattern; the secrets formats, keyword and entropy patterns) costs an RE2 call per
candidate plus one, and on short texts that call, not the matching, is most of the work. So each
text is first scanned once for anchors: for every pass, strings that each of its candidates
contains (a literal prefix, or the shortest run its checks accept; the comments say which). A
pass runs only when the text holds an anchor of every group it needs, and then it runs over the
whole text exactly as before; when it is skipped, no candidate of it could have matched or passed
its checks. Anchors are literals or short bounded classes, so the set's DFA stays small, and the
set scan is linear like the rest (RE2's set matcher never bails out on a hostile text).

`compute(text)` returns the text's UTF-8 bytes and its passes; `prepare(text)` hands that from the
PII scanner to the secrets scanner when both scan the same string.
"""

from __future__ import annotations

from keel.guard import engine

PII, FORMATS, KEYWORDS, ENTROPY = "pii", "formats", "keywords", "entropy"

_SEP = r"(?:[ \t]?[-.][ \t]?|[ \t]|[ \t]?\([ \t]?|[ \t]?\)[ \t]?)"  # as in pii.py
_KEYWORD_PARTS = r"(?i:key|pass|pwd|secret|token|credential|contrase|pw\b)"

# (group, anchor): every candidate of a pass holds an anchor of each group the pass needs
_ANCHORS: list[tuple[str, str]] = [
    # PII, one per alternative of pii.KINDS
    ("pii", r"[A-Za-z0-9._%+'-]@[A-Za-z0-9]"),  # e-mail: a local-part character, "@", a host
    ("pii", r"[A-Za-z]{2}\d{2}"),  # IBAN: country code and check digits
    ("pii", r":[0-9A-Fa-f]{0,4}:"),  # IPv6: at least two colons, <= 4 hex digits apart
    ("pii", rf"\d(?:{_SEP}?\d){{6}}"),  # numbers: 7 digits, one separator at most between two
    ("pii", r"\d\.\d{1,3}\.\d{1,3}\.\d"),  # IPv4: four dotted numbers
    # secrets formats (secrets._KINDS): prefix plus the shortest length the check accepts
    ("formats", r"-----BEGIN"),
    ("formats", r"keel_(?:pat|code|ses|gw)_"),
    ("formats", r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}"),
    ("formats", r"AIza|gh[pousr]_|github_pat_|GR1348941|xox[abposre]-|hooks\.slack\.com/services/"),
    ("formats", r"(?:glpat|gldt|glrt|glptt|glcbt|glft|glsoat|glffct|glimt|glagent|gloas)-"),
    ("formats", r"[rs]k_(?:live|test)_|\bsk-[A-Za-z0-9_\-]{29}|SG\.|npm_|registry\.npmjs\.org/:_authToken="),
    ("formats", r"pypi-AgEIcHlwaS5vcmc|AccountKey=|eyJ|-us[0-9]"),
    ("formats", r"\b(?:AC|SK)[a-z0-9]{32}"),  # Twilio: 34 characters
    ("formats", r"\d{8}:"),  # Telegram: a bot id of 8-10 digits
    ("formats", r"\.[\w\-]{6}\.[\w\-]{27}"),  # Discord: 6-character middle, 27+ last part
    ("formats", r"://[^:/?#\s@\"']{1,100}:[^@/?#\s\"']{1,100}@"),  # user:password@ in a URL
    ("formats", r"(?:AKC|AP[\dA-F])[a-zA-Z0-9]{8}"),  # Artifactory: 11+ characters
    # keyword assignments: a keyword (each of secrets._KEYWORD holds one of these) and an operator
    ("keyword", _KEYWORD_PARTS),
    ("operator", r"[:=]|\s@?[\"'`]"),  # =, :, ==, !=, :=, =>, or whitespace before a quote
    ("operator", r"(?i:\s(?:is|was|be|to)\s)"),  # "password is ...", in prose
    # high-entropy strings: the check wants 24+ characters, of which two may be "="
    ("entropy", r"[A-Za-z0-9+/_\-]{22}"),
]  # fmt: skip
_NEEDS = {
    PII: {"pii"},
    FORMATS: {"formats"},
    KEYWORDS: {"keyword", "operator"},
    ENTROPY: {"entropy"},
}
_SET = engine.Set([rx for _, rx in _ANCHORS], engine.options(max_mem=64 << 20))
_BITS = {group: 1 << i for i, group in enumerate(dict.fromkeys(g for g, _ in _ANCHORS))}
_BIT = [_BITS[group] for group, _ in _ANCHORS]  # per anchor
# passes by the groups found (a bit mask)
_PASSES_OF = [
    frozenset(name for name, needs in _NEEDS.items() if all(mask & _BITS[g] for g in needs))
    for mask in range(1 << len(_BITS))
]
POSSIBLE = frozenset(_PASSES_OF)  # every set of passes `prepare` can name
ALL = frozenset(_NEEDS)

Prepared = tuple[str, bytes, bool, frozenset[str]]  # text, its UTF-8, ASCII only?, passes to run
_NONE: tuple[None, bytes, bool, frozenset[str]] = (None, b"", True, frozenset())
_handed: Prepared | tuple[None, bytes, bool, frozenset[str]] = _NONE


def prepare(text: str) -> Prepared:
    """`compute(text)`, handed over once from the first scanner to the next on the same string.

    The PII and secrets scanners run one after the other on the same string (`scan`, the stream
    filter, traffic capture): the first computes and leaves the result here, the second takes it.
    Identity, not equality, is checked, and the result is taken only once, so a later scan of
    the same string does all the work again.
    """
    global _handed
    handed = _handed
    if handed[0] is text:
        _handed = _NONE
        return handed  # type: ignore[return-value]
    _handed = prepared = compute(text)
    return prepared


def compute(text: str) -> Prepared:
    """`text`, its UTF-8 bytes, whether it is ASCII (byte offsets are character offsets), and
    the passes it needs."""
    data = text.encode()
    mask = 0
    for i in _SET.match(data):
        mask |= _BIT[i]
    return text, data, len(data) == len(text), _PASSES_OF[mask]
