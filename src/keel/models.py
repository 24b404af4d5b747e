"""Strict pydantic models for what crosses Keel's edges: an unknown field is refused, never ignored.

An ignored field is a silent change of meaning (`{"expires": "1d"}` for `expires_in_days` made
a token that never expires; `{"sourse": ...}` in a run's dataset dropped its lineage), so every
model a user's JSON or YAML reaches, however deeply nested, derives from `Strict`: the first
field it does not know is refused with one line naming it, the accepted ones and, when one is
close, the field that was probably meant. `line` gives a pydantic error as that one line, with
the path to the object that holds the field, for the API's problem bodies and the services'
`InputError`s alike.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

UNKNOWN_FIELD = "unknown_field"


class Strict(BaseModel):
    """Subclass for every model of user input (request bodies and every object inside them).

    pydantic finds the unknown fields (`extra="forbid"`, each at its own path, beside any
    other problem of the object); this model's wrap validator rewrites each such error into
    Keel's line, listing the fields of the model that holds it. Nested models rewrite their
    own, so the accepted fields are always those of the right object."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _known_fields(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            if not any(e["type"] == "extra_forbidden" for e in exc.errors()):
                raise
            accepted = [f.alias or name for name, f in cls.model_fields.items()]
            raise ValidationError.from_exception_data(
                exc.title, [_detail(e, accepted) for e in exc.errors()]
            ) from None


def _detail(err: Any, accepted: list[str]) -> Any:
    """An error as pydantic takes it back; an unknown field's in Keel's words."""
    kind = err["type"]
    if kind == "extra_forbidden":
        key = err["loc"][-1] if err["loc"] else "?"
        kind = PydanticCustomError(UNKNOWN_FIELD, _refusal(key, accepted))
    elif kind == UNKNOWN_FIELD:  # already rewritten by a nested model
        kind = PydanticCustomError(UNKNOWN_FIELD, err["msg"])
    detail = {"type": kind, "loc": err["loc"], "input": err.get("input")}
    if "ctx" in err and not isinstance(kind, PydanticCustomError):
        detail["ctx"] = err["ctx"]
    return detail


def nearest(name: str, accepted: list[str]) -> str | None:
    """The accepted name `name` is most probably a misspelling of, or None."""
    lowered = {a.lower(): a for a in accepted}
    if name.lower() in lowered:
        return lowered[name.lower()]
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def unknown_field(data: dict, accepted: list[str]) -> str | None:
    """The one line refusing the first field of `data` not in `accepted`, or None."""
    unknown = [k for k in data if k not in accepted]
    return _refusal(unknown[0], accepted) if unknown else None


def _refusal(key: Any, accepted: list[str]) -> str:
    text = f"unknown field {key!r}; accepted: {', '.join(accepted) or 'none'}"
    meant = nearest(str(key), accepted)
    return f"{text} (did you mean {meant!r}?)" if meant else text


def line(err: dict[str, Any], what: str = "", whole: str = "") -> str:
    """A pydantic error as one line, `<what> <path>: <reason>`: `what` names the document
    (`evidence`, `policy`), `whole` stands for the path when the problem is not in a field."""
    where = ".".join(str(p) for p in err.get("loc", ())) or whole
    message = err.get("msg", "invalid")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    head = " ".join(part for part in (what, where) if part)
    return f"{head}: {message}" if head else message
