"""JUnit XML and benchmark files: read what tools write, refuse the rest in one line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.errors import InputError, UsageError
from keel.pipeline.testreports import read_benchmarks, read_junit

PYTEST_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="t" name="a" time="0.1"/>
<testcase classname="t" name="b"><failure message="boom">trace</failure></testcase>
<testcase classname="t" name="c"><error message="setup"/></testcase>
<testcase classname="t" name="d"><skipped message="later"/></testcase>
<testcase classname="t" name="e"><system-out>ok</system-out></testcase>
</testsuite></testsuites>"""


def test_a_pytest_report_is_counted_by_its_testcases(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(PYTEST_JUNIT)
    report = read_junit(path)
    assert (report.passed, report.failed, report.errors, report.skipped) == (2, 1, 1, 1)
    assert report.name == "pytest tests"
    assert report.digest.startswith("sha256:") and report.file == "junit.xml"


def test_a_single_suite_is_a_report_too(tmp_path):
    path = tmp_path / "TEST-unit.xml"
    path.write_text('<testsuite name="unit"><testcase name="x"/></testsuite>')
    assert read_junit(path).as_dict()["passed"] == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("<html/>", "not a JUnit report"),
        ("<testsuite", "not XML"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite/>', "no DTD or entities"),
    ],
)
def test_bad_reports_are_refused_in_one_line(tmp_path, content, reason):
    path = tmp_path / "r.xml"
    path.write_text(content)
    with pytest.raises(InputError, match=reason) as info:
        read_junit(path)
    assert "\n" not in str(info.value)


def test_missing_files_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_junit(tmp_path / "nope.xml")
    with pytest.raises(UsageError, match="no such file"):
        read_benchmarks(tmp_path / "nope.json")


def test_benchmarks_as_a_map_or_a_list(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"auc": 0.8, "rps": 1200}))
    assert [b.as_dict() for b in read_benchmarks(path)] == [
        {"name": "auc", "value": 0.8},
        {"name": "rps", "value": 1200},
    ]
    path.write_text(json.dumps([{"name": "p95", "value": 2.5, "unit": "ms", "baseline": 3}]))
    assert read_benchmarks(path)[0].as_dict() == {
        "name": "p95",
        "value": 2.5,
        "unit": "ms",
        "baseline": 3,
    }


@pytest.mark.parametrize(
    "data",
    [
        '"fast"',
        '{"auc": "high"}',
        '{"auc": true}',
        '[{"value": 1}]',
        '[{"name": "x", "value": 1, "colour": "red"}]',
        '[{"name": "x", "value": 1, "unit": 5}]',
        "{nope",
        '{"auc": NaN}',
    ],
)
def test_bad_benchmarks_are_refused(tmp_path, data):
    path = tmp_path / "b.json"
    path.write_text(data)
    with pytest.raises(InputError):
        read_benchmarks(path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_junit_reader_never_crashes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("j") / "r.xml"
    path.write_bytes(data)
    try:
        report = read_junit(path)
    except InputError:
        return
    assert min(report.passed, report.failed, report.errors, report.skipped) >= 0


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_benchmark_reader_accepts_only_finite_named_numbers(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("b") / "b.json"
    path.write_text(json.dumps(value))
    try:
        found = read_benchmarks(path)
    except InputError:
        return
    for b in found:
        assert b.name and isinstance(b.value, int | float) and b.value == b.value


def test_a_dtd_is_refused_in_any_encoding(tmp_path):
    path = tmp_path / "r.xml"
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE t [<!ENTITY a "aaaa">]><testsuite name="&a;"/>'
    path.write_bytes(doc.encode("utf-16"))
    with pytest.raises(InputError, match="no DTD or entities"):
        read_junit(path)


def test_a_number_too_large_for_a_float_is_refused(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{"x": ' + "9" * 400 + "}")
    with pytest.raises(InputError, match="finite numbers"):
        read_benchmarks(path)
