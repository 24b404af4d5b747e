"""What the guard does with what it finds, per stage (input, output) of a route.

Each scanner has an action: `redact` (replace the span, let the rest through), `block` (refuse
the whole text) or `allow` (record only). Limits (size, tokens) always block. A scanner that fails
blocks when `fail_closed` (the default) and is otherwise reported as unchecked, never as passed.
Policies come from YAML/JSON as plain mappings and are validated here (pydantic), one line per
problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import Field, ValidationError

from keel.errors import InputError
from keel.models import Strict, line

Action = Literal["redact", "block", "allow"]
Stage = Literal["input", "output"]
STAGES: tuple[Stage, ...] = ("input", "output")
SCANNERS = ("unicode", "injection", "pii", "secrets")


@dataclass(frozen=True)
class StagePolicy:
    """The rules for one direction. `pii_types` None means every PII type."""

    pii: Action = "redact"
    secrets: Action = "redact"
    injection: Action = "allow"
    unicode: Action = "redact"
    pii_types: frozenset[str] | None = None
    injection_threshold: float | None = None  # None: the model's own threshold
    max_chars: int = 1_000_000
    max_tokens: int | None = None
    fail_closed: bool = True

    def action(self, scanner: str) -> Action:
        return getattr(self, scanner)


@dataclass(frozen=True)
class Policy:
    input: StagePolicy = field(default_factory=lambda: StagePolicy(injection="block"))
    output: StagePolicy = field(default_factory=StagePolicy)

    def stage(self, stage: Stage) -> StagePolicy:
        return self.input if stage == "input" else self.output


DEFAULT_POLICY = Policy()
# Every finding blocks: what `keel guard scan` uses for CI jobs, hooks and audits.
STRICT_POLICY = Policy(
    input=StagePolicy(pii="block", secrets="block", injection="block", unicode="block"),
    output=StagePolicy(pii="block", secrets="block", injection="allow", unicode="block"),
)


class _StageModel(Strict):
    pii: Action | None = None
    secrets: Action | None = None
    injection: Action | None = None
    unicode: Action | None = None
    pii_types: list[str] | None = None
    injection_threshold: float | None = None
    max_chars: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    fail_closed: bool | None = None


class _PolicyModel(Strict):
    input: _StageModel = _StageModel()
    output: _StageModel = _StageModel()


def parse_policy(data: dict[str, Any] | None, base: Policy = DEFAULT_POLICY) -> Policy:
    """A Policy from a mapping such as `{"output": {"pii": "block"}}`; unset keys keep `base`."""
    try:
        parsed = _PolicyModel.model_validate(data or {})
    except ValidationError as exc:
        raise InputError([line(e, "policy") for e in exc.errors()]) from None
    stages = {}
    for name in STAGES:
        given = getattr(parsed, name).model_dump(exclude_none=True)
        if "pii_types" in given:
            given["pii_types"] = frozenset(given["pii_types"])
        stages[name] = replace(base.stage(name), **given)
    return Policy(**stages)
