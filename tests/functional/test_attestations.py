"""Uploads with PEP 740 attestations, over every storage backend on its real service.

Checked before anything is stored; the provenance kept beside the file in storage (so a
rebuild keeps it), announced in the simple API from the package database, served with the
file's read permission, and deleted with the file.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from pypi_attestations import Provenance

from pypicloud.storage.layout import PROVENANCE_CONTENT_TYPE
from tests.attestations import SLSA_V1, attestation, field
from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, upload
from tests.functional.test_storage_backends import BACKENDS, settings_for

JSON = "application/vnd.pypi.simple.v1+json"
NAME, VERSION = "att-pkg", "1.0"
WHEEL = wheel_name(NAME, VERSION)
BODY = wheel_bytes(NAME, VERSION)
SHA256 = hashlib.sha256(BODY).hexdigest()
PROVENANCE_PATH = f"/integrity/{NAME}/{VERSION}/{WHEEL}/provenance"


@pytest.fixture(params=list(BACKENDS))
def backend_settings(request) -> dict[str, str | None]:
    return settings_for(request, request.param)


def upload_attested(app, *items, status=200, content=BODY, filename=WHEEL):
    items = items or (attestation(filename, hashlib.sha256(content).hexdigest()),)
    return upload(
        app,
        NAME,
        VERSION,
        content=content,
        filename=filename,
        status=status,
        fields={"attestations": field(*items)},
    )


def project_json(app, user="bob"):
    return app.get(f"/simple/{NAME}/", headers={**auth(user), "Accept": JSON}).json


def stored_provenance(app):
    services = app.app.registry.services
    return services.storage.load_provenance(services.cache.fetch(WHEEL))


def test_upload_serve_rebuild_delete(make_app, backend_settings, tmp_path):
    app = make_app(**backend_settings)
    upload_attested(
        app, attestation(WHEEL, SHA256), attestation(WHEEL, SHA256, predicate_type=SLSA_V1)
    )

    [entry] = project_json(app)["files"]
    assert entry["provenance"] == f"http://localhost{PROVENANCE_PATH}"
    html = app.get(f"/simple/{NAME}/", headers=auth("bob")).text
    assert f'data-provenance="http://localhost{PROVENANCE_PATH}"' in html

    response = app.get(PROVENANCE_PATH, headers=auth("bob"))
    assert response.content_type == PROVENANCE_CONTENT_TYPE
    provenance = Provenance.model_validate_json(response.body)
    [bundle] = provenance.attestation_bundles
    assert [a.statement["subject"][0]["digest"]["sha256"] for a in bundle.attestations] == [
        SHA256
    ] * 2
    record = app.app.registry.services.cache.fetch(WHEEL)
    assert record.provenance_sha256 == hashlib.sha256(response.body).hexdigest()

    # A new server on an empty database rebuilds from storage: the provenance survives.
    fresh = make_app(**backend_settings, **{"db.url": f"sqlite:///{tmp_path / 'fresh.sqlite'}"})
    assert project_json(fresh)["files"][0]["provenance"] == entry["provenance"]
    assert fresh.get(PROVENANCE_PATH, headers=auth("bob")).body == response.body

    app.delete(f"/api/package/{NAME}/{WHEEL}", headers=auth("bob"))
    assert app.app.registry.services.storage.load_provenance(record) is None
    assert list(app.app.registry.services.storage.list()) == []
    app.get(PROVENANCE_PATH, headers=auth("bob"), status=404)


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ((attestation("other-1.0-py3-none-any.whl", SHA256),), "not the uploaded file"),
        ((attestation(WHEEL, "00" * 32),), "sha256 does not match"),
        ((attestation(WHEEL, SHA256), attestation(WHEEL, "00" * 32, predicate_type=SLSA_V1)), "1:"),
    ],
)
def test_a_mismatch_is_400_and_nothing_is_stored(make_app, backend_settings, items, reason):
    app = make_app(**backend_settings)
    response = upload_attested(app, *items, status=400)
    assert reason in response.status
    services = app.app.registry.services
    assert list(services.storage.list()) == []
    assert services.cache.fetch(WHEEL) is None
    assert services.cache.distinct() == []


def test_a_malformed_field_is_400_and_nothing_is_stored(app):
    response = upload(
        app, NAME, VERSION, content=BODY, fields={"attestations": "{oops"}, status=400
    )
    assert response.status == "400 Invalid attestations: not a JSON array"
    assert app.app.registry.services.cache.distinct() == []
    assert list(app.app.registry.services.storage.list()) == []


def test_an_upload_without_attestations_has_null_provenance(app):
    upload(app, NAME, VERSION, content=BODY)
    assert project_json(app)["files"][0]["provenance"] is None
    assert "data-provenance" not in app.get(f"/simple/{NAME}/", headers=auth("bob")).text
    app.get(PROVENANCE_PATH, headers=auth("bob"), status=404)


def test_the_index_page_moves_with_the_upload(app):
    """Pages are cached per serial (and by the fast path): an upload must show at once."""
    other = wheel_name(NAME, "0.9")
    upload(app, NAME, "0.9")
    assert [f["provenance"] for f in project_json(app)["files"]] == [None]
    etag = app.get(f"/simple/{NAME}/", headers={**auth("bob"), "Accept": JSON}).etag
    upload_attested(app)
    again = app.get(f"/simple/{NAME}/", headers={**auth("bob"), "Accept": JSON})
    assert again.etag != etag
    by_name = {f["filename"]: f["provenance"] for f in again.json["files"]}
    assert by_name[other] is None and by_name[WHEEL].endswith(PROVENANCE_PATH)


def test_the_wrong_version_or_an_unknown_file_is_404(app):
    upload_attested(app)
    app.get(f"/integrity/{NAME}/2.0/{WHEEL}/provenance", headers=auth("bob"), status=404)
    app.get(f"/integrity/{NAME}/1.0/nope-1.0.tar.gz/provenance", headers=auth("bob"), status=404)
    app.get(f"/integrity/{NAME}/1.0.0/{WHEEL}/provenance", headers=auth("bob"), status=200)


def test_an_overwrite_without_attestations_drops_the_provenance(make_app):
    app = make_app(**{"pypi.allow_overwrite": "true"})
    upload_attested(app)
    assert stored_provenance(app) is not None
    changed = wheel_bytes(NAME, VERSION, summary="second")
    upload(app, NAME, VERSION, content=changed)
    assert stored_provenance(app) is None
    assert project_json(app)["files"][0]["provenance"] is None


def test_an_identical_reupload_keeps_the_provenance(app):
    upload_attested(app)
    upload(app, NAME, VERSION, content=BODY)  # 200, "file already exists, identical"
    assert stored_provenance(app) is not None


def test_a_reader_without_permission_gets_what_a_missing_file_gets(app):
    upload_attested(app)
    app.get(PROVENANCE_PATH, headers=auth("carol"), status=200)  # default read: authenticated
    app.get(PROVENANCE_PATH, status=401)  # anonymous: the challenge


def test_the_field_as_a_file_part_is_refused(app):
    response = app.post(
        "/simple/",
        params=[(":action", "file_upload"), ("name", NAME), ("version", VERSION)],
        upload_files=[("content", WHEEL, BODY), ("attestations", "a.json", b"[]")],
        headers=auth("bob"),
        status=400,
    )
    assert "expected a text field" in response.status


def test_the_provenance_document_is_what_the_json_announces(app):
    upload_attested(app)
    url = project_json(app)["files"][0]["provenance"]
    document = json.loads(app.get(url.replace("http://localhost", ""), headers=auth("bob")).body)
    assert document["version"] == 1
    assert document["attestation_bundles"][0]["publisher"]["kind"] == "GitHub"


# -- signature verification (pypi.attestations_verify), all offline ---------------------


def test_verification_refuses_a_signature_sigstore_did_not_certify(make_app):
    """Sigstore's public trust root, as sigstore-python ships it, read offline: our
    self-signed certificate does not chain to it."""
    app = make_app(**{"pypi.attestations_verify": "true"})
    response = upload_attested(app, status=400)
    assert "Invalid attestation 0: signature verification failed" in response.status
    assert list(app.app.registry.services.storage.list()) == []
    assert app.app.registry.services.cache.distinct() == []


def test_verification_refuses_an_issuer_not_accepted(make_app):
    app = make_app(**{"pypi.attestations_verify": "true"})
    other = attestation(WHEEL, SHA256, issuer="https://ci.corp.example")
    response = upload_attested(app, other, status=400)
    assert "not one of pypi.attestations_issuers" in response.status
    assert app.app.registry.services.cache.distinct() == []


def test_an_issuer_may_be_accepted_by_setting(make_app):
    app = make_app(
        **{
            "pypi.attestations_verify": "true",
            "pypi.attestations_issuers": "https://ci.corp.example",
        }
    )
    other = attestation(WHEEL, SHA256, issuer="https://ci.corp.example")
    response = upload_attested(app, other, status=400)  # accepted issuer, still unsigned
    assert "signature verification failed" in response.status


def test_a_trust_root_that_cannot_be_loaded_never_breaks_an_upload(make_app, tmp_path, caplog):
    broken = tmp_path / "trusted_root.json"
    broken.write_text("{}")  # readable (start-up is fine), but not a trust root
    app = make_app(
        **{"pypi.attestations_verify": "true", "pypi.attestations_trusted_root": str(broken)}
    )
    upload_attested(app)  # stored, unverified
    assert project_json(app)["files"][0]["provenance"].endswith(PROVENANCE_PATH)
    assert "stored unverified: cannot load the Sigstore trust root" in caplog.text


def test_verification_is_off_by_default(app):
    assert app.app.registry.services.packages.verifier is None
    upload_attested(app)


def test_a_failed_provenance_write_leaves_nothing_stored(app, monkeypatch):
    storage = app.app.registry.services.storage

    def broken(package, document):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save_provenance", broken)
    with pytest.raises(OSError):
        upload_attested(app)
    assert list(storage.list()) == []
    assert app.app.registry.services.cache.fetch(WHEEL) is None
