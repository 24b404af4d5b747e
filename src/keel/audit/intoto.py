"""in-toto Statements v1, their resource descriptors, and SLSA Provenance v1 predicates.

The checks follow the in-toto attestation framework's Go `Validate()` rules, error names
included (`ErrSubjectRequired`, `ErrIncorrectDigestLength`, ...), so a statement Keel writes
or reads is one the reference implementation accepts.
"""

from __future__ import annotations

import string
from typing import Any

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = (STATEMENT_V1, "https://in-toto.io/Statement/v0.1")
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

# hex lengths of the digest algorithms the framework knows; others are not checked
DIGEST_HEX_LENGTHS = {
    "sha256": (64,),
    "sha224": (56,),
    "sha384": (96,),
    "sha512": (128,),
    "sha512_224": (56,),
    "sha512_256": (64,),
    "sha3_224": (56,),
    "sha3_256": (64,),
    "sha3_384": (96,),
    "sha3_512": (128,),
    "shake128": (64,),
    "shake256": (128,),
    "sha1": (40,),
    "md5": (32,),
    "gitCommit": (40, 64),
    "gitTree": (40, 64),
    "gitBlob": (40, 64),
    "gitTag": (40, 64),
}
_HEX = set(string.hexdigits)


class StatementError(ValueError):
    """A statement that breaks the framework's rules; `code` is the Go error's name."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def statement(
    subjects: list[tuple[str, str]], predicate_type: str, predicate: dict[str, Any]
) -> dict:
    """A Statement v1 about artifacts given as (name, `sha256:<hex>` digest)."""
    subject = []
    for name, digest in subjects:
        algorithm, _, value = digest.partition(":")
        subject.append({"name": name, "digest": {algorithm: value}})
    data = {
        "_type": STATEMENT_V1,
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    validate_statement(data)
    return data


def validate_resource_descriptor(rd: Any) -> None:
    if not isinstance(rd, dict):
        raise StatementError("ErrRDRequiredField", "a resource descriptor is an object")
    if not any(rd.get(field) for field in ("name", "uri", "digest", "content")):
        raise StatementError(
            "ErrRDRequiredField", "one of name, uri, digest or content is required"
        )
    digest = rd.get("digest") or {}
    if not isinstance(digest, dict):
        raise StatementError("ErrInvalidDigestEncoding", "digest is a map of algorithm to value")
    for algorithm, value in digest.items():
        if algorithm not in DIGEST_HEX_LENGTHS:
            continue
        if not isinstance(value, str) or not value or not set(value) <= _HEX:
            raise StatementError("ErrInvalidDigestEncoding", f"{algorithm} digest is not hex")
        if len(value) not in DIGEST_HEX_LENGTHS[algorithm]:
            raise StatementError(
                "ErrIncorrectDigestLength", f"{algorithm} digest has the wrong length"
            )


def validate_statement(data: Any) -> None:
    if not isinstance(data, dict):
        raise StatementError("ErrInvalidStatementType", "a statement is an object")
    if data.get("_type") not in STATEMENT_TYPES:
        raise StatementError("ErrInvalidStatementType", f"_type must be {STATEMENT_V1}")
    subjects = data.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise StatementError("ErrSubjectRequired", "at least one subject is required")
    for subject in subjects:
        validate_resource_descriptor(subject)
        if not subject.get("digest"):
            raise StatementError("ErrDigestRequired", "every subject needs a digest")
    if not isinstance(data.get("predicateType"), str) or not data["predicateType"]:
        raise StatementError("ErrPredicateTypeRequired", "predicateType is required")
    if data.get("predicate") is None:
        raise StatementError("ErrPredicateRequired", "predicate is required")
    if data["predicateType"] == SLSA_PROVENANCE_V1:
        validate_provenance_v1(data["predicate"])


def validate_provenance_v1(predicate: Any) -> None:
    definition = predicate.get("buildDefinition") if isinstance(predicate, dict) else None
    if not isinstance(definition, dict) or not definition:
        raise StatementError("ErrBuildDefinitionRequired", "buildDefinition is required")
    if not definition.get("buildType"):
        raise StatementError("ErrBuildTypeRequired", "buildDefinition.buildType is required")
    if not definition.get("externalParameters"):
        raise StatementError(
            "ErrExternalParamsRequired", "buildDefinition.externalParameters is required"
        )
    for rd in definition.get("resolvedDependencies") or []:
        validate_resource_descriptor(rd)
    details = predicate.get("runDetails")
    if not isinstance(details, dict) or not details:
        raise StatementError("ErrRunDetailsRequired", "runDetails is required")
    builder = details.get("builder")
    if not isinstance(builder, dict) or not builder:
        raise StatementError("ErrBuilderRequired", "runDetails.builder is required")
    if not builder.get("id"):
        raise StatementError("ErrBuilderIdRequired", "runDetails.builder.id is required")
    for rd in details.get("byproducts") or []:
        validate_resource_descriptor(rd)
