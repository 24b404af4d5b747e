"""Entity references in Backstage's form `[kind:][namespace/]name`.

An omitted kind is the referring field's default kind; an omitted namespace is the
referring entity's namespace. Comparison is case-insensitive, as in Backstage: `key` is the
lower-cased `kind:namespace/name` that the store indexes and relations point at.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.catalog import rules

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True, slots=True)
class EntityRef:
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        """The normalised form: `kind:namespace/name`, lower case."""
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    def __str__(self) -> str:
        return f"{self.kind.lower()}:{self.namespace}/{self.name}"


def parse_ref(
    text: object,
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Parse a reference; raises ValueError with a one-line reason when it is malformed."""
    if not isinstance(text, str):
        raise ValueError(f"a reference must be a string, not {type(text).__name__}")
    if not text or text != text.strip():
        raise ValueError(f"{text!r} is not a reference: empty or padded with spaces")
    colon, slash = text.find(":"), text.find("/")
    if colon == -1 or -1 < slash < colon:  # a ':' after the '/' belongs to the name
        kind, rest = "", text
    else:
        kind, rest = text[:colon], text[colon + 1 :]
    namespace, sep, name = rest.partition("/")
    if not sep:
        namespace, name = "", rest
    if sep and not namespace:
        raise ValueError(f"{text!r} is not a reference: empty namespace")
    if ":" in name or "/" in name:
        raise ValueError(f"{text!r} is not a reference: the name may not contain ':' or '/'")
    if not name:
        raise ValueError(f"{text!r} is not a reference: empty name")
    if not kind:
        if text.startswith(":"):
            raise ValueError(f"{text!r} is not a reference: empty kind")
        if default_kind is None:
            raise ValueError(f"{text!r} needs a kind here, as in 'component:{text}'")
        kind = default_kind
    namespace = namespace or default_namespace
    # refs compare case-insensitively, so a namespace is checked in lower case
    checks = ((rules.kind, kind), (rules.namespace, namespace.lower()), (rules.entity_name, name))
    for rule, value in checks:
        if reason := rule(value):
            raise ValueError(f"{text!r} is not a reference: {reason}")
    return EntityRef(kind, namespace, name)


def key_of(text: str, *, default_kind: str | None = None) -> str:
    """The normalised key of a user-typed reference (namespace defaults to 'default')."""
    return parse_ref(text, default_kind=default_kind).key


def system_key_of(text: str) -> str:
    """The normalised key of a user-typed System reference (`credit`, `system:ops/credit`):
    the one reading of a system argument everywhere; raises ValueError when malformed."""
    return parse_ref(text, default_kind="system").key
