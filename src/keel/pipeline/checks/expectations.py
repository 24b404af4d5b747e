"""Declarative data expectations: parsing them from plain data, and counting rows that break them.

An expectation is a mapping, as written in YAML:

    - {columns: [age, duration, purpose]}          # schema: exactly these columns
    - {column: age, not_null: true, min: 18, max: 100}
    - {column: duration, type: number}             # number | integer | string | boolean
    - {column: purpose, in: [A40, A41, A42]}
    - {column: telephone, max_null_fraction: 0.01}

A column expectation with no rule only says the column exists. Null is None or a float NaN;
the type, range and `in` rules judge non-null values only (nullness has its own rules).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keel.errors import InputError

TYPES = ("number", "integer", "string", "boolean")
KEYS = ("column", "columns", "not_null", "max_null_fraction", "type", "min", "max", "in")
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Expectation:
    """Either a schema (`columns`: the exact column set) or rules about one `column`."""

    column: str | None = None
    columns: tuple[str, ...] | None = None
    not_null: bool = False
    max_null_fraction: float | None = None
    type: str | None = None
    min: float | None = None
    max: float | None = None
    allowed: tuple[Scalar, ...] | None = None  # written `in`

    @property
    def subject(self) -> str:
        return "schema" if self.columns is not None else str(self.column)

    def describe(self) -> str:
        if self.columns is not None:
            return f"exactly the columns {', '.join(self.columns)}"
        rules = []
        if self.not_null:
            rules.append("not null")
        if self.max_null_fraction is not None:
            rules.append(f"at most {self.max_null_fraction:g} null")
        if self.type:
            rules.append(f"type {self.type}")
        if self.min is not None:
            rules.append(f">= {self.min:g}")
        if self.max is not None:
            rules.append(f"<= {self.max:g}")
        if self.allowed is not None:
            rules.append(f"one of {len(self.allowed)} values")
        return f"{self.column}: " + (", ".join(rules) if rules else "present")


# -- parsing ------------------------------------------------------------------------------


def parse_expectations(data: Any) -> list[Expectation]:
    """Expectations from a list of plain mappings; InputError with one line per problem."""
    if not isinstance(data, list):
        raise InputError(f"expectations: a list of mappings, not {_kind(data)}")
    problems: list[str] = []
    parsed = []
    for i, item in enumerate(data):
        found: list[str] = []
        expectation = _parse_one(item, f"expectations[{i}]", found)
        problems.extend(found)
        if expectation is not None and not found:
            parsed.append(expectation)
    if problems:
        raise InputError(problems)
    return parsed


def _parse_one(item: Any, where: str, problems: list[str]) -> Expectation | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: a mapping, not {_kind(item)}")
        return None
    for key in item:
        if key not in KEYS:
            problems.append(
                f"{where}.{_show(key)}: unknown key (expected one of {', '.join(KEYS)})"
            )
    if problems:
        return None
    if ("column" in item) == ("columns" in item):
        problems.append(f"{where}: needs exactly one of column (rules) or columns (schema)")
        return None
    if "columns" in item:
        return _parse_schema(item, where, problems)
    return _parse_column(item, where, problems)


def _parse_schema(item: Mapping, where: str, problems: list[str]) -> Expectation | None:
    if len(item) > 1:
        problems.append(f"{where}: a schema expectation takes only columns")
        return None
    columns = item["columns"]
    if not isinstance(columns, list) or not all(_name(c) for c in columns):
        problems.append(f"{where}.columns: a list of column names")
        return None
    if len(set(columns)) != len(columns):
        problems.append(f"{where}.columns: names a column twice")
        return None
    return Expectation(columns=tuple(columns))


def _parse_column(item: Mapping, where: str, problems: list[str]) -> Expectation | None:
    def bad(key: str, reason: str) -> None:
        problems.append(f"{where}.{key}: {reason}")

    column = item["column"]
    if not _name(column):
        bad("column", "a column name (a non-empty string)")
    not_null = item.get("not_null", False)
    if not isinstance(not_null, bool):
        bad("not_null", f"true or false, not {_kind(not_null)}")
    max_null_fraction = _number(item, "max_null_fraction", bad)
    if max_null_fraction is not None and not 0 <= max_null_fraction <= 1:
        bad("max_null_fraction", "a fraction between 0 and 1")
    type_ = item.get("type")
    if type_ is not None and type_ not in TYPES:
        bad("type", f"one of {', '.join(TYPES)}")
    low, high = _number(item, "min", bad), _number(item, "max", bad)
    if low is not None and high is not None and low > high:
        bad("min", f"{low:g} is above max {high:g}")
    if (low is not None or high is not None) and type_ in ("string", "boolean"):
        bad("type", f"min and max need numbers, and {type_} values are not")
    allowed = item.get("in")
    if allowed is not None and not (
        isinstance(allowed, list) and allowed and all(_scalar(v) for v in allowed)
    ):
        bad("in", "a non-empty list of strings, numbers or booleans")
    if problems:
        return None
    return Expectation(
        column=column,
        not_null=not_null,
        max_null_fraction=max_null_fraction,
        type=type_,
        min=low,
        max=high,
        allowed=tuple(allowed) if allowed is not None else None,
    )


def _number(item: Mapping, key: str, bad: Any) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        bad(key, f"a number, not {_kind(value)}")
        return None
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        bad(key, "a finite number")
        return None
    return number


def _show(key: Any) -> str:
    """A key as it can stand in a one-line message."""
    return key if isinstance(key, str) and key.isidentifier() else repr(key)


def _name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")


# -- measuring ----------------------------------------------------------------------------


def is_null(value: Any) -> bool:
    return value is None or (isinstance(value, numbers.Real) and value != value)  # NaN


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _is_bool(value: Any) -> bool:
    return type(value).__name__ in ("bool", "bool_")  # Python's and numpy's


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "number":
        return _is_number(value)
    if kind == "integer":
        return _is_number(value) and math.isfinite(value) and float(value).is_integer()
    if kind == "string":
        return isinstance(value, str)
    return _is_bool(value)


@dataclass(frozen=True)
class Finding:
    """How one expectation fared: rows (or columns) in violation, and why, in words."""

    violations: int
    reasons: list[str]
    null_fraction: float | None = None


def measure(expectation: Expectation, table: Mapping[str, Sequence[Any]], rows: int) -> Finding:
    """Count what breaks `expectation` in `table` (columns of equal length `rows`)."""
    if expectation.columns is not None:
        missing = [c for c in expectation.columns if c not in table]
        extra = [c for c in table if c not in expectation.columns]
        reasons = []
        if missing:
            reasons.append(f"missing {', '.join(missing)}")
        if extra:
            reasons.append(f"unexpected {', '.join(extra)}")
        return Finding(len(missing) + len(extra), reasons)
    column = str(expectation.column)
    if column not in table:
        return Finding(max(rows, 1), [f"no column {column}"])
    values = table[column]
    nulls = [is_null(v) for v in values]
    null_count = sum(nulls)
    counts = {"null": 0, "type": 0, "min": 0, "max": 0, "in": 0}
    allowed = _membership(expectation.allowed)
    broken_rows = 0
    for value, null in zip(values, nulls, strict=True):
        broken = []
        if null:
            if expectation.not_null:
                broken.append("null")
        else:
            if expectation.type and not _type_ok(expectation.type, value):
                broken.append("type")
            if expectation.min is not None and not (_is_number(value) and value >= expectation.min):
                broken.append("min")
            if expectation.max is not None and not (_is_number(value) and value <= expectation.max):
                broken.append("max")
            if allowed is not None and not allowed(value):
                broken.append("in")
        for rule in broken:
            counts[rule] += 1
        broken_rows += bool(broken)
    fraction = null_count / rows if rows else 0.0
    violations = broken_rows
    reasons = [_REASONS[rule].format(n=n, e=expectation) for rule, n in counts.items() if n]
    if expectation.max_null_fraction is not None:
        excess = null_count - math.floor(expectation.max_null_fraction * rows + 1e-9)
        if excess > 0:
            violations += excess
            reasons.append(
                f"{null_count} nulls ({fraction:.1%}), {excess} more than "
                f"{expectation.max_null_fraction:g} allows"
            )
    return Finding(
        violations, reasons, fraction if expectation.max_null_fraction is not None else None
    )


_REASONS = {
    "null": "{n} null",
    "type": "{n} not of type {e.type}",
    "min": "{n} below {e.min:g} (or not a number)",
    "max": "{n} above {e.max:g} (or not a number)",
    "in": "{n} outside the allowed values",
}


def _membership(allowed: tuple[Scalar, ...] | None) -> Any:
    if allowed is None:
        return None
    values = set(allowed)

    def test(value: Any) -> bool:
        try:
            return value in values
        except TypeError:  # unhashable cell: compare one by one
            return any(value == a for a in allowed)

    return test
