"""PEP 740 attestations: the upload's ``attestations`` field, checked before anything is
stored, and the provenance object served for the file.

An upload may carry a JSON array of attestation objects (``twine upload --attestations``,
``uv publish`` with ``<dist>.<kind>.attestation`` files beside the dists). Each is parsed
with ``pypi-attestations``' models, and its in-toto statement must name exactly the uploaded
file and its sha256: a statement about another file is refused, whatever its signature says.
What is kept is the provenance object (bundles grouped per publisher, the publisher read from
the signing certificate), stored beside the file so a rebuild keeps it.

Signature verification against Sigstore is optional (``pypi.attestations_verify``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # pypi-attestations brings pydantic, sigstore and their clients (about 40 MB of a
    # server's memory): imported with the first upload that carries attestations.
    from pypi_attestations import Attestation

#: Bounds on the upload field: PyPI's uploads carry one or two small attestations.
MAX_ATTESTATIONS = 16
MAX_FIELD_BYTES = 512 * 1024
IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1"

# Fulcio's certificate extensions (OID 1.3.6.1.4.1.57264.1.*) that name the publisher.
_FULCIO = "1.3.6.1.4.1.57264.1."
ISSUER_OID = _FULCIO + "8"
SOURCE_REPOSITORY_URI_OID = _FULCIO + "12"
BUILD_CONFIG_URI_OID = _FULCIO + "18"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUER = "https://accounts.google.com"


class AttestationRefused(ValueError):
    """The field is malformed, too large, or an attestation is about another file."""


@dataclasses.dataclass(frozen=True)
class CheckedAttestations:
    """The attestations of one upload, their subjects checked."""

    attestations: tuple[Attestation, ...]

    def provenance(self) -> bytes:
        """The provenance object (PEP 740) as stored and served: bundles per publisher."""
        groups: dict[str, tuple[Any, list[Attestation]]] = {}
        for attestation in self.attestations:
            publisher = publisher_of(attestation)
            key = json.dumps(publisher, sort_keys=True)
            groups.setdefault(key, (publisher, []))[1].append(attestation)
        bundles = [
            {
                "publisher": publisher,
                "attestations": [a.model_dump(mode="json") for a in members],
            }
            for publisher, members in groups.values()
        ]
        return json.dumps(
            {"version": 1, "attestation_bundles": bundles}, sort_keys=True, separators=(",", ":")
        ).encode()


def parse_attestations(raw: str | bytes) -> list[Attestation]:
    """The field's attestation objects; AttestationRefused says what is wrong."""
    if len(raw) > MAX_FIELD_BYTES:
        raise AttestationRefused(
            f"Invalid attestations: {len(raw)} bytes, at most {MAX_FIELD_BYTES}"
        )
    try:
        items = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AttestationRefused("Invalid attestations: not a JSON array") from None
    if not isinstance(items, list) or not items:
        raise AttestationRefused("Invalid attestations: expected a non-empty JSON array")
    if len(items) > MAX_ATTESTATIONS:
        raise AttestationRefused(
            f"Invalid attestations: {len(items)} attestations, at most {MAX_ATTESTATIONS}"
        )
    from pydantic import ValidationError
    from pypi_attestations import Attestation

    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(Attestation.model_validate(item))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem.get("loc", ())) or "object"
            raise AttestationRefused(
                f"Invalid attestation {index}: {where}: {problem.get('msg', 'invalid')}"
            ) from None
    return parsed


def check_subjects(
    attestations: list[Attestation], filename: str, sha256: str
) -> CheckedAttestations:
    """Each statement must be an in-toto v1 statement about exactly this file."""
    seen_types: set[str] = set()
    for index, attestation in enumerate(attestations):
        statement = _statement(attestation, index)
        if statement.get("_type") != IN_TOTO_STATEMENT_V1:
            raise AttestationRefused(
                f"Invalid attestation {index}: the statement is not an in-toto v1 statement"
            )
        predicate_type = statement.get("predicateType")
        if not isinstance(predicate_type, str) or not predicate_type:
            raise AttestationRefused(f"Invalid attestation {index}: no predicateType")
        if predicate_type in seen_types:
            raise AttestationRefused(
                f"Invalid attestations: more than one attestation of type {predicate_type}"
            )
        seen_types.add(predicate_type)
        subjects = statement.get("subject")
        if not isinstance(subjects, list) or len(subjects) != 1:
            raise AttestationRefused(
                f"Invalid attestation {index}: the statement must have exactly one subject"
            )
        subject = subjects[0] if isinstance(subjects[0], dict) else {}
        digest = subject.get("digest")
        sent_sha256 = digest.get("sha256", "") if isinstance(digest, dict) else ""
        if subject.get("name") != filename:
            raise AttestationRefused(
                f"Invalid attestation {index}: its subject is {subject.get('name')!r}, "
                f"not the uploaded file {filename!r}"
            )
        if str(sent_sha256).lower() != sha256:
            raise AttestationRefused(
                f"Invalid attestation {index}: its subject's sha256 does not match "
                f"the uploaded file's"
            )
    return CheckedAttestations(tuple(attestations))


def _statement(attestation: Attestation, index: int) -> dict[str, Any]:
    try:
        statement = json.loads(attestation.envelope.statement)
    except (ValueError, UnicodeDecodeError):
        raise AttestationRefused(
            f"Invalid attestation {index}: the envelope's statement is not JSON"
        ) from None
    if not isinstance(statement, dict):
        raise AttestationRefused(
            f"Invalid attestation {index}: the envelope's statement is not an object"
        )
    return statement


def publisher_of(attestation: Attestation) -> dict[str, Any]:
    """The publisher the signing certificate names, as PEP 740's publisher object.

    GitHub, GitLab and Google identities become ``pypi-attestations``' publisher models;
    any other issuer (a self-hosted CI) is kept as ``{"kind": <issuer>, "claims": ...}``.
    The claims are what the certificate says: verified only when verification is on.
    """
    from pydantic import ValidationError
    from pypi_attestations import GitHubPublisher, GitLabPublisher, GooglePublisher

    claims = certificate_claims(attestation)
    issuer = claims.get("issuer", "")
    repository = _path_of(claims.get("source_repository_uri", ""))
    config = claims.get("build_config_uri", "")
    try:
        if issuer == GITHUB_ISSUER and repository and config:
            workflow = _path_of(config).split("@", 1)[0].rsplit("/", 1)[-1]
            return GitHubPublisher(repository=repository, workflow=workflow).model_dump(
                mode="json", exclude_none=True
            )
        if issuer == GITLAB_ISSUER and repository and config:
            path = _path_of(config).split("@", 1)[0]
            filepath = path[len(repository) :].lstrip("/") if path.startswith(repository) else path
            return GitLabPublisher(repository=repository, workflow_filepath=filepath).model_dump(
                mode="json", exclude_none=True
            )
        if issuer == GOOGLE_ISSUER and claims.get("email"):
            return GooglePublisher(email=claims["email"]).model_dump(mode="json", exclude_none=True)
    except ValidationError:
        pass
    return {"kind": issuer or "unknown", "claims": claims}


def certificate_claims(attestation: Attestation) -> dict[str, str]:
    """Issuer, repository, workflow and e-mail from the signing certificate, when present."""
    from cryptography import x509  # its OpenSSL bindings are ~8 MB: not before an upload

    try:
        fulcio = attestation.certificate_claims  # by dotted OID
        certificate = x509.load_der_x509_certificate(attestation.verification_material.certificate)
    except ValueError:
        return {}
    claims = {
        key: fulcio[oid]
        for key, oid in (
            ("issuer", ISSUER_OID),
            ("source_repository_uri", SOURCE_REPOSITORY_URI_OID),
            ("build_config_uri", BUILD_CONFIG_URI_OID),
        )
        if fulcio.get(oid)
    }
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return claims
    for key, kind in (("email", x509.RFC822Name), ("identity", x509.UniformResourceIdentifier)):
        values = names.get_values_for_type(kind)
        if values:
            claims[key] = values[0]
    return claims


def _path_of(uri: str) -> str:
    """``owner/repo`` from ``https://github.com/owner/repo`` (the path, no slashes around)."""
    _scheme, separator, rest = uri.partition("://")
    return rest.partition("/")[2].strip("/") if separator else ""


def provenance_sha256(document: bytes) -> str:
    return hashlib.sha256(document).hexdigest()
