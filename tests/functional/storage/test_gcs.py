"""GoogleCloudStorage against gcp-storage-emulator: what the storage contract does not cover."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from google.auth import credentials as gauth_credentials

from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage import FileExists
from pypicloud.storage.gcs import GoogleCloudStorage
from tests.fixtures.gcs import new_bucket_name

FILENAME = "mypkg-1.0-py3-none-any.whl"


def build(settings: dict[str, str], **changes: str) -> GoogleCloudStorage:
    return GoogleCloudStorage.from_settings(Settings({**settings, **changes}, environ={}))


def package(filename: str = FILENAME, **data) -> Package:
    facts = {"hash_sha256": "ab" * 32, "uploader": "alice"}
    facts.update(data)
    return Package("MyPkg", "1.0", filename, summary="A summary", data=facts)


def object_names(storage: GoogleCloudStorage) -> list[str]:
    return [blob.name for blob in storage.client.list_blobs(storage.bucket_name)]


@pytest.fixture
def http_log(monkeypatch) -> list[requests.PreparedRequest]:
    """Every HTTP request sent through ``requests`` while the test runs."""
    sent: list[requests.PreparedRequest] = []
    original = requests.Session.send

    def send(self, request, **kwargs):
        sent.append(request)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


# -- layout and metadata ------------------------------------------------------------------


def test_key_has_prefix_and_hash_directory(gcs_settings):
    storage = build(gcs_settings, **{"storage.prefix": "packages/"})
    storage.upload(package(), io.BytesIO(b"x"))
    digest = hashlib.md5(FILENAME.encode()).hexdigest()[:4]
    assert object_names(storage) == [f"packages/{digest}/mypkg/{FILENAME}"]
    assert [p.filename for p in storage.list()] == [FILENAME]


def test_key_without_hash_directory(gcs_settings):
    storage = build(gcs_settings, **{"storage.prepend_hash": "false"})
    storage.upload(package(), io.BytesIO(b"x"))
    assert object_names(storage) == [f"mypkg/{FILENAME}"]


def test_list_sees_only_the_prefix(gcs_settings):
    other = build(gcs_settings, **{"storage.prefix": "other/"})
    other.upload(package("other-1.0.tar.gz"), io.BytesIO(b"x"))
    storage = build(gcs_settings, **{"storage.prefix": "packages/"})
    storage.upload(package(), io.BytesIO(b"x"))
    assert [p.filename for p in storage.list()] == [FILENAME]


def test_facts_are_custom_metadata_with_utf8_values(gcs_storage):
    pkg = package(requires_python=">=3.8")
    pkg.summary = "Ünïcode — summary ✓"
    gcs_storage.upload(pkg, io.BytesIO(b"hello"))
    blob = gcs_storage.bucket.get_blob(gcs_storage.key_for(pkg))
    assert blob.metadata == {
        "name": "mypkg",
        "version": "1.0",
        "summary": "Ünïcode — summary ✓",
        "requires-python": ">=3.8",
        "hash-sha256": "ab" * 32,
        "uploader": "alice",
    }
    [listed] = gcs_storage.list()
    assert listed.summary == "Ünïcode — summary ✓"
    assert listed.size == 5  # from the object, as the metadata has none


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [(FILENAME, "application/zip"), ("mypkg-1.0.tar.gz", "application/gzip")],
)
def test_objects_have_the_distributions_content_type(gcs_storage, filename, content_type):
    gcs_storage.upload(package(filename), io.BytesIO(b"x"))
    assert gcs_storage.bucket.get_blob(gcs_storage.key_for(package(filename))).content_type == (
        content_type
    )


def test_value_that_looks_encoded_reads_back_unchanged(gcs_storage):
    pkg = package()
    pkg.summary = "=?utf-8?b?aGVsbG8=?="
    gcs_storage.upload(pkg, io.BytesIO(b"x"))
    [listed] = gcs_storage.list()
    assert listed.summary == "=?utf-8?b?aGVsbG8=?="


def test_reads_objects_written_by_the_original(gcs_storage):
    """Objects of pypicloud 1.x: ``-`` or ``_`` keys, or no metadata at all."""
    bucket = gcs_storage.bucket
    hyphens = bucket.blob("a1b2/old/old-1.0.tar.gz")
    hyphens.metadata = {
        "name": "old",
        "version": "1.0",
        "summary": "Old package",
        "requires-python": ">=3.6",
        "hash-sha256": "12" * 32,
        "hash-md5": "34" * 16,
        "uploader": "bob",
    }
    hyphens.upload_from_string(b"old")
    underscores = bucket.blob("c3d4/old/old-1.1.tar.gz")
    underscores.metadata = {"name": "old", "version": "1.1", "requires_python": ">=3.7"}
    underscores.upload_from_string(b"old")
    bucket.blob("e5f6/Legacy_Pkg/Legacy_Pkg-2.0.zip").upload_from_string(b"zip")
    bucket.blob("notes/README.txt").upload_from_string(b"not a package")

    listed = {p.filename: p for p in gcs_storage.list()}
    assert sorted(listed) == ["Legacy_Pkg-2.0.zip", "old-1.0.tar.gz", "old-1.1.tar.gz"]
    old = listed["old-1.0.tar.gz"]
    assert (old.name, old.version, old.summary) == ("old", "1.0", "Old package")
    assert (old.requires_python, old.sha256, old.md5) == (">=3.6", "12" * 32, "34" * 16)
    assert old.data["uploader"] == "bob"
    assert listed["old-1.1.tar.gz"].requires_python == ">=3.7"
    legacy = listed["Legacy_Pkg-2.0.zip"]
    assert (legacy.name, legacy.version, legacy.size) == ("legacy-pkg", "2.0", 3)


def test_storage_class_and_object_acl_are_applied(gcs_settings, http_log):
    storage = build(
        gcs_settings, **{"storage.storage_class": "nearline", "storage.object_acl": "publicRead"}
    )
    storage.upload(package(), io.BytesIO(b"x"))
    [upload] = [r for r in http_log if "/upload/" in r.url]
    assert parse_qs(urlsplit(upload.url).query)["predefinedAcl"] == ["publicRead"]
    assert storage.bucket.get_blob(storage.key_for(package())).storage_class == "NEARLINE"


# -- requests -----------------------------------------------------------------------------


def test_list_is_one_request_per_page_not_per_object(gcs_storage, http_log):
    for minor in range(6):
        gcs_storage.upload(package(f"mypkg-1.{minor}.tar.gz"), io.BytesIO(b"x"))
    http_log.clear()
    listed = list(gcs_storage.list())
    assert len(listed) == 6
    assert all(p.sha256 == "ab" * 32 for p in listed)
    assert len(http_log) == 1


def test_new_files_are_created_with_if_generation_match_0(gcs_storage, http_log):
    gcs_storage.upload(package(), io.BytesIO(b"x"))
    gcs_storage.upload(package(), io.BytesIO(b"y"), overwrite=True)
    first, second = (parse_qs(urlsplit(r.url).query) for r in http_log if "/upload/" in r.url)
    assert first["ifGenerationMatch"] == ["0"]
    assert "ifGenerationMatch" not in second


def test_precondition_failure_means_file_exists(gcs_storage, monkeypatch):
    """What GCS answers a losing racer (the emulator never does): 412 becomes FileExists."""
    original = requests.Session.send

    def send(self, request, **kwargs):
        if "/upload/" in request.url and "ifGenerationMatch=0" in request.url:
            response = requests.Response()
            response.status_code = 412
            response.request = request
            response.url = request.url
            response.headers["Content-Type"] = "application/json"
            response._content = json.dumps(
                {
                    "error": {
                        "code": 412,
                        "message": "At least one of the pre-conditions you specified did not hold.",
                    }
                }
            ).encode()
            return response
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    with pytest.raises(FileExists):
        gcs_storage.upload(package(), io.BytesIO(b"x"))


def test_open_reads_large_files_in_ranges(gcs_storage, http_log):
    body = bytes(range(256)) * 80_000  # 20 MB
    gcs_storage.upload(package(), io.BytesIO(body))
    http_log.clear()
    with gcs_storage.open(package()) as handle:
        assert handle.read(1000) == body[:1000]
        assert handle.read() == body[1000:]
    ranges = [r.headers.get("Range") for r in http_log if r.headers.get("Range")]
    assert len(ranges) >= 2  # never the whole object in one response


# -- signed URLs --------------------------------------------------------------------------


def test_download_url_is_a_v4_signed_url_on_the_endpoint(gcs_settings):
    storage = build(gcs_settings, **{"storage.expire_after": "600", "storage.prefix": "p/"})
    pkg = package()
    storage.upload(pkg, io.BytesIO(b"signed bytes"))
    assert storage.redirect_urls is True
    url = storage.download_url(pkg)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == gcs_settings["storage.gcp_api_endpoint"]
    assert parts.path == f"/{storage.bucket_name}/{storage.key_for(pkg)}"
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["600"]
    assert query["X-Goog-Credential"][0].startswith("pypicloud@pypicloud-test.iam")
    assert len(query["X-Goog-Signature"][0]) == 512  # hex of a 2048-bit RSA signature
    signed_at = dt.datetime.strptime(query["X-Goog-Date"][0], "%Y%m%dT%H%M%SZ")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs((now - signed_at).total_seconds()) < 60
    # The emulator serves the object at that address (it does not check signatures).
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"signed bytes"


def test_without_signing_credentials_downloads_stream(gcs_endpoint):
    """Anonymous credentials (an emulator without a key file) cannot sign: None."""
    storage = build({"storage.bucket": new_bucket_name(), "storage.gcp_api_endpoint": gcs_endpoint})
    storage.upload(package(), io.BytesIO(b"x"))
    assert storage.can_sign is False
    assert storage.download_url(package()) is None
    with storage.open(package()) as handle:
        assert handle.read() == b"x"


def test_redirect_urls_can_be_turned_off(gcs_settings):
    assert build(gcs_settings, **{"storage.redirect_urls": "false"}).redirect_urls is False


# -- start-up -----------------------------------------------------------------------------


def test_bucket_is_created_at_start_up_and_reused(gcs_settings):
    storage = build(gcs_settings)
    assert storage.bucket.exists()
    storage.upload(package(), io.BytesIO(b"x"))
    again = build(gcs_settings)
    assert [p.filename for p in again.list()] == [FILENAME]


def test_every_setting_is_read(gcs_settings):
    settings = Settings(
        {
            **gcs_settings,
            "storage.prefix": "p/",
            "storage.prepend_hash": "true",
            "storage.gcp_project_id": "my-project",
            "storage.gcp_use_iam_signer": "false",
            "storage.expire_after": "60",
            "storage.redirect_urls": "true",
            "storage.object_acl": "private",
            "storage.storage_class": "STANDARD",
        },
        environ={},
    )
    storage = GoogleCloudStorage.from_settings(settings)
    settings.check_unused()
    assert (storage.options.prefix, storage.options.expire_after, storage.client.project) == (
        "p/",
        60,
        "my-project",
    )


def test_missing_bucket_setting_names_the_key(gcs_settings):
    del gcs_settings["storage.bucket"]
    with pytest.raises(ConfigError) as error:
        build(gcs_settings)
    assert error.value.key == "storage.bucket"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("storage.expire_after", "soon"),
        ("storage.expire_after", "0"),
        ("storage.expire_after", "604801"),  # V4 signed URLs last at most seven days
        ("storage.prepend_hash", "maybe"),
        ("storage.redirect_urls", "perhaps"),
        ("storage.gcp_use_iam_signer", "sometimes"),
        ("storage.object_acl", "everyone"),
        ("storage.storage_class", "FAST"),
        ("storage.gcp_service_account_json_filename", "/nonexistent/key.json"),
    ],
)
def test_bad_value_names_the_key(gcs_settings, key, value):
    with pytest.raises(ConfigError) as error:
        build(gcs_settings, **{key: value})
    assert error.value.key == key


def test_unparsable_service_account_file_names_the_key(gcs_settings, tmp_path):
    bad = tmp_path / "key.json"
    bad.write_text('{"type": "service_account"}')
    with pytest.raises(ConfigError) as error:
        build(gcs_settings, **{"storage.gcp_service_account_json_filename": str(bad)})
    assert error.value.key == "storage.gcp_service_account_json_filename"


def test_health_reports_a_missing_bucket(gcs_storage):
    assert gcs_storage.check_health() == (True, "")
    gcs_storage.bucket.delete()
    healthy, message = gcs_storage.check_health()
    assert not healthy
    assert gcs_storage.bucket_name in message


class _ComputeLikeCredentials(gauth_credentials.Credentials):
    """Credentials without a private key, like a VM's: only the IAM service can sign."""

    service_account_email = "vm-account@pypicloud-test.iam.gserviceaccount.com"

    def refresh(self, request) -> None:
        self.token = "vm-token"
        self.expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)


def test_iam_signer_signs_through_the_iam_service(gcs_storage, monkeypatch):
    storage = GoogleCloudStorage(
        gcs_storage.client,
        gcs_storage.bucket_name,
        api_endpoint=gcs_storage.api_endpoint,
        use_iam_signer=True,
        credentials=_ComputeLikeCredentials(),
    )
    sign_requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        assert request.url.startswith("https://iamcredentials.googleapis.com/")
        sign_requests.append(request)
        response = requests.Response()
        response.status_code = 200
        response.request = request
        response._content = json.dumps(
            {"keyId": "1", "signedBlob": base64.b64encode(b"\x01" * 256).decode()}
        ).encode()
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    url = storage.download_url(package())
    [sign] = sign_requests
    assert f"serviceAccounts/{_ComputeLikeCredentials.service_account_email}:signBlob" in sign.url
    assert sign.headers["Authorization"] == "Bearer vm-token"
    query = parse_qs(urlsplit(url).query)
    assert query["X-Goog-Signature"] == ["01" * 256]
    assert query["X-Goog-Credential"][0].startswith("vm-account@")


def test_iam_signer_without_a_service_account_streams(gcs_endpoint):
    storage = build(
        {
            "storage.bucket": new_bucket_name(),
            "storage.gcp_api_endpoint": gcs_endpoint,
            "storage.gcp_use_iam_signer": "true",
        }
    )
    assert storage.download_url(package()) is None  # logged, not raised
