"""Data Ops checks: where each dataset comes from, whether consent covers the use, its quality.

Pure functions over what they are given: the files a run read, the catalogued facts about
their sources, a table of columns. Nothing is looked up; a file is only read to digest it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keel.audit.artifacts import artifact_digest
from keel.errors import InputError, UsageError
from keel.pipeline.checks.expectations import Expectation, measure
from keel.pipeline.checks.facts import DatasetUse, SourceFacts
from keel.pipeline.checks.result import CheckResult, verdict

Table = Mapping[str, Sequence[Any]]


def provenance(datasets: list[DatasetUse]) -> CheckResult:
    """Pass when every dataset has a catalogued source that declares an origin; digests recorded."""
    inputs: dict[str, str] = {}
    log: list[str] = []
    catalogued = with_origin = unreadable = 0
    for use in datasets:
        try:
            inputs[use.name] = artifact_digest(use.path)
        except (UsageError, OSError) as exc:
            unreadable += 1
            log.append(f"{use.name}: cannot digest {use.path}: {exc}")
            continue
        if use.source is None:
            log.append(f"{use.name}: no catalogued source (digest {inputs[use.name]})")
            continue
        catalogued += 1
        if not (use.source.origin or "").strip():
            log.append(f"{use.name}: source {use.source.ref} declares no origin")
            continue
        with_origin += 1
        log.append(f"{use.name}: from {use.source.ref}, origin {use.source.origin!r}")
    if not datasets:
        log.append("no input datasets were declared, so no provenance can be shown")
    figures = {
        "datasets": len(datasets),
        "catalogued": catalogued,
        "with_origin": with_origin,
        "unreadable": unreadable,
    }
    if unreadable:
        return CheckResult("data", "provenance", "error", figures, inputs, log)
    ok = bool(datasets) and with_origin == len(datasets)
    log.append(f"{with_origin} of {len(datasets)} datasets have a catalogued source with an origin")
    return CheckResult("data", "provenance", verdict(ok), figures, inputs, log)


def consent(sources: list[SourceFacts], purpose: str | None) -> CheckResult:
    """Pass when every source's consent purposes include the system's declared purpose."""
    log: list[str] = []
    covering = 0
    if not (purpose or "").strip():
        log.append("the system declares no purpose, so no consent can cover it")
    for source in sources:
        if not source.consent_purposes:
            log.append(f"{source.ref}: declares no consent purposes")
        elif purpose and purpose in source.consent_purposes:
            covering += 1
            log.append(f"{source.ref}: consent covers {purpose!r}")
        else:
            log.append(
                f"{source.ref}: consent covers {', '.join(map(repr, source.consent_purposes))}, "
                f"not {purpose!r}"
            )
    if not sources:
        log.append("no data sources were given, so no consent can be shown")
    ok = bool(purpose and purpose.strip()) and bool(sources) and covering == len(sources)
    log.append(f"{covering} of {len(sources)} sources consent to the system's purpose")
    figures = {"sources": len(sources), "covering": covering}
    inputs = {"purpose": purpose} if purpose else {}
    return CheckResult("data", "consent", verdict(ok), figures, inputs, log)


def columns_of(rows: Any, names: Sequence[str]) -> dict[str, Sequence[Any]]:
    """A table (column name -> values) from a 2-D array or list of rows, columns in `names` order."""
    rows = list(rows)
    if any(len(row) != len(names) for row in rows):
        raise InputError(f"every row needs {len(names)} values, one per column name")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def quality(table: Table, expectations: list[Expectation]) -> CheckResult:
    """Pass when no expectation is violated; figures count violations per expectation.

    `table` maps each column name to its values (a list, tuple or 1-D numpy array), all of
    one length; `columns_of` builds one from rows. Figures are `violations[<column>]`
    (`violations[schema]` for the column set), with `#2`, `#3` added when a column has
    several expectations, and `null_fraction[...]` where a null fraction is bounded.
    """
    rows = _rows(table)
    figures: dict[str, float] = {"rows": rows, "columns": len(table)}
    thresholds: dict[str, float] = {}
    log: list[str] = []
    seen: dict[str, int] = {}
    failed = 0
    for expectation in expectations:
        seen[expectation.subject] = seen.get(expectation.subject, 0) + 1
        label = expectation.subject + (
            f"#{seen[expectation.subject]}" if seen[expectation.subject] > 1 else ""
        )
        finding = measure(expectation, table, rows)
        figures[f"violations[{label}]"] = finding.violations
        if finding.null_fraction is not None:
            figures[f"null_fraction[{label}]"] = finding.null_fraction
            thresholds[f"max_null_fraction[{label}]"] = float(expectation.max_null_fraction or 0)
        for bound in ("min", "max"):
            if getattr(expectation, bound) is not None:
                thresholds[f"{bound}[{label}]"] = getattr(expectation, bound)
        if finding.violations:
            failed += 1
            log.append(f"{expectation.describe()}: {'; '.join(finding.reasons)}")
        else:
            log.append(f"{expectation.describe()}: met")
    if not expectations:
        log.append("no expectations were given, so nothing about the data was shown")
    log.append(
        f"{len(expectations) - failed} of {len(expectations)} expectations met on {rows} rows"
    )
    ok = bool(expectations) and failed == 0
    return CheckResult("data", "quality", verdict(ok), figures, {}, log, thresholds)


def _rows(table: Table) -> int:
    if not isinstance(table, Mapping):
        raise InputError("a table maps column names to their values")
    lengths = set()
    for name, values in table.items():
        if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
            raise InputError(f"column {name!r}: a sequence of values, not {type(values).__name__}")
        if getattr(values, "ndim", 1) != 1:
            raise InputError(f"column {name!r}: a one-dimensional sequence of values")
        lengths.add(len(values))
    if len(lengths) > 1:
        raise InputError(f"columns differ in length ({', '.join(map(str, sorted(lengths)))})")
    return lengths.pop() if lengths else 0
