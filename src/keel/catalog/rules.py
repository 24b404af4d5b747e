"""Backstage's naming rules for entity names, namespaces, kinds, labels, annotations and tags.

Each check returns None when the value is valid, or the reason it is not.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(
    r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$"
)
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_TAG = re.compile(r"^[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*$")


def entity_name(value: str) -> str | None:
    if len(value) > 63 or not _NAME.fullmatch(value):
        return (
            f"{value!r} is not a valid name: 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def namespace(value: str) -> str | None:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        return f"{value!r} is not a valid namespace: 1-63 lower-case letters, digits or '-'"
    return None


def kind(value: str) -> str | None:
    if len(value) > 63 or not _KIND.fullmatch(value):
        return f"{value!r} is not a valid kind"
    return None


def label_key(value: str) -> str | None:
    """A key with an optional DNS-subdomain prefix: `prefix/name` or `name`."""
    prefix, sep, name = value.rpartition("/")
    if sep and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"{value!r} has an invalid prefix {prefix!r}"
    if len(name) > 63 or not _NAME.fullmatch(name):
        return f"{value!r} is not a valid key"
    return None


def label_value(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63 or not _NAME.fullmatch(value):
        return f"{value!r} is not a valid label value"
    return None


def tag(value: str) -> str | None:
    if len(value) > 63 or not _TAG.fullmatch(value):
        return f"{value!r} is not a valid tag: lower-case letters, digits, ':', '+', '#', '-'"
    return None
