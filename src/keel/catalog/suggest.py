"""The one place a reference to a missing entity becomes its error, with the nearest name.

`no such entity system:default/credit-riks; did you mean credit-risk?` when exactly one
existing entity of the same kind and namespace is one edit away (a letter added, dropped,
changed, or two neighbours swapped). Every catalog lookup raises through `missing`.
"""

from __future__ import annotations

from collections.abc import Iterable

from keel.errors import NotFoundError


def one_edit_apart(a: str, b: str) -> bool:
    """True when `b` is `a` with one letter inserted, deleted, replaced, or two adjacent
    letters swapped (optimal string alignment distance 1)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):  # one insertion at i
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:  # one replacement at i
        return True
    swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i]
    return swapped and a[i + 2 :] == b[i + 2 :]  # two neighbours swapped at i


def nearest(key: str, keys: Iterable[str], *, any_kind: bool = False) -> str | None:
    """The one key of the same kind (or of any kind) and namespace one edit from `key`."""
    prefix, _, name = key.rpartition("/")
    if any_kind:
        prefix = prefix.partition(":")[2]

    def place(k: str) -> str:
        where = k.rpartition("/")[0]
        return where.partition(":")[2] if any_kind else where

    close = {k for k in keys if place(k) == prefix and one_edit_apart(name, k.rpartition("/")[2])}
    return close.pop() if len(close) == 1 else None


def missing(
    key: str, keys: Iterable[str], text: str | None = None, *, any_kind: bool = False
) -> NotFoundError:
    """The error for a missing entity `key` (as the user typed it: `text`), naming the one
    existing key one edit away when there is one (of any kind for a reference without one)."""
    said = f"{text!r}: no such entity ({key})" if text is not None else f"no such entity {key}"
    if any_kind:
        said = f"{text!r}: no such entity"
    near = nearest(key, keys, any_kind=any_kind)
    if near is None:
        return NotFoundError(said)
    shown = near if any_kind else near.partition(":")[2].removeprefix("default/")
    return NotFoundError(f"{said}; did you mean {shown}?")
