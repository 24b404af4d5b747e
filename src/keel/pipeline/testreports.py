"""Reading what a build reports about itself: JUnit XML test reports and benchmark figures.

JUnit XML is what pytest (`--junitxml`), Maven, Gradle, Jest and most CI tools write; the
counts come from its `<testcase>` elements, not from the totals a writer may round. The
benchmark file is JSON: `{"name": value, ...}` or `[{"name", "value", "unit"?, "baseline"?}]`.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

from keel.audit.artifacts import file_digest
from keel.errors import InputError, UsageError

MAX_REPORT = 64 * 1024 * 1024


@dataclass(frozen=True)
class TestReport:
    __test__ = False  # not a pytest class, whatever its name says

    name: str
    passed: int
    failed: int
    errors: int
    skipped: int
    file: str
    digest: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "log": {"name": self.file, "digest": self.digest},
        }


@dataclass(frozen=True)
class Benchmark:
    name: str
    value: float
    unit: str | None = None
    baseline: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "value": self.value}
        if self.unit:
            out["unit"] = self.unit
        if self.baseline is not None:
            out["baseline"] = self.baseline
        return out


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.stat().st_size > MAX_REPORT:
        raise InputError(f"{path}: over {MAX_REPORT // 2**20} MiB")
    return path.read_bytes()


def read_junit(path: Path) -> TestReport:
    """One report for the file: a `<testsuites>` or a single `<testsuite>`."""
    data = _read(path)
    _refuse_dtd(path, data)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"{path}: not XML ({exc})") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise InputError(f"{path}: not a JUnit report (root <{root.tag}>)")
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for case in root.iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag == "failure":
                outcome = "failed"
            elif child.tag == "error":
                outcome = "errors"
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        counts[outcome] += 1
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    names = [s.get("name") for s in suites if s.get("name")]
    name = root.get("name") or (names[0] if len(names) == 1 else None) or path.stem
    return TestReport(name, **counts, file=path.name, digest=file_digest(path))


def _refuse_dtd(path: Path, data: bytes) -> None:
    """No DTD, hence no entities, in any encoding the parser reads (a byte search for
    `<!DOCTYPE` misses UTF-16): expat itself reports the declaration."""

    def refuse(*_: Any) -> None:
        raise InputError(f"{path}: a JUnit report has no DTD or entities")

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InputError(f"{path}: not XML ({expat.ErrorString(exc.code)})") from None


def read_benchmarks(path: Path) -> list[Benchmark]:
    try:
        data = json.loads(_read(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not JSON ({exc})") from None
    if isinstance(data, dict):
        data = [{"name": k, "value": v} for k, v in data.items()]
    if not isinstance(data, list):
        raise InputError(f"{path}: benchmarks are an object of name: value, or a list")
    out = []
    for number, item in enumerate(data, start=1):
        where = f"{path}: benchmark {number}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise InputError(f"{where}: needs a name")
        value, baseline = item.get("value"), item.get("baseline")
        if not _finite(value) or (baseline is not None and not _finite(baseline)):
            raise InputError(f"{where} ({item['name']}): value and baseline are finite numbers")
        unit = item.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise InputError(f"{where} ({item['name']}): unit is text")
        extra = set(item) - {"name", "value", "unit", "baseline"}
        if extra:
            raise InputError(f"{where} ({item['name']}): unknown field {sorted(extra)[0]}")
        out.append(Benchmark(item["name"], value, unit, baseline))
    return out


def _finite(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and abs(value) < 1e300
    except OverflowError:  # an integer too large for a float
        return False
