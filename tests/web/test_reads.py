"""The read functions and pure helpers behind the pages: the audit log's `until`/`before`
paging (on SQLite and PostgreSQL), the filters' time parser (hypothesis), per-minute
gateway figures, figures beside thresholds, the SVG charts and the words helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel import audit
from keel.audit import events as audit_events
from keel.gateway.figures import minute_series
from keel.pipeline.policy import EvidenceFact, NamedPolicy, figure_checks
from keel.pipeline.policy_kind import PolicySpec
from keel.readiness.scorecard import score_text
from keel.web.charts import Series, chart, nice_max
from keel.web.pages.events import Filters, utc_time
from keel.web.present import roles_in_words, words


def test_list_events_pages_back_with_before_and_stops_at_until(ws, admin):
    with ws.write(admin) as session:
        audit.append(
            session, admin, [audit.Change("test.thing.made", f"t{i}", {}) for i in range(7)]
        )
    with ws.read() as session:
        every = audit.list_events(session)
        newest = audit.list_events(session, limit=3)
        page2 = audit.list_events(session, before=newest[0].seq, limit=3)
        assert [e.seq for e in page2] == [e.seq for e in every[-6:-3]]
        cut = every[-1].time  # the last append's time: `until` is exclusive
        assert all(e.time < cut for e in audit.list_events(session, until=cut))
        assert audit.list_events(session, since=cut, until=cut) == []
        assert "test.thing.made" in audit_events.actions(session)


@given(st.datetimes(timezones=st.none() | st.just(UTC)))
def test_filter_times_compare_as_the_log_writes_them(moment):
    text = utc_time(moment.isoformat())
    expected = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    assert text == expected.isoformat(timespec="microseconds").replace("+00:00", "Z")


@given(st.text(max_size=40))
def test_any_typed_time_is_a_time_or_one_line(text):
    try:
        utc_time(text)
    except ValueError as exc:
        assert "\n" not in str(exc)


def test_filters_say_every_problem_at_once():
    with pytest.raises(ValueError) as caught:
        Filters(actor="api:x", since="soon", until="2026-01-01").query()
    assert str(caught.value).splitlines() == [
        "actor: 'api:x' is not a user",
        "since: 'soon' is not a time such as 2026-12-03T17:30 (UTC)",
    ]
    query = Filters(subject="model:credit-scorer", actor="ana.lima").query()
    assert query["subject"] == "model:default/credit-scorer"
    assert query["actor"] == "user:default/ana.lima"
    assert Filters(action="a.b.created").link(before=9) == "/events?action=a.b.created&before=9"


def test_minute_series_buckets_requests_blocks_and_refusals():
    end = datetime(2026, 12, 3, 17, 30, 40, tzinfo=UTC)

    def at(minutes_ago: int, decision: str, latency: float) -> tuple[str, dict]:
        t = (end - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
        return t, {"decision": decision, "latency_ms": latency}

    events = [at(0, "allowed", 1.0), at(0, "allowed", 3.0), at(0, "blocked", 2.0)]
    events += [at(2, "rate_limited:key-rpm", 0.5), at(2, "throttled", 0.5)]
    events += [at(2, "guard_error", 9.0), at(40, "allowed", 1.0)]  # the last: out of range
    rows = minute_series(events, end, minutes=5)
    assert [r["minute"] for r in rows][-1] == "2026-12-03T17:30:00Z" and len(rows) == 5
    assert [r["requests"] for r in rows] == [0, 0, 3, 0, 3]
    assert [r["blocked"] for r in rows] == [0, 0, 1, 0, 1]
    assert [r["refused"] for r in rows] == [0, 0, 2, 0, 0]
    assert rows[-1]["p50"] == 2.0 and rows[-1]["p99"] == 3.0 and rows[0]["p50"] is None


def _policy(thresholds: dict) -> NamedPolicy:
    spec = {"appliesTo": {"systems": ["s"]}, "evidence": {"model": ["fairness"]}}
    return NamedPolicy(
        "policy:default/p", PolicySpec.model_validate(spec | {"thresholds": thresholds})
    )


def test_figure_checks_read_the_gates_thresholds():
    policy = _policy(
        {
            "model.fairness.dpd": {"max": 0.1},
            "model.fairness.auc": {"min": 0.7},
            "model.fairness.gone": {"max": 1},
            "eval.evaluation.roc": {"min": 0.5},
        }
    )
    old = EvidenceFact("model", "fairness", "fail", {"dpd": 0.3}, "2026-01-01T00:00:00Z")
    new = EvidenceFact(
        "model", "fairness", "pass", {"dpd": 0.05, "auc": 0.6, "n": 9}, "2026-01-02T00:00:00Z"
    )
    rows = {(r.figure, r.newest): r for r in figure_checks([policy], [old, new])}
    assert rows[("dpd", True)].passed is True and rows[("dpd", True)].bounds[0][1] == "≤ 0.1"
    assert rows[("auc", True)].passed is False and rows[("auc", True)].bounds[0][1] == "≥ 0.7"
    assert rows[("n", True)].passed is None  # no threshold on it
    assert rows[("gone", True)].value is None and rows[("gone", True)].passed is False
    assert rows[("dpd", False)].passed is False  # the older record, shown as such
    assert rows[("roc", True)].check == "evaluation" and rows[("roc", True)].passed is False


def test_charts_are_accessible_svg_with_their_figures():
    svg = chart("Requests", ["17:00", "17:01", "17:02"], [Series("requests", [0, 40, 7])])
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title id=" in svg
    assert "requests: at most 40 (17:01)" in svg  # the description in words
    assert svg.count("<rect") == 2 + 1  # two bars with a figure, one legend swatch
    lines = chart("Latency", ["a", "b", "c"], [Series("p50", [1.0, None, 2.0])], kind="lines")
    assert lines.count("<circle") == 2 and "<polyline" not in lines  # a gap breaks the line
    hostile = chart("<script>", ["<b>"], [Series("</svg>", [1])])
    assert "<script>" not in hostile and "<b>" not in hostile and hostile.count("</svg>") == 1
    assert [nice_max(v) for v in (0, 0.04, 3, 10, 11, 1234)] == [1, 0.05, 5, 10, 20, 2000]


def test_words_and_scores():
    assert [words(r) for r in ("mlEngineer", "riskLead", "workflowChanges")] == [
        "ML engineer",
        "risk lead",
        "workflow changes",
    ]
    assert roles_in_words("approval riskLead: no riskLead; changePlan.training: not written") == (
        "approval risk lead: no risk lead; change plan (training): not written"
    )
    assert [score_text(x) for x in (93, 93.0, 18.4, 100)] == ["93.0", "93.0", "18.4", "100.0"]
