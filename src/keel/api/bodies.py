"""The base of every JSON request body: unknown fields are refused, never ignored.

An ignored field is a silent change of meaning (`{"expires": "1d"}` for `expires_in_days`
made a token that never expires), so each body names the field it does not know and the
ones it accepts, in one line.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class Body(BaseModel):
    """Subclass for every request body (nested objects too)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            accepted = [f.alias or name for name, f in cls.model_fields.items()]
            problem = unknown_field(data, accepted)
            if problem:
                raise PydanticCustomError("unknown_field", problem)
        return data


def unknown_field(data: dict, accepted: list[str]) -> str | None:
    """The one line refusing the first field of `data` not in `accepted`, or None."""
    unknown = [k for k in data if k not in accepted]
    if not unknown:
        return None
    return f"unknown field {unknown[0]!r}; accepted: {', '.join(accepted) or 'none'}"
