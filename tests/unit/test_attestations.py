"""The attestations field: parsed with pypi-attestations' models, subjects checked."""

from __future__ import annotations

import base64
import json

import pytest
from pypi_attestations import Provenance

from pypicloud.attestations import (
    MAX_ATTESTATIONS,
    MAX_FIELD_BYTES,
    AttestationRefused,
    check_subjects,
    parse_attestations,
    publisher_of,
)
from tests.attestations import SLSA_V1, attestation, field

FILENAME = "demo-1.0-py3-none-any.whl"
SHA256 = "ab" * 32


def checked(*items: dict) -> bytes:
    return check_subjects(parse_attestations(field(*items)), FILENAME, SHA256).provenance()


def refusal(raw: str, filename: str = FILENAME, sha256: str = SHA256) -> str:
    with pytest.raises(AttestationRefused) as caught:
        check_subjects(parse_attestations(raw), filename, sha256)
    return str(caught.value)


def test_a_matching_attestation_becomes_a_provenance_object_pypi_attestations_reads():
    document = checked(
        attestation(FILENAME, SHA256), attestation(FILENAME, SHA256, predicate_type=SLSA_V1)
    )
    provenance = Provenance.model_validate_json(document)
    (bundle,) = provenance.attestation_bundles  # one publisher: both grouped together
    assert bundle.publisher.kind == "GitHub"
    assert bundle.publisher.repository == "corp/demo"
    assert bundle.publisher.workflow == "release.yml"
    assert len(bundle.attestations) == 2
    subject = bundle.attestations[0].statement["subject"][0]
    assert subject == {"name": FILENAME, "digest": {"sha256": SHA256}}


def test_attestations_of_two_publishers_make_two_bundles():
    other = attestation(FILENAME, SHA256, issuer="https://ci.corp.example", predicate_type=SLSA_V1)
    document = json.loads(checked(attestation(FILENAME, SHA256), other))
    kinds = [b["publisher"]["kind"] for b in document["attestation_bundles"]]
    assert kinds == ["GitHub", "https://ci.corp.example"]
    assert document["version"] == 1


def test_the_sha256_is_compared_case_insensitively():
    upper = attestation(FILENAME, SHA256.upper())
    assert checked(upper)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (attestation("other-1.0-py3-none-any.whl", SHA256), "not the uploaded file"),
        (attestation(FILENAME, "cd" * 32), "sha256 does not match"),
        (attestation(FILENAME, SHA256, subject=[]), "exactly one subject"),
        (
            attestation(
                FILENAME,
                SHA256,
                subject=[
                    {"name": FILENAME, "digest": {"sha256": SHA256}},
                    {"name": "x.whl", "digest": {"sha256": SHA256}},
                ],
            ),
            "exactly one subject",
        ),
        (attestation(FILENAME, SHA256, subject=[{"name": FILENAME}]), "sha256 does not match"),
        (attestation(FILENAME, SHA256, _type="https://in-toto.io/Statement/v0.1"), "in-toto v1"),
        (attestation(FILENAME, SHA256, predicateType=""), "no predicateType"),
        (attestation(FILENAME, SHA256, raw_statement=b"not json"), "statement is not JSON"),
        (attestation(FILENAME, SHA256, raw_statement=b"[1]"), "not an object"),
    ],
)
def test_a_statement_about_something_else_is_refused(item, reason):
    assert reason in refusal(field(item))


def test_two_attestations_of_one_type_are_refused():
    same = attestation(FILENAME, SHA256)
    assert "more than one attestation of type" in refusal(field(same, same))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not a JSON array"),
        ("{}", "non-empty JSON array"),
        ("[]", "non-empty JSON array"),
        ("[1]", "Invalid attestation 0"),
        ('[{"version": 2}]', "Invalid attestation 0: version"),
    ],
)
def test_a_malformed_field_is_refused(raw, reason):
    assert reason in refusal(raw)


def test_a_model_violation_names_the_attestation_and_the_field():
    bad = attestation(FILENAME, SHA256)
    bad["envelope"]["signature"] = "%%% not base64"
    assert "Invalid attestation 1: envelope.signature" in refusal(
        field(attestation(FILENAME, SHA256, predicate_type=SLSA_V1), bad)
    )


def test_too_many_attestations_are_refused():
    items = [
        attestation(FILENAME, SHA256, predicate_type=f"t{i}") for i in range(MAX_ATTESTATIONS + 1)
    ]
    assert f"at most {MAX_ATTESTATIONS}" in refusal(field(*items))


def test_a_field_too_large_is_refused_before_it_is_parsed():
    raw = "[" + " " * MAX_FIELD_BYTES + "]"
    assert f"at most {MAX_FIELD_BYTES}" in refusal(raw)


def test_a_certificate_that_does_not_parse_gives_an_unknown_publisher():
    item = attestation(FILENAME, SHA256)
    item["verification_material"]["certificate"] = base64.b64encode(b"junk").decode()
    parsed = parse_attestations(field(item))
    assert publisher_of(parsed[0]) == {"kind": "unknown", "claims": {}}
