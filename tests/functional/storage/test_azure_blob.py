"""AzureBlobStorage against azurite: what the storage contract does not cover."""

from __future__ import annotations

import datetime as dt
import io
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage import FileExists
from pypicloud.storage.azure_blob import AzureBlobStorage

FILENAME = "mypkg-1.0-py3-none-any.whl"


def build(settings: dict[str, str], **changes: str) -> AzureBlobStorage:
    return AzureBlobStorage.from_settings(Settings({**settings, **changes}, environ={}))


def package(filename: str = FILENAME, **data) -> Package:
    facts = {"hash_sha256": "ab" * 32, "uploader": "alice"}
    facts.update(data)
    return Package("MyPkg", "1.0", filename, summary="A summary", data=facts)


@pytest.fixture
def http_log(monkeypatch) -> list[requests.PreparedRequest]:
    """Every HTTP request sent through ``requests`` (azure-core's transport) meanwhile."""
    sent: list[requests.PreparedRequest] = []
    original = requests.Session.send

    def send(self, request, **kwargs):
        sent.append(request)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


# -- layout and metadata ------------------------------------------------------------------


def test_key_is_prefix_name_filename_without_hash(azure_settings):
    storage = build(azure_settings, **{"storage.prefix": "packages/"})
    storage.upload(package(), io.BytesIO(b"x"))
    assert [b.name for b in storage.container.list_blobs()] == [f"packages/mypkg/{FILENAME}"]
    assert [p.filename for p in storage.list()] == [FILENAME]


def test_list_sees_only_the_prefix(azure_settings):
    build(azure_settings, **{"storage.prefix": "other/"}).upload(
        package("other-1.0.tar.gz"), io.BytesIO(b"x")
    )
    storage = build(azure_settings, **{"storage.prefix": "packages/"})
    storage.upload(package(), io.BytesIO(b"x"))
    assert [p.filename for p in storage.list()] == [FILENAME]


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [(FILENAME, "application/zip"), ("mypkg-1.0.tar.gz", "application/gzip")],
)
def test_blobs_have_the_distributions_content_type(azure_storage, filename, content_type):
    azure_storage.upload(package(filename), io.BytesIO(b"x"))
    blob = azure_storage.container.get_blob_client(azure_storage.key_for(package(filename)))
    assert blob.get_blob_properties().content_settings.content_type == content_type


def test_facts_are_blob_metadata_with_identifier_keys_and_ascii_values(azure_storage):
    pkg = package(requires_python=">=3.8", yanked=True, yanked_reason="broken")
    pkg.summary = "Ünïcode — summary ✓"
    azure_storage.upload(pkg, io.BytesIO(b"hello"))
    meta = azure_storage.container.get_blob_client(azure_storage.key_for(pkg)).get_blob_properties()
    metadata = meta.metadata
    assert all(key.isidentifier() for key in metadata)  # Azure requires C# identifiers
    assert all(value.isascii() for value in metadata.values())
    assert metadata["name"] == "mypkg"
    assert metadata["version"] == "1.0"
    assert metadata["requires_python"] == ">=3.8"
    assert metadata["hash_sha256"] == "ab" * 32
    assert metadata["yanked"] == "true"
    assert metadata["summary"].startswith("=?utf-8?b?")
    [listed] = azure_storage.list()
    assert listed.summary == "Ünïcode — summary ✓"
    assert listed.yanked == "broken"
    assert listed.size == 5  # from the blob, as the metadata has none


def test_reads_blobs_written_by_the_original(azure_storage):
    """Blobs of pypicloud 1.x: plain ASCII values, ``_`` keys, or no metadata."""
    container = azure_storage.container
    container.upload_blob(
        "old/old-1.0.tar.gz",
        b"old",
        metadata={
            "name": "old",
            "version": "1.0",
            "summary": "Old package",
            "requires_python": ">=3.6",
            "hash_sha256": "12" * 32,
            "hash_md5": "34" * 16,
            "uploader": "bob",
        },
    )
    container.upload_blob("Legacy_Pkg/Legacy_Pkg-2.0.zip", b"zip")
    container.upload_blob("notes/README.txt", b"not a package")

    listed = {p.filename: p for p in azure_storage.list()}
    assert sorted(listed) == ["Legacy_Pkg-2.0.zip", "old-1.0.tar.gz"]
    old = listed["old-1.0.tar.gz"]
    assert (old.name, old.version, old.summary) == ("old", "1.0", "Old package")
    assert (old.requires_python, old.sha256, old.md5) == (">=3.6", "12" * 32, "34" * 16)
    assert old.data["uploader"] == "bob"
    legacy = listed["Legacy_Pkg-2.0.zip"]
    assert (legacy.name, legacy.version, legacy.size) == ("legacy-pkg", "2.0", 3)


# -- requests -----------------------------------------------------------------------------


def test_list_is_one_request_per_page_not_per_object(azure_storage, http_log):
    for minor in range(6):
        azure_storage.upload(package(f"mypkg-1.{minor}.tar.gz"), io.BytesIO(b"x"))
    http_log.clear()
    listed = list(azure_storage.list())
    assert len(listed) == 6
    assert all(p.sha256 == "ab" * 32 for p in listed)
    assert len(http_log) == 1
    assert "include=metadata" in http_log[0].url


def test_new_files_are_put_with_if_none_match(azure_storage, http_log):
    azure_storage.upload(package(), io.BytesIO(b"x"))
    azure_storage.upload(package(), io.BytesIO(b"y"), overwrite=True)
    first, second = (r for r in http_log if r.method == "PUT" and FILENAME in r.url)
    assert first.headers["If-None-Match"] == "*"
    assert "If-None-Match" not in second.headers


def test_large_new_files_commit_their_blocks_with_if_none_match(azure_storage, http_log):
    body = b"z" * (9 * 1024 * 1024)  # above the single-put size: staged blocks
    azure_storage.upload(package(), io.BytesIO(body))
    puts = [r for r in http_log if r.method == "PUT" and FILENAME in r.url]
    assert len(puts) >= 3  # blocks, then the block list
    assert puts[-1].headers["If-None-Match"] == "*"
    with pytest.raises(FileExists):
        azure_storage.upload(package(), io.BytesIO(body))
    with azure_storage.open(package()) as handle:
        assert handle.read() == body


def test_open_reads_large_files_in_chunks(azure_storage, http_log):
    body = bytes(range(256)) * 80_000  # 20 MB
    azure_storage.upload(package(), io.BytesIO(body))
    http_log.clear()
    with azure_storage.open(package()) as handle:
        assert handle.read(1000) == body[:1000]
        assert handle.read() == body[1000:]
    gets = [r for r in http_log if r.method == "GET"]
    assert len(gets) >= 5  # 4 MB at a time, never the whole blob in one response


# -- SAS URLs -----------------------------------------------------------------------------


def test_download_url_is_a_read_only_sas_that_azurite_honours(azure_settings):
    storage = build(azure_settings, **{"storage.expire_after": "600", "storage.prefix": "p/"})
    pkg = package()
    storage.upload(pkg, io.BytesIO(b"sas bytes"))
    assert storage.redirect_urls is True
    url = storage.download_url(pkg)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert url.startswith(f"{azure_settings['storage.storage_account_url']}/")
    assert parts.path.endswith(f"/{storage.container.container_name}/p/mypkg/{FILENAME}")
    assert query["sp"] == ["r"]
    expiry = dt.datetime.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=600)
    assert abs((expiry - expected).total_seconds()) < 60
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"sas bytes"
    # azurite checks the signature: a tampered one is refused.
    tampered = url.replace("sig=", "sig=AAAA")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(tampered, timeout=10)
    assert error.value.code == 403


def test_redirect_urls_can_be_turned_off(azure_settings):
    assert build(azure_settings, **{"storage.redirect_urls": "false"}).redirect_urls is False


# -- start-up -----------------------------------------------------------------------------


def test_container_is_created_at_start_up_and_reused(azure_settings):
    storage = build(azure_settings)
    assert storage.container.exists()
    storage.upload(package(), io.BytesIO(b"x"))
    again = build(azure_settings)
    assert [p.filename for p in again.list()] == [FILENAME]


def test_every_setting_is_read(azure_settings):
    settings = Settings(
        {
            **azure_settings,
            "storage.prefix": "p/",
            "storage.expire_after": "60",
            "storage.redirect_urls": "true",
        },
        environ={},
    )
    storage = AzureBlobStorage.from_settings(settings)
    settings.check_unused()
    assert (storage.options.prefix, storage.options.expire_after) == ("p/", 60)


def test_sas_urls_may_outlive_a_week(azure_settings):
    storage = build(azure_settings, **{"storage.expire_after": str(30 * 86400)})
    assert storage.options.expire_after == 30 * 86400


def test_prepend_hash_is_not_an_azure_setting(azure_settings):
    settings = Settings({**azure_settings, "storage.prepend_hash": "true"}, environ={})
    AzureBlobStorage.from_settings(settings)
    with pytest.raises(ConfigError) as error:
        settings.check_unused()
    assert error.value.key == "storage.prepend_hash"


@pytest.mark.parametrize(
    "key",
    [
        "storage.storage_account_name",
        "storage.storage_account_key",
        "storage.storage_container_name",
    ],
)
def test_missing_required_setting_names_the_key(azure_settings, key):
    del azure_settings[key]
    with pytest.raises(ConfigError) as error:
        build(azure_settings)
    assert error.value.key == key


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("storage.expire_after", "soon"),
        ("storage.expire_after", "-5"),
        ("storage.redirect_urls", "perhaps"),
        ("storage.storage_account_key", "not base64!"),
        ("storage.storage_account_url", "127.0.0.1:10000"),
        ("storage.storage_container_name", "Not_A_Valid_Container"),
    ],
)
def test_bad_value_names_the_key(azure_settings, key, value):
    with pytest.raises(ConfigError) as error:
        build(azure_settings, **{key: value})
    assert error.value.key == key


def test_health_reports_a_missing_container(azure_storage):
    assert azure_storage.check_health() == (True, "")
    azure_storage.container.delete_container()
    healthy, message = azure_storage.check_health()
    assert not healthy
    assert azure_storage.container.container_name in message
