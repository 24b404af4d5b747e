"""Releases on both stores: a real German Credit model released, attested, verified, exported."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from keel.audit import attest, checkpoints, intoto, list_events
from keel.audit.artifacts import artifact_digest
from keel.errors import NotFoundError, PermissionDenied, UsageError
from keel.identity import user_actor
from keel.pipeline import releases
from keel.pipeline.bom import release_bom
from keel.pipeline.testreports import Benchmark
from tests.conftest import GERMAN_CREDIT

SYSTEM = "credit-decisioning"


def _build(artifact, **extra) -> releases.Build:
    return releases.Build(
        artifact=artifact,
        data={"datasource:default/german-credit": GERMAN_CREDIT},
        commit="a" * 40,
        repository="https://git.example/bank/credit",
        parameters={"architecture": "GradientBoostingClassifier", "seed": 7},
        benchmarks=[Benchmark("ROC AUC", 0.8), Benchmark("p95 latency", 2.5, "ms")],
        **extra,
    )


def _release(ws, engineer, artifact, model="credit-scorer", **extra):
    with ws.write(engineer) as session:
        return releases.create_release(
            session, engineer, ws.signer(), SYSTEM, model, _build(artifact, **extra)
        )


def test_a_release_is_signed_recorded_and_verifies(demo_ws, engineer, credit_artifacts):
    artifact = credit_artifacts["credit-scorer"]
    release = _release(demo_ws, engineer, artifact)
    assert release.name == "model:default/credit-scorer@1"
    assert release.artifact_digest == artifact_digest(artifact)
    provenance, statement = release.statements()
    assert provenance["predicateType"] == intoto.SLSA_PROVENANCE_V1
    deps = {
        d["name"]: d for d in provenance["predicate"]["buildDefinition"]["resolvedDependencies"]
    }
    assert deps["datasource:default/german-credit"]["digest"] == {
        "sha256": artifact_digest(GERMAN_CREDIT).split(":")[1]
    }
    assert deps["source"]["digest"] == {"gitCommit": "a" * 40}
    assert "featureset:default/credit-features" in deps  # the lineage, from the system map
    predicate = statement["predicate"]
    assert {e["subject"] for e in predicate["events"]} == {
        "model:default/credit-scorer",
        "featureset:default/credit-features",
        "datasource:default/german-credit",
    }
    with demo_ws.read() as session:
        result = releases.verify_file(
            session, release.bundle, pinned=demo_ws.pinned(), artifact=artifact
        )
        (event,) = list_events(session, action="pipeline.release.created")
    assert result.ok, result.problems
    assert event.details["statements"] == result.payload_digests
    assert any("extends the attested one" in c for c in result.checks)


def test_versions_count_up_per_model_and_are_listed(demo_ws, engineer, credit_artifacts):
    _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    _release(demo_ws, engineer, credit_artifacts["credit-scorecard"], model="credit-scorecard")
    second = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    assert second.short_name == "credit-scorer@2"
    with demo_ws.read() as session:
        names = [r.short_name for r in releases.list_releases(session, SYSTEM)]
        assert names == ["credit-scorecard@1", "credit-scorer@1", "credit-scorer@2"]
        assert releases.list_releases(session, "support-assistant") == []
        assert releases.get_release(session, "credit-scorer@2") == second
        assert releases.get_release(session, "model:default/credit-scorer@2") == second
        with pytest.raises(NotFoundError):
            releases.get_release(session, "credit-scorer@3")
        for bad in ("credit-scorer", "credit-scorer@x", "@1"):
            with pytest.raises(UsageError):
                releases.get_release(session, bad)


def test_who_may_release_and_what_must_be_pinned(demo_ws, engineer, credit_artifacts):
    artifact = credit_artifacts["credit-scorer"]
    risk_lead = user_actor("user:default/dara.kim", "local")
    with pytest.raises(PermissionDenied, match="not mlEngineer"):
        _release(demo_ws, risk_lead, artifact)
    with demo_ws.write(engineer) as session, pytest.raises(UsageError, match="not system"):
        releases.create_release(
            session,
            engineer,
            demo_ws.signer(),
            "support-assistant",
            "credit-scorer",
            _build(artifact),
        )
    with demo_ws.write(engineer) as session, pytest.raises(UsageError, match="has no digest"):
        releases.create_release(
            session,
            engineer,
            demo_ws.signer(),
            SYSTEM,
            "credit-scorer",
            releases.Build(artifact=artifact),
        )
    with demo_ws.write(engineer) as session, pytest.raises(UsageError, match="not upstream"):
        build = _build(artifact)
        build.data["datasource:default/ticket-history"] = GERMAN_CREDIT
        releases.create_release(session, engineer, demo_ws.signer(), SYSTEM, "credit-scorer", build)
    with demo_ws.write(engineer) as session, pytest.raises(UsageError, match="not a model"):
        releases.create_release(
            session,
            engineer,
            demo_ws.signer(),
            SYSTEM,
            "datasource:german-credit",
            _build(artifact),
        )
    with demo_ws.read() as session:
        assert releases.list_releases(session) == []  # nothing half-written


def test_a_changed_event_or_a_rewritten_log_fails_the_live_check(
    demo_ws, engineer, credit_artifacts
):
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    index = release.statements()[1]["predicate"]["events"][0]["index"]
    with demo_ws.write(engineer) as session:
        session.execute(
            text(
                "UPDATE audit_nodes SET hash = :h WHERE log = 'governance' AND level = 0 AND idx = :i"
            ),
            {"h": b"\x00" * 32, "i": index},
        )
    with demo_ws.read() as session:
        result = releases.verify_file(session, release.bundle, pinned=demo_ws.pinned())
    assert not result.ok
    assert f"event governance#{index + 1} is not in the live log as attested" in result.problems


EDIT = {  # one more space in the stored bytes
    "sqlite": "UPDATE audit_events SET body = CAST(REPLACE(CAST(body AS TEXT), '\"seq\":', "
    "'\"seq\": ') AS BLOB) WHERE seq = {seq}",
    "postgresql": "UPDATE audit_events SET body = convert_to(replace(convert_from(body, 'UTF8'), "
    "'\"seq\":', '\"seq\": '), 'UTF8') WHERE seq = {seq}",
}


@pytest.mark.parametrize("tamper", ["edit", "DELETE FROM audit_events WHERE seq = {seq}"])
def test_an_edited_or_deleted_event_row_fails_the_live_check(
    demo_ws, engineer, credit_artifacts, tamper
):
    """The rows themselves are hashed, not only the stored tree nodes."""
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    seq = release.statements()[1]["predicate"]["events"][-1]["index"] + 1
    sql = EDIT[demo_ws.engine.dialect.name] if tamper == "edit" else tamper
    with demo_ws.engine.begin() as conn:
        assert conn.execute(text(sql.format(seq=seq))).rowcount == 1
    with demo_ws.read() as session:
        result = releases.verify_file(session, release.bundle, pinned=demo_ws.pinned())
    assert f"event governance#{seq} is not in the live log as attested" in result.problems


def test_a_bundle_the_log_does_not_record_is_refused(demo_ws, engineer, credit_artifacts):
    """Signed with the workspace key but never recorded: the live check notices."""
    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    provenance, statement = release.statements()
    statement["predicate"]["benchmarks"] = [{"name": "ROC AUC", "value": 0.99}]
    forged = attest.sign_bundle([provenance, statement], demo_ws.signer())
    with demo_ws.read() as session:
        offline = attest.verify_bundle(forged, releases.trusted_keys(session, demo_ws.pinned()))
        result = releases.verify_file(session, forged, pinned=demo_ws.pinned())
    assert offline.ok  # the signature alone cannot tell
    assert result.problems == [
        "the log does not record these statements for model:default/credit-scorer@1"
    ]


def test_a_key_row_of_the_attackers_does_not_make_their_attestation_verify(
    demo_ws, engineer, credit_artifacts
):
    """The attack (issue: attest verify trusted the key table): with write access to the
    store and no key file, add your own key to `audit_keys`, sign a bundle that names
    another artifact with it, and record its statements in the log. The key table would
    trust it; `verify_file` trusts only the pinned key file and the keys it endorsed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from keel import audit
    from keel.audit import keys
    from keel.audit.tables import KeyRow
    from keel.store import transaction

    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    forger = keys.Signer(demo_ws.name, Ed25519PrivateKey.generate())
    statements = release.statements()
    for statement in statements:  # the attacker's model, under the release's name
        statement["subject"][0]["digest"] = {"sha256": "e" * 64}
    forged = attest.sign_bundle(statements, forger)
    predicate = statements[1]["predicate"]
    with transaction(demo_ws.engine, write=True) as session:  # store access, no key
        session.add(
            KeyRow(
                key_id=forger.key_id,
                name=forger.name,
                public_key=forger.public_key,
                created_at="2026-12-01T00:00:00Z",
                retired_at=None,
            )
        )
        audit.append(
            session,
            engineer,
            [
                audit.Change(
                    "pipeline.release.created",
                    predicate["release"]["model"],
                    {
                        "release": predicate["release"]["name"],
                        "statements": attest.statement_digests(forged),
                    },
                )
            ],
        )
    demo_ws.seal()  # an honest signer signs whatever was appended
    with demo_ws.read() as session:
        table = attest.verify_bundle(forged, keys.verifier_keys(keys.history(session)))
        result = releases.verify_file(session, forged, pinned=demo_ws.pinned())
        honest = releases.verify_file(session, release.bundle, pinned=demo_ws.pinned())
    assert table.ok  # what trusting the key table let through
    assert not result.ok
    assert result.problems[0].startswith("envelope 1: ")
    assert honest.ok, honest.problems


def test_old_releases_verify_after_a_key_rotation(demo_ws, engineer, credit_artifacts):
    from keel.audit import log as audit_log

    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    with demo_ws.write(engineer) as session:
        audit_log.rotate_key(session, engineer, demo_ws.settings.home, demo_ws.name)
        checkpoints.checkpoint(session, demo_ws.signer())
    demo_ws._signer = None
    with demo_ws.read() as session:
        result = releases.verify_file(session, release.bundle, pinned=demo_ws.pinned())
    assert result.ok, result.problems


def test_the_ml_bom_is_valid_cyclonedx_1_6_with_a_model_card(demo_ws, engineer, credit_artifacts):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    release = _release(demo_ws, engineer, credit_artifacts["credit-scorer"])
    with demo_ws.read() as session:
        bom = release_bom(session, "credit-scorer@1")
        again = release_bom(session, "credit-scorer@1")
    assert bom == again  # stable
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None
    model = bom["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    assert model["hashes"] == [{"alg": "SHA-256", "content": release.artifact_digest[7:]}]
    card = model["modelCard"]
    assert card["modelParameters"]["task"] == "classification"
    assert card["modelParameters"]["modelArchitecture"] == "GradientBoostingClassifier"
    assert card["modelParameters"]["datasets"] == [
        {"ref": "featureset:default/credit-features"},
        {"ref": "datasource:default/german-credit"},
    ]
    assert {"type": "p95 latency", "value": "2.5 ms"} in card["quantitativeAnalysis"][
        "performanceMetrics"
    ]
    (data,) = [c for c in bom["components"] if c["bom-ref"] == "datasource:default/german-credit"]
    assert data["hashes"][0]["content"] == artifact_digest(GERMAN_CREDIT)[7:]
    assert data["data"][0]["contents"]["url"].startswith("https://archive.ics.uci.edu/")


@given(version=st.text(min_size=1, max_size=12))
def test_a_release_reference_is_ascii_digits_or_one_line_refusal(version):
    """`model@V`: V is a positive ASCII number (no sign, no leading zero, at most 9 digits) or
    the reference is refused with InputError; never another exception, never an alias (a
    superscript, an Arabic-Indic or a fullwidth digit must not name release 1)."""
    from keel.errors import InputError
    from keel.pipeline.releases import release_key

    plain = version.isascii() and version.isdigit() and version[0] != "0" and len(version) <= 9
    try:
        key = release_key(f"credit-scorer@{version}")
    except InputError as exc:
        assert not plain and "\n" not in str(exc)
    else:
        assert plain and key == f"model:default/credit-scorer@{version}"


@pytest.mark.parametrize(
    "odd", ["\u00b2", "\u0661", "\uff11", "01", "0", "-1", "1.5", " 1", "1 "]
)  # superscript two, Arabic-Indic one, fullwidth one, ...
def test_look_alike_versions_are_refused(odd):
    from keel.errors import InputError
    from keel.pipeline.releases import release_key

    with pytest.raises(InputError, match="is not a release"):
        release_key(f"credit-scorer@{odd}")
