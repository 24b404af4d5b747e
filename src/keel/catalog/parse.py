"""From YAML documents to validated entities, or one `file:line: field: reason` per problem.

Checks: the envelope (apiVersion, kind, metadata, spec and nothing else), Backstage's naming
rules, the kind's spec model from the registry, every reference field, and duplicates
across the whole input.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from keel.catalog import kinds, registry, rules
from keel.catalog.entity import Entity, Relation
from keel.catalog.refs import DEFAULT_NAMESPACE, EntityRef, parse_ref
from keel.catalog.source import MAX_DEPTH, Document, dotted
from keel.errors import InputError
from keel.models import nearest

ENVELOPE = ("apiVersion", "kind", "metadata", "spec")
SERVER_FIELDS = ("relations", "status")  # Backstage fills these in; accepted and dropped
SERVER_METADATA = ("uid", "etag", "generation")  # likewise, in entities read from its API
METADATA_FIELDS = (
    "name",
    "namespace",
    "title",
    "description",
    "labels",
    "annotations",
    "tags",
    "links",
)
LINK_FIELDS = ("url", "title", "icon", "type")


def parse_documents(documents: list[Document], warnings: list[str] | None = None) -> list[Entity]:
    """Every document as an Entity; raises InputError listing every problem found. Near
    misses kept in Backstage kinds' specs (`spec.pods` for `pod`) go to `warnings`."""
    entities: list[Entity] = []
    problems: list[str] = []
    first_seen: dict[str, Entity] = {}
    for doc in documents:
        found: list[str] = []
        entity = parse_document(doc, found, warnings)
        problems.extend(found)
        if entity is None:
            continue
        if entity.key in first_seen:
            if first_seen[entity.key].body == entity.body:
                continue  # the same entity reached twice (a folder and a Location): harmless
            problems.append(
                f"{doc.where(('metadata', 'name'))}: metadata.name: duplicate {entity.kind} "
                f"{entity.ref.namespace}/{entity.ref.name}, first defined at "
                f"{first_seen[entity.key].origin}"
            )
            continue
        first_seen[entity.key] = entity
        entities.append(entity)
    if problems:
        raise InputError(problems)
    return entities


def parse_document(
    doc: Document, problems: list[str], warnings: list[str] | None = None
) -> Entity | None:
    """One entity, or None with the reasons appended to `problems` (and near misses that a
    Backstage kind keeps to `warnings`)."""

    start = len(problems)

    def problem(path: tuple, reason: str) -> None:
        problems.append(f"{doc.where(path)}: {dotted(path) or 'document'}: {reason}")

    def warn(path: tuple, reason: str) -> None:
        if warnings is not None:
            warnings.append(f"{doc.where(path)}: {dotted(path)}: {reason}")

    data = doc.data
    if not isinstance(data, dict):
        problem((), f"an entity must be a mapping, not {_type_name(data)}")
        return None
    if _depth(data) > MAX_DEPTH:
        problem((), f"nested deeper than {MAX_DEPTH} levels")
        return None
    for key in data:
        if key not in ENVELOPE and key not in SERVER_FIELDS:
            problem((key,), "unknown field (expected apiVersion, kind, metadata, spec)")
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(api_version, str) or not api_version:
        problem(("apiVersion",), "required, a string such as keel.dev/v1")
    if not isinstance(kind, str) or not kind:
        problem(("kind",), "required, a string such as Model")
        return None
    kind_def = registry.lookup(kind)
    if kind_def is None:
        problem(("kind",), f"unknown kind {kind!r} (known: {', '.join(registry.known_kinds())})")
        return None
    if kind != kind_def.kind:
        problem(("kind",), f"{kind!r} should be spelled {kind_def.kind!r}")
    if isinstance(api_version, str) and api_version not in kind_def.api_versions:
        problem(
            ("apiVersion",),
            f"{kind_def.kind} needs apiVersion {' or '.join(kind_def.api_versions)}",
        )

    metadata = _metadata(data.get("metadata"), problem)
    spec_in = data.get("spec")
    if spec_in is None:
        problem(("spec",), "required, a mapping")
        return None
    if not isinstance(spec_in, dict):
        problem(("spec",), f"must be a mapping, not {_type_name(spec_in)}")
        return None
    spec = _spec(kind_def, spec_in, problem)
    if spec is not None:
        _near_misses(kind_def.spec, spec, ("spec",), warn)
    if metadata is None or spec is None or len(problems) > start:
        return None

    ref = EntityRef(kind_def.kind, metadata["namespace"], metadata["name"])
    body = {"apiVersion": api_version, "kind": kind_def.kind, "metadata": metadata, "spec": spec_in}
    entity = Entity(ref=ref, body=body, origin=doc.where(("metadata", "name")), locate=doc.where)
    for field_def in kind_def.refs:
        for path, value in _values_at(spec_in, field_def.path):
            try:
                target = parse_ref(
                    value, default_kind=field_def.default_kind, default_namespace=ref.namespace
                )
            except ValueError as exc:
                problem(("spec", *path), str(exc))
                continue
            allowed = field_def.allowed_kinds
            if registry.lookup(target.kind) is None:
                problem(("spec", *path), f"{value!r} refers to unknown kind {target.kind!r}")
                continue
            if allowed is not None and target.kind.lower() not in allowed:
                names = " or ".join(sorted(registry.lookup(k).kind for k in allowed))  # type: ignore[union-attr]
                problem(("spec", *path), f"{value!r} must refer to a {names}")
                continue
            source, dest = (target.key, ref.key) if field_def.reverse else (ref.key, target.key)
            entity.relations.append(Relation(source, field_def.relation, dest))
    return None if len(problems) > start else entity


def _metadata(raw: Any, problem) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        problem(("metadata",), "required, a mapping with at least a name")
        return None
    out: dict[str, Any] = {}
    ok = True

    def bad(path: tuple, reason: str) -> None:
        nonlocal ok
        ok = False
        problem(("metadata", *path), reason)

    for key in raw:
        if key not in METADATA_FIELDS and key not in SERVER_METADATA:
            bad((key,), f"unknown field (expected one of {', '.join(METADATA_FIELDS)})")
    name = raw.get("name")
    if not isinstance(name, str):
        bad(("name",), "required, a string")
    elif reason := rules.entity_name(name):
        bad(("name",), reason)
    namespace = raw.get("namespace", DEFAULT_NAMESPACE)
    if not isinstance(namespace, str):
        bad(("namespace",), "must be a string")
    elif reason := rules.namespace(namespace):
        bad(("namespace",), reason)
    for key in ("title", "description"):
        if key in raw and not isinstance(raw[key], str):
            bad((key,), "must be a string")
    for key, value_rule in (("labels", rules.label_value), ("annotations", None)):
        mapping = raw.get(key, {})
        if not isinstance(mapping, dict):
            bad((key,), "must be a mapping of strings")
            continue
        for k, v in mapping.items():
            if reason := rules.label_key(k):
                bad((key, k), reason)
            elif not isinstance(v, str):
                bad((key, k), "value must be a string")
            elif value_rule and (reason := value_rule(v)):
                bad((key, k), reason)
    tags = raw.get("tags", [])
    if not isinstance(tags, list):
        bad(("tags",), "must be a list of strings")
    else:
        for i, t in enumerate(tags):
            if not isinstance(t, str):
                bad(("tags", i), "must be a string")
            elif reason := rules.tag(t):
                bad(("tags", i), reason)
    links = raw.get("links", [])
    if not isinstance(links, list):
        bad(("links",), "must be a list of {url, title, icon, type}")
    else:
        for i, link in enumerate(links):
            if (
                not isinstance(link, dict)
                or not isinstance(link.get("url"), str)
                or not link["url"]
            ):
                bad(("links", i), "needs a url")
                continue
            for k, v in link.items():
                if k not in LINK_FIELDS:
                    bad(
                        ("links", i, k), f"unknown field (expected one of {', '.join(LINK_FIELDS)})"
                    )
                elif not isinstance(v, str):
                    bad(("links", i, k), "must be a string")
    if not ok:
        return None
    out = {k: raw[k] for k in METADATA_FIELDS if k in raw}
    out["namespace"] = namespace
    return out


def _spec(kind_def: kinds.KindDef, spec: dict[str, Any], problem) -> dict[str, Any] | None:
    try:
        kind_def.spec.model_validate(spec)
    except ValidationError as exc:
        reported: set[tuple] = set()
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
            if loc not in reported:  # a union reports once per member it tried
                reported.add(loc)
                message = _message(err)
                if err["type"] == "extra_forbidden":
                    message += _meant(_model_at(kind_def.spec, loc[:-1]), loc[-1])
                problem(("spec", *loc), message)
        return None
    return spec


def _meant(model: type[BaseModel] | None, key: Any) -> str:
    """` (accepted: ...; did you mean `x`?)` for an unknown field of `model`."""
    if model is None:
        return ""
    accepted = list(model.model_fields)
    meant = nearest(str(key), accepted)
    hint = f"; did you mean `{meant}`?" if meant else ""
    return f" (accepted: {', '.join(accepted)}{hint})"


def _near_misses(model: type[BaseModel], value: Any, path: tuple, warn) -> None:
    """Keys a model that allows extra fields (a Backstage kind's spec, a profile) keeps
    although they are a near miss of one of its own: a warning each, since Backstage allows
    other fields but `spec.pods` is almost surely a `pod` the system would lack. Walks the
    nested models too."""
    if not isinstance(value, dict):
        return
    fields = model.model_fields
    for key, item in value.items():
        if key in fields:
            inner = _model_of(fields[key].annotation)
            if inner is not None:
                for sub, element in _elements(item):
                    _near_misses(inner, element, (*path, key, *sub), warn)
        elif model.model_config.get("extra") == "allow":
            meant = nearest(str(key), [f for f in fields if f not in value])
            if meant:
                warn(
                    (*path, key),
                    f"not a field of {_kind_name(model)}, kept for Backstage "
                    f"(did you mean `{meant}`?)",
                )


def _kind_name(model: type[BaseModel]) -> str:
    return model.__name__.removesuffix("Spec")


def _elements(item: Any) -> list[tuple[tuple, Any]]:
    if isinstance(item, list):
        return [((i,), element) for i, element in enumerate(item)]
    return [((), item)]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (through Optional, unions and lists), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model that holds the field at `loc` (a pydantic error's location) inside `model`."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        current = _model_of(field.annotation) if field is not None else None
    return current


def _is_union_tag(part: Any) -> bool:
    # pydantic names the tried member of a union in the location, e.g. 'list[str]'
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "dict"})


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg[0].lower() + msg[1:]


def _values_at(spec: dict[str, Any], path: str) -> list[tuple[tuple, Any]]:
    """The reference values at a dotted path; a field may hold one reference or a list."""
    node: Any = spec
    parts = tuple(path.split("."))
    for part in parts:
        if not isinstance(node, dict) or part not in node or node[part] is None:
            return []
        node = node[part]
    if isinstance(node, list):
        return [((*parts, i), v) for i, v in enumerate(node)]
    return [(parts, node)]


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """How deep lists and mappings nest, counting no further than `limit`."""
    stack, deepest = [(value, 0)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth >= limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _type_name(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), "empty" if value is None else type(value).__name__)
