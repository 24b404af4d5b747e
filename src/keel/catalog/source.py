"""Reading catalog YAML: files and folders, multi-document, with a line number for every field.

Parsing uses libyaml's C composer (PyYAML's `CSafeLoader`); the node tree is then built into
plain Python values while recording the line of each path, so that every later error can
say `file:line: field: reason`. Backstage's conventions are followed: `Location` entities'
local relative targets are read too, `$text` / `$json` / `$yaml` substitutions of local
files are resolved, and anything remote is kept as written and never fetched.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from keel.errors import InputError

FieldPath = tuple[str | int, ...]

YAML_SUFFIXES = (".yaml", ".yml")
SUBSTITUTIONS = ("$text", "$json", "$yaml")
MAX_ALIAS_NODES = 100_000  # caps "billion laughs" expansion through aliases
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_FLOAT = "tag:yaml.org,2002:float"

MAX_DEPTH = 64
MAX_SUBSTITUTION_BYTES = 10 * 1024 * 1024
_CSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_CSafeLoader):  # type: ignore[misc, valid-type]
    """libyaml's parser with YAML 1.2's core schema, as Backstage reads catalogs.

    YAML 1.1 (PyYAML's default) turns `yes`, `on`, `1:30` and `0777` into booleans and
    sexagesimal or octal numbers; in YAML 1.2 they are strings.
    """


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = node.value
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


@dataclass
class Document:
    """One YAML document: its data, the file it came from, and the line of each path."""

    data: Any
    file: str
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line(self, path: FieldPath = ()) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def where(self, path: FieldPath = ()) -> str:
        return f"{self.file}:{self.line(path)}"


@dataclass
class Loaded:
    documents: list[Document]
    warnings: list[str]


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:  # outside the working folder
        return str(absolute)


def is_remote(target: str) -> bool:
    return "://" in target


def load_paths(paths: Iterable[str | Path]) -> Loaded:
    """Read every YAML file under `paths`, following Location targets. Raises InputError."""
    queue: list[Path] = []
    problems: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                f
                for f in path.rglob("*")
                if f.suffix.lower() in YAML_SUFFIXES
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(path).parts)
            )
            if not found:
                problems.append(f"{p}: no .yaml or .yml files in this folder")
            queue.extend(found)
        elif path.is_file():
            queue.append(path)
        else:
            problems.append(f"{p}: no such file or folder")
    if problems:
        raise InputError(problems)
    seen: set[Path] = set()
    documents: list[Document] = []
    warnings: list[str] = []
    while queue:
        path = queue.pop(0)
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            docs = parse_text(path.read_text(encoding="utf-8"), display_path(path))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{display_path(path)}: cannot read: {exc}")
            continue
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        for doc in docs:
            problems.extend(_substitute(doc, path.parent))
            for target, target_path in _location_targets(doc):
                matches = _expand(path.parent, target)
                if matches:
                    queue.extend(matches)
                else:
                    warnings.append(
                        f"{doc.where(target_path)}: location target {target!r} not found"
                    )
        documents.extend(docs)
    if problems:
        raise InputError(problems)
    return Loaded(documents, warnings)


def _expand(base: Path, target: str) -> list[Path]:
    """The files a local Location target names; globs (`./components/*.yaml`) expand."""
    if any(c in target for c in "*?["):
        pattern = target[2:] if target.startswith("./") else target
        return sorted(p.resolve() for p in base.glob(pattern) if p.is_file())
    local = (base / target).resolve()
    return [local] if local.is_file() else []


def parse_text(text: str, file: str = "<input>") -> list[Document]:
    """Parse a multi-document YAML text; empty documents are skipped. Raises InputError."""
    loader = _Loader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            doc = Document(None, file)
            doc.data = _Builder(loader, doc).build(node, ())
            if doc.data is not None:
                documents.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise InputError(f"{file}:{line}: yaml: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:  # a ReaderError (bad character) has a position, no mark
        where = getattr(exc, "position", None)
        line = text.count("\n", 0, where) + 1 if isinstance(where, int) else 1
        reason = (
            str(exc).splitlines()[0].replace("unacceptable character", "unacceptable character")
        )
        raise InputError(f"{file}:{line}: yaml: {reason}") from None
    finally:
        loader.dispose()
    return documents


class _Builder:
    """Turns a composed node tree into Python values, recording the line of each path."""

    def __init__(self, loader: yaml.SafeLoader, doc: Document):
        self.loader = loader
        self.doc = doc
        self.active: set[int] = set()
        self.seen: set[int] = set()
        self.in_alias = 0  # > 0 while building a node a second time through an alias
        self.alias_nodes = 0

    def fail(self, path: FieldPath, line: int, reason: str) -> InputError:
        return InputError(f"{self.doc.file}:{line}: {dotted(path) or 'document'}: {reason}")

    def build(self, node: Node, path: FieldPath) -> Any:
        line = node.start_mark.line + 1
        if len(path) > MAX_DEPTH:
            raise self.fail(path[:MAX_DEPTH], line, f"nested deeper than {MAX_DEPTH} levels")
        ident = id(node)
        repeat = ident in self.seen
        self.in_alias += repeat
        try:
            if self.in_alias:
                self.alias_nodes += 1
                if self.alias_nodes > MAX_ALIAS_NODES:
                    raise self.fail(path, line, "too many aliased nodes")
            self.seen.add(ident)
            return self._build(node, path, line, ident)
        finally:
            self.in_alias -= repeat

    def _build(self, node: Node, path: FieldPath, line: int, ident: int) -> Any:
        self.doc.lines.setdefault(path, line)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path, line)
        if ident in self.active:
            raise self.fail(path, line, "recursive alias")
        self.active.add(ident)
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            self.loader.flatten_mapping(node)
            merged = len(node.value) - explicit  # flatten puts merged pairs first
            out: dict[str, Any] = {}
            from_merge: set[str] = set()
            for position, (key_node, value_node) in enumerate(node.value):
                key = (
                    key_node.value
                    if key_node.tag == _STR
                    else self.loader.construct_object(key_node, deep=True)
                )
                key_line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    raise self.fail(path, key_line, f"keys must be strings, not {key!r}")
                if position < merged:  # YAML merge: the first merged map to give a key wins
                    if key in out:
                        continue
                    from_merge.add(key)
                elif key in out and key not in from_merge:
                    raise self.fail((*path, key), key_line, "duplicate key")
                else:
                    from_merge.discard(key)  # an explicit key overrides a merged one
                self.doc.lines[(*path, key)] = key_line
                out[key] = self.build(value_node, (*path, key))
            return out
        finally:
            self.active.discard(ident)

    def _scalar(self, node: ScalarNode, path: FieldPath, line: int) -> Any:
        if node.tag == _STR:  # most values: skip the constructor's dispatch
            return node.value
        if node.tag == _TIMESTAMP:
            return node.value  # keep dates as written: JSON has no date type
        try:
            value = self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an integer past Python's digit limit
            raise self.fail(path, line, f"not a usable value: {str(exc).splitlines()[0]}") from None
        if node.tag == _FLOAT and not math.isfinite(value):
            raise self.fail(path, line, f"{node.value!r} is not a finite number")
        if isinstance(value, bytes):
            raise self.fail(path, line, "binary values are not supported")
        return value


def dotted(path: FieldPath) -> str:
    """`('spec', 'pod', 'riskLead', 0)` -> `spec.pod.riskLead[0]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _substitute(doc: Document, base: Path) -> list[str]:
    """Resolve `$text`/`$json`/`$yaml` of local files in place; remote ones stay as written."""
    problems: list[str] = []

    def walk(value: Any, path: FieldPath) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, target),) = value.items()
                if key in SUBSTITUTIONS and isinstance(target, str):
                    return resolve(key, target, path)
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    def resolve(key: str, target: str, path: FieldPath) -> Any:
        if is_remote(target):
            return {key: target}
        where = f"{doc.where((*path, key))}: {dotted(path)}"
        file = base / target
        try:
            if not file.is_file():
                raise FileNotFoundError(2, "not a regular file")
            if file.stat().st_size > MAX_SUBSTITUTION_BYTES:
                raise OSError(27, f"larger than {MAX_SUBSTITUTION_BYTES // (1024 * 1024)} MiB")
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"{where}: cannot read {key} {target!r}: {exc.strerror or exc}")
            return None
        except UnicodeDecodeError:
            problems.append(f"{where}: cannot read {key} {target!r}: not UTF-8 text")
            return None
        if key == "$text":
            return text
        try:
            if key == "$json":
                return json.loads(text, parse_constant=_no_constant)
            docs = parse_text(text, target)
            return docs[0].data if docs else None
        except InputError as exc:
            problems.append(f"{where}: {target!r} is not valid yaml: {exc.problems[0]}")
            return None
        except ValueError as exc:
            problems.append(f"{where}: {target!r} is not valid json: {str(exc).splitlines()[0]}")
            return None

    doc.data = walk(doc.data, ())
    return problems


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _location_targets(doc: Document) -> list[tuple[str, FieldPath]]:
    """The local targets of a Location document (remote ones are never fetched)."""
    data = doc.data
    if not (isinstance(data, dict) and str(data.get("kind", "")).lower() == "location"):
        return []
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return []
    found: list[tuple[str, FieldPath]] = []
    if isinstance(spec.get("target"), str):
        found.append((spec["target"], ("spec", "target")))
    if isinstance(spec.get("targets"), list):
        found.extend(
            (t, ("spec", "targets", i)) for i, t in enumerate(spec["targets"]) if isinstance(t, str)
        )
    return [(t, p) for t, p in found if not is_remote(t)]
