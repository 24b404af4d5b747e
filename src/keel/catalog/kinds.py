"""The registry of entity kinds: what each kind's spec may hold and which fields are references.

Backstage's kinds (`backstage.io/v1alpha1`) keep Backstage's own rules: their required
fields are required and unknown spec fields are allowed, as Backstage allows them. Keel's
kinds (`keel.dev/v1`) are strict: an unknown field is an error. The catalog's own kinds are
defined here (`CATALOG_KINDS`); every package's kinds are listed in `keel.catalog.registry`,
which looks them up (a new kind is one line there; the parser is never touched).

A kind may carry a `check`: called when an entity of the kind is applied, inside the apply's
transaction (so it sees the catalog as applied and may consult its own package, e.g. "this
release exists", through its own tables), it returns (spec path, reason) pairs; any pair refuses the whole apply with
`FILE:LINE: spec.path: reason` lines, as the parser's own refusals read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from keel.catalog.entity import Entity

BACKSTAGE = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
KEEL = ("keel.dev/v1",)

# The four questions every node of the map must answer.
OWNER, LINEAGE, GOVERNANCE, ROLLBACK = "owner", "lineage", "governance", "rollback"

# Relation types that carry lineage, always stored downstream -> upstream.
LINEAGE_RELATIONS = frozenset({"dependsOn", "consumesApi", "providedBy", "measuredBy"})

ANY_KIND = None
PEOPLE = frozenset({"group", "user"})


@dataclass(frozen=True)
class RefField:
    """A spec field holding entity references, and the relation each reference makes.

    `default_kind` None means the reference must name its kind. `reverse` stores the
    relation from the target to this entity (e.g. `providesApis`: the API is provided by it).
    """

    path: str
    relation: str
    default_kind: str | None
    allowed_kinds: frozenset[str] | None = ANY_KIND
    reverse: bool = False


SpecPath = tuple[str | int, ...]  # a path inside `spec`, e.g. ("thresholds", "model.x.y")
Check = Callable[["Session", "Entity"], Iterable[tuple[SpecPath, str]]]


@dataclass(frozen=True)
class KindDef:
    kind: str
    api_versions: tuple[str, ...]
    spec: type[BaseModel]
    refs: tuple[RefField, ...] = ()
    questions: frozenset[str] = frozenset()
    in_map: bool = False  # a node of the system map (not a person, container or location)
    order: int = 100  # export order: people first, then containers, then the map
    check: Check | None = None  # validation against the store, run when applied


# --- spec models ---------------------------------------------------------------------------


class _Backstage(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Keel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rollback(_Keel):
    strategy: Literal["previous-version", "fallback", "disable"]
    target: str | None = None
    runbook: str | None = None

    @model_validator(mode="after")
    def _fallback_needs_target(self) -> Rollback:
        if self.strategy == "fallback" and not self.target:
            raise ValueError("a fallback rollback needs a target")
        return self


class Consent(_Keel):
    basis: str
    purposes: list[str] = []


class Profile(BaseModel):
    model_config = ConfigDict(extra="allow")
    displayName: str | None = None
    email: str | None = None
    picture: str | None = None


class Pod(_Keel):
    """People per role; each role takes one User reference or a list of them."""

    productOwner: str | list[str] = []
    mlEngineer: str | list[str] = []
    dataSteward: str | list[str] = []
    riskLead: str | list[str] = []
    changeManager: str | list[str] = []


POD_ROLES = tuple(Pod.model_fields)


class ChangePlan(_Keel):
    training: str | None = None
    communication: str | None = None
    workflowChanges: str | None = None


class Reviewers(_Keel):
    """Who clears each review of a System (`keel review`); unnamed, the pod's riskLead."""

    privacy: str | None = None
    legal: str | None = None
    security: str | None = None


REVIEW_KINDS = tuple(Reviewers.model_fields)


class GovernedMixin(BaseModel):
    """Keel's extension accepted by Backstage's API and Component too."""

    governance: list[str] = []
    rollback: Rollback | None = None


class ComponentSpec(_Backstage, GovernedMixin):
    type: str
    lifecycle: str
    owner: str
    system: str | None = None
    subcomponentOf: str | None = None
    providesApis: list[str] = []
    consumesApis: list[str] = []
    dependsOn: list[str] = []
    dependencyOf: list[str] = []


class ApiSpec(_Backstage, GovernedMixin):
    type: str
    lifecycle: str
    owner: str
    definition: str | dict[str, Any]
    system: str | None = None
    dependsOn: list[str] = []


class ResourceSpec(_Backstage):
    type: str
    owner: str
    system: str | None = None
    dependsOn: list[str] = []
    dependencyOf: list[str] = []


class SystemSpec(_Backstage):
    owner: str
    domain: str | None = None
    type: str | None = None
    purpose: str | None = None
    governance: list[str] = []
    pod: Pod | None = None
    changePlan: ChangePlan | None = None
    reviewers: Reviewers | None = None


class DomainSpec(_Backstage):
    owner: str
    subdomainOf: str | None = None
    type: str | None = None


class GroupSpec(_Backstage):
    type: str
    children: list[str]
    profile: Profile | None = None
    parent: str | None = None
    members: list[str] = []


class UserSpec(_Backstage):
    memberOf: list[str]
    profile: Profile | None = None


class LocationSpec(_Backstage):
    type: str | None = None
    target: str | None = None
    targets: list[str] = []
    presence: Literal["required", "optional"] | None = None


class _KeelNode(_Keel):
    owner: str | None = None
    system: str | None = None
    type: str | None = None
    lifecycle: str | None = None
    dependsOn: list[str] = []
    governance: list[str] = []
    rollback: Rollback | None = None


class DataSourceSpec(_KeelNode):
    origin: str | None = None
    refresh: str | None = None
    consent: Consent | None = None


class FeatureSetSpec(_KeelNode):
    features: list[str] = []


class ModelSpec(_KeelNode):
    pass


class BusinessOutcomeSpec(_KeelNode):
    kpi: str | None = None
    target: str | int | float | None = None
    measuredBy: list[str] = []


# --- the kinds -----------------------------------------------------------------------------

_OWNER = RefField("owner", "ownedBy", "group", PEOPLE)
_SYSTEM = RefField("system", "partOf", "system", frozenset({"system"}))
_DEPENDS = RefField("dependsOn", "dependsOn", None)
_DEPENDENCY_OF = RefField("dependencyOf", "dependsOn", None, reverse=True)
_ROLLBACK = RefField("rollback.target", "rollbackTo", None)
_POD = tuple(
    RefField(f"pod.{role}", f"pod.{role}", "user", frozenset({"user"})) for role in POD_ROLES
)
_REVIEWERS = tuple(
    RefField(f"reviewers.{kind}", f"reviewer.{kind}", "user", frozenset({"user"}))
    for kind in REVIEW_KINDS
)
_ALL_QUESTIONS = frozenset({OWNER, LINEAGE, GOVERNANCE, ROLLBACK})

GROUP = KindDef(
    "Group",
    BACKSTAGE,
    GroupSpec,
    order=10,
    refs=(
        RefField("parent", "childOf", "group", frozenset({"group"})),
        RefField("children", "parentOf", "group", frozenset({"group"})),
        RefField("members", "hasMember", "user", frozenset({"user"})),
    ),
)
USER = KindDef(
    "User",
    BACKSTAGE,
    UserSpec,
    order=11,
    refs=(RefField("memberOf", "memberOf", "group", frozenset({"group"})),),
)
DOMAIN = KindDef(
    "Domain",
    BACKSTAGE,
    DomainSpec,
    order=20,
    questions=frozenset({OWNER}),
    refs=(
        _OWNER,
        RefField("subdomainOf", "partOf", "domain", frozenset({"domain"})),
    ),
)
SYSTEM = KindDef(
    "System",
    BACKSTAGE,
    SystemSpec,
    order=21,
    questions=frozenset({OWNER}),
    refs=(
        _OWNER,
        RefField("domain", "partOf", "domain", frozenset({"domain"})),
        *_POD,
        *_REVIEWERS,
    ),
)
LOCATION = KindDef("Location", BACKSTAGE, LocationSpec, order=5)


def _node(
    kind: str,
    versions: tuple[str, ...],
    spec: type[BaseModel],
    order: int,
    questions: frozenset[str],
    *refs: RefField,
) -> KindDef:
    """A node of the system map: it is drawn in the map, and it has an owner and a system."""
    return KindDef(kind, versions, spec, (_OWNER, _SYSTEM, *refs), questions, True, order)


RESOURCE = _node(
    "Resource", BACKSTAGE, ResourceSpec, 30, frozenset({OWNER}), _DEPENDS, _DEPENDENCY_OF
)
DATA_SOURCE = _node(
    "DataSource",
    KEEL,
    DataSourceSpec,
    31,
    frozenset({OWNER, LINEAGE, GOVERNANCE}),
    _DEPENDS,
    _ROLLBACK,
)
FEATURE_SET = _node(
    "FeatureSet",
    KEEL,
    FeatureSetSpec,
    32,
    frozenset({OWNER, LINEAGE, ROLLBACK}),
    _DEPENDS,
    _ROLLBACK,
)
MODEL = _node("Model", KEEL, ModelSpec, 33, _ALL_QUESTIONS, _DEPENDS, _ROLLBACK)
COMPONENT = _node(
    "Component",
    BACKSTAGE,
    ComponentSpec,
    34,
    frozenset({OWNER, LINEAGE}),
    RefField("subcomponentOf", "partOf", "component", frozenset({"component"})),
    RefField("providesApis", "providedBy", "api", frozenset({"api"}), reverse=True),
    RefField("consumesApis", "consumesApi", "api", frozenset({"api"})),
    _DEPENDS,
    _DEPENDENCY_OF,
    _ROLLBACK,
)
API = _node("API", BACKSTAGE, ApiSpec, 35, _ALL_QUESTIONS, _DEPENDS, _ROLLBACK)
BUSINESS_OUTCOME = _node(
    "BusinessOutcome",
    KEEL,
    BusinessOutcomeSpec,
    36,
    frozenset({OWNER, LINEAGE}),
    _DEPENDS,
    _ROLLBACK,
    RefField("measuredBy", "measuredBy", None),
)

CATALOG_KINDS = (
    GROUP,
    USER,
    DOMAIN,
    SYSTEM,
    LOCATION,
    RESOURCE,
    DATA_SOURCE,
    FEATURE_SET,
    MODEL,
    COMPONENT,
    API,
    BUSINESS_OUTCOME,
)
