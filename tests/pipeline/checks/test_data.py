"""Provenance and consent: catalogued sources, declared origins, purposes, digests recorded."""

from __future__ import annotations

from keel.audit.artifacts import artifact_digest
from keel.pipeline.checks import DatasetUse, SourceFacts, consent, provenance
from tests.conftest import GERMAN_CREDIT
from tests.pipeline.checks.conftest import evidence

GERMAN = SourceFacts(
    ref="datasource:default/german-credit",
    origin="UCI Machine Learning Repository, Statlog (German Credit Data), CC BY 4.0",
    consent_purposes=["credit-decisioning", "research"],
    owner="group:default/risk-analytics",
)


def test_the_demo_data_has_provenance_and_its_digest_is_recorded():
    result = provenance([DatasetUse("german-credit", GERMAN_CREDIT, GERMAN)])
    record = evidence(result)
    assert result.result == "pass"
    assert record["inputs"] == {"german-credit": artifact_digest(GERMAN_CREDIT)}
    assert record["figures"]["with_origin"] == 1.0
    assert any("UCI" in line for line in record["log"])


def test_an_uncatalogued_dataset_fails_yet_its_digest_is_recorded(tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text("a,b\n1,2\n")
    result = provenance(
        [DatasetUse("german-credit", GERMAN_CREDIT, GERMAN), DatasetUse("extra", extra, None)]
    )
    evidence(result)
    assert result.result == "fail"
    assert result.inputs["extra"] == artifact_digest(extra)
    assert result.figures["catalogued"] == 1.0
    assert any("extra: no catalogued source" in line for line in result.log)


def test_a_source_without_an_origin_fails():
    nowhere = SourceFacts("datasource:default/scraped", origin="  ", consent_purposes=["x"])
    result = provenance([DatasetUse("scraped", GERMAN_CREDIT, nowhere)])
    assert result.result == "fail"
    assert any("declares no origin" in line for line in evidence(result)["log"])


def test_no_datasets_show_no_provenance():
    result = provenance([])
    assert result.result == "fail"
    assert any("no input datasets" in line for line in evidence(result)["log"])


def test_a_missing_file_is_an_error_not_a_crash(tmp_path):
    result = provenance([DatasetUse("gone", tmp_path / "gone.csv", GERMAN)])
    assert result.result == "error"
    assert result.figures["unreadable"] == 1.0
    assert "gone" in evidence(result)["log"][0]


def test_consent_that_covers_the_purpose_passes():
    result = consent([GERMAN], "credit-decisioning")
    assert result.result == "pass"
    assert evidence(result)["inputs"] == {"purpose": "credit-decisioning"}


def test_consent_for_other_purposes_fails_naming_them():
    result = consent([GERMAN], "marketing")
    assert result.result == "fail"
    assert any("not 'marketing'" in line for line in evidence(result)["log"])


def test_a_source_without_consent_fails_saying_so():
    silent = SourceFacts("datasource:default/silent", origin="internal")
    result = consent([GERMAN, silent], "credit-decisioning")
    assert result.result == "fail"
    assert result.figures == {"sources": 2.0, "covering": 1.0}
    assert any("silent: declares no consent purposes" in line for line in result.log)


def test_a_system_without_a_purpose_fails_saying_so():
    for purpose in (None, ""):
        result = consent([GERMAN], purpose)
        assert result.result == "fail"
        assert any("declares no purpose" in line for line in evidence(result)["log"])


def test_no_sources_show_no_consent():
    assert consent([], "credit-decisioning").result == "fail"
