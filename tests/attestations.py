"""PEP 740 attestations made by the tests: structurally valid, signed by a key of ours.

A DSSE envelope whose payload is an in-toto v1 statement naming a file, signed with an
ECDSA key whose self-signed certificate carries Fulcio's publisher extensions (issuer,
source repository, build config). No Sigstore service is involved, so these verify
structurally and fail real signature verification (the certificate is not Sigstore's).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
SLSA_V1 = "https://slsa.dev/provenance/v1"
GITHUB = "https://token.actions.githubusercontent.com"
REPOSITORY = "corp/demo"
WORKFLOW = "release.yml"


def _utf8_string(text: str) -> bytes:
    """DER UTF8String, as Fulcio encodes its extensions (short texts only)."""
    raw = text.encode()
    assert len(raw) < 0x80
    return bytes([0x0C, len(raw)]) + raw


@functools.cache
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def certificate_der(issuer: str = GITHUB, repository: str = REPOSITORY) -> bytes:
    key = signing_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tests")])
    now = dt.datetime.now(dt.UTC)
    identity = f"https://github.com/{repository}/.github/workflows/{WORKFLOW}@refs/heads/main"
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(minutes=10))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True
        )
    )
    for oid, value in (
        ("1.3.6.1.4.1.57264.1.8", issuer),
        ("1.3.6.1.4.1.57264.1.12", f"https://github.com/{repository}"),
        ("1.3.6.1.4.1.57264.1.18", identity),
    ):
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), _utf8_string(value)),
            critical=False,
        )
    certificate = builder.sign(key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.DER)


def statement(
    filename: str, sha256: str, predicate_type: str = PUBLISH_V1, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": filename, "digest": {"sha256": sha256}}],
        "predicateType": predicate_type,
        "predicate": None if predicate_type == PUBLISH_V1 else {"buildDefinition": {}},
    }
    body.update(overrides)
    return body


def attestation(
    filename: str,
    sha256: str,
    *,
    predicate_type: str = PUBLISH_V1,
    raw_statement: bytes | None = None,
    issuer: str = GITHUB,
    **overrides: Any,
) -> dict[str, Any]:
    """One attestation object (the JSON a ``.attestation`` file holds)."""
    payload = raw_statement
    if payload is None:
        payload = json.dumps(statement(filename, sha256, predicate_type, **overrides)).encode()
    pae = b"DSSEv1 %d %s %d %s" % (
        len(b"application/vnd.in-toto+json"),
        b"application/vnd.in-toto+json",
        len(payload),
        payload,
    )
    signature = signing_key().sign(pae, ec.ECDSA(hashes.SHA256()))
    return {
        "version": 1,
        "verification_material": {
            "certificate": _b64(certificate_der(issuer)),
            "transparency_entries": [_log_entry(payload)],
        },
        "envelope": {"statement": _b64(payload), "signature": _b64(signature)},
    }


def _log_entry(payload: bytes) -> dict[str, Any]:
    """A Rekor entry's shape (its proof is not checked unless verification is on)."""
    digest = hashlib.sha256(payload).digest()
    return {
        "logIndex": "1",
        "logId": {"keyId": _b64(digest)},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": str(int(dt.datetime.now(dt.UTC).timestamp())),
        "inclusionPromise": {"signedEntryTimestamp": _b64(digest)},
        "inclusionProof": {
            "logIndex": "1",
            "rootHash": _b64(digest),
            "treeSize": "2",
            "hashes": [_b64(digest)],
            "checkpoint": {"envelope": "rekor.example\n2\n" + _b64(digest) + "\n"},
        },
        "canonicalizedBody": _b64(b"{}"),
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def field(*attestations: dict[str, Any]) -> str:
    """The upload form's ``attestations`` field."""
    return json.dumps(list(attestations))


def for_file(path: Path, **kwargs: Any) -> dict[str, Any]:
    data = path.read_bytes()
    return attestation(path.name, hashlib.sha256(data).hexdigest(), **kwargs)


def write_attestation(path: Path, kind: str = "publish", **kwargs: Any) -> Path:
    """``<dist>.<kind>.attestation`` beside the dist, where twine and uv look for it."""
    target = path.with_name(f"{path.name}.{kind}.attestation")
    target.write_text(json.dumps(for_file(path, **kwargs)))
    return target
