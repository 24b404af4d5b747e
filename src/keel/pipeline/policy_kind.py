"""The `Policy` kind (`keel.dev/v1`): what a release must show before each environment.

Policies are YAML kept with the catalog and applied with it. One applies to the systems it
names and to the systems of the risk tiers it names (a System's `spec.riskTier`):

    apiVersion: keel.dev/v1
    kind: Policy
    metadata: {name: credit-high-risk}
    spec:
      owner: risk-analytics
      appliesTo: {systems: [credit-decisioning], riskTiers: [high]}
      evidence:                       # required checks per track, each a passing record
        data: [provenance, consent, quality]
        model: [fairness, robustness]
        eval: [evaluation]
      thresholds:                     # on the figures of those records: track.check.figure
        model.fairness.demographic_parity_difference: {max: 0.1}
      approvals:                      # pod roles that must approve, per environment
        staging: [mlEngineer]
        production: [riskLead, dataSteward]
      separationOfDuties:             # the author's own approvals do not count; production
        approverIsNotAuthor: true     # needs this many different approvers
        distinctApprovers: 2
        provenIdentities: true        # production counts approvals made with a token or web
                                      # session only, not a local `--as` name
      evidenceMaxAge: 30d             # evidence older than this at promotion does not count
      readiness: {minScore: 70}       # `keel ready` gates on it; entering operate needs it
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from keel.catalog import kinds
from keel.pipeline.environments import Environment

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from keel.catalog.entity import Entity

TRACKS = ("data", "model", "feature", "eval", "deploy")
Track = Literal["data", "model", "feature", "eval", "deploy"]
_AGE = re.compile(r"^([1-9][0-9]*)([dhm])$")
_FIGURE = re.compile(r"^(data|model|feature|eval|deploy)\.[a-z][a-z0-9-]*\.[A-Za-z0-9_.\[\]=-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppliesTo(_Strict):
    systems: list[str] = []
    riskTiers: list[str] = []


class Threshold(_Strict):
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if self.max is None and self.min is None:
            raise ValueError("a threshold needs max or min")
        return self

    def admits(self, value: float) -> bool:
        return (self.max is None or value <= self.max) and (self.min is None or value >= self.min)

    def text(self) -> str:
        """The bound as people read it: "≤ 0.1", "≥ 0.8", "0.2 to 0.8"."""
        if self.max is not None and self.min is not None:
            return f"{self.min:g} to {self.max:g}"
        return f"≤ {self.max:g}" if self.max is not None else f"≥ {self.min:g}"


class Separation(_Strict):
    approverIsNotAuthor: bool = True
    distinctApprovers: int = Field(1, ge=1, le=10)
    provenIdentities: bool = False


class ReadinessGate(_Strict):
    minScore: float = Field(ge=0, le=100)


class PolicySpec(_Strict):
    owner: str | None = None
    description: str | None = None
    appliesTo: AppliesTo
    evidence: dict[Track, list[str]] = {}
    thresholds: dict[str, Threshold] = {}
    approvals: dict[Environment, list[str]] = {}
    separationOfDuties: Separation = Separation()
    evidenceMaxAge: str | None = None
    readiness: ReadinessGate | None = None

    @field_validator("thresholds")
    @classmethod
    def _figure_names(cls, value: dict[str, Threshold]) -> dict[str, Threshold]:
        for name in value:
            if not _FIGURE.match(name):
                raise ValueError(f"threshold {name!r} is not track.check.figure")
        return value

    @field_validator("approvals")
    @classmethod
    def _pod_roles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for roles in value.values():
            for role in roles:
                if role not in kinds.POD_ROLES:
                    raise ValueError(f"unknown role {role!r} (one of {', '.join(kinds.POD_ROLES)})")
        return value

    @field_validator("evidenceMaxAge")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None and not _AGE.match(value):
            raise ValueError("evidenceMaxAge is a number and d, h or m (e.g. 30d)")
        return value

    @model_validator(mode="after")
    def _applies(self) -> PolicySpec:
        if not self.appliesTo.systems and not self.appliesTo.riskTiers:
            raise ValueError("appliesTo names no system and no risk tier")
        return self

    def max_age(self) -> timedelta | None:
        if self.evidenceMaxAge is None:
            return None
        number, unit = _AGE.match(self.evidenceMaxAge).groups()  # type: ignore[union-attr]
        return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: int(number)})


def check(session: Session, entity: Entity) -> list[tuple[kinds.SpecPath, str]]:
    """A threshold reads the newest record of its check, but only a check `evidence` names
    must pass: a threshold on any other (often a misspelt one) is refused."""
    spec = PolicySpec.model_validate(entity.spec)
    out = []
    for name in spec.thresholds:
        track, check_name, _ = name.split(".", 2)
        required = spec.evidence.get(track, [])  # type: ignore[call-overload]
        if check_name not in required:
            listed = f"it names {', '.join(required)}" if required else "it names none"
            out.append(
                (
                    ("thresholds", name),
                    f"{track}.{check_name} is not a check spec.evidence.{track} requires "
                    f"({listed}): add it there, or correct the name",
                )
            )
    return out


POLICY = kinds.KindDef(
    "Policy",
    kinds.KEEL,
    PolicySpec,
    order=80,
    refs=(
        kinds.RefField("owner", "ownedBy", "group", kinds.PEOPLE),
        kinds.RefField("appliesTo.systems", "governs", "system", frozenset({"system"})),
    ),
    check=check,
)
