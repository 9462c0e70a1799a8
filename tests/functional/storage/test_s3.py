"""S3 specifics against a real moto server over HTTP (the contract is in test_contract.py)."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.awsrequest import AWSResponse

from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage import FileExists
from pypicloud.storage.object_meta import encode_metadata
from pypicloud.storage.s3 import S3Storage

FILENAME = "mypkg-1.0-py3-none-any.whl"
BIG = bytes(range(256)) * 36_000  # 9 MB: a two-part multipart upload


def make_package(filename: str = FILENAME, **data) -> Package:
    facts = {"hash_sha256": "ab" * 32, "uploader": "alice"}
    facts.update(data)
    return Package("MyPkg", "1.0", filename, summary="A summary", data=facts)


def md5_4(filename: str) -> str:
    return hashlib.md5(filename.encode()).hexdigest()[:4]


@pytest.fixture
def make_storage(s3_settings):
    """Build an S3Storage from the test's settings plus ``storage.<key>`` overrides."""

    def make(**extra) -> S3Storage:
        raw = dict(s3_settings, **{f"storage.{k}": v for k, v in extra.items()})
        settings = Settings(raw, environ={})
        storage = S3Storage.from_settings(settings)
        settings.check_unused()
        return storage

    return make


def keys(client, bucket: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def count_requests(client) -> dict[str, int]:
    """Count the HTTP requests a client sends, by operation name."""
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def on_send(event_name: str, **_) -> None:
        with lock:
            operation = event_name.rsplit(".", 1)[-1]
            counts[operation] = counts.get(operation, 0) + 1

    client.meta.events.register("before-send.s3.*", on_send)
    return counts


# -- start-up ------------------------------------------------------------------------------


def test_bucket_is_created_in_the_configured_region(make_storage, s3_client):
    storage = make_storage(region_name="eu-west-1")
    location = s3_client.get_bucket_location(Bucket=storage.bucket)["LocationConstraint"]
    assert location == "eu-west-1"
    make_storage(region_name="eu-west-1")  # an existing bucket is used as is


def test_bucket_in_us_east_1_has_no_location_constraint(s3_storage, s3_client):
    assert s3_client.get_bucket_location(Bucket=s3_storage.bucket)["LocationConstraint"] is None


def test_passthrough_options_reach_the_client(make_storage):
    storage = make_storage(connect_timeout="7", addressing_style="path", max_pool_connections="8")
    assert storage.client.meta.config.connect_timeout == 7
    assert storage.client.meta.config.s3 == {"addressing_style": "path"}
    assert storage.client.meta.config.max_pool_connections == 8
    assert storage.check_health() == (True, "")


@pytest.mark.parametrize(("key", "value"), [("bogus_thing", "1"), ("connect_timeout", "abc")])
def test_bad_options_fail_at_start_up(make_storage, key, value):
    with pytest.raises(ConfigError, match=f"storage.{key}"):
        make_storage(**{key: value})


def test_unhealthy_when_the_bucket_is_gone(s3_storage, s3_client):
    s3_client.delete_bucket(Bucket=s3_storage.bucket)
    healthy, message = s3_storage.check_health()
    assert not healthy
    assert s3_storage.bucket in message


# -- layout and object properties ----------------------------------------------------------


def test_default_layout_has_the_hash_prefix(s3_storage, s3_client):
    s3_storage.upload(make_package(), io.BytesIO(b"x"))
    assert keys(s3_client, s3_storage.bucket) == [f"{md5_4(FILENAME)}/mypkg/{FILENAME}"]


def test_prefix_is_prepended_verbatim(make_storage, s3_client):
    storage = make_storage(prefix="packages/")
    storage.upload(make_package(), io.BytesIO(b"x"))
    assert keys(s3_client, storage.bucket) == [f"packages/{md5_4(FILENAME)}/mypkg/{FILENAME}"]
    [listed] = storage.list()
    assert listed.filename == FILENAME


def test_layout_without_hash(make_storage, s3_client):
    storage = make_storage(prefix="pkgs-", prepend_hash="false")
    storage.upload(make_package(), io.BytesIO(b"x"))
    assert keys(s3_client, storage.bucket) == [f"pkgs-mypkg/{FILENAME}"]


def test_list_only_looks_under_the_prefix(make_storage, s3_client):
    storage = make_storage(prefix="packages/")
    s3_client.put_object(Bucket=storage.bucket, Key="other/mypkg/mypkg-2.0.tar.gz", Body=b"y")
    storage.upload(make_package(), io.BytesIO(b"x"))
    assert [p.filename for p in storage.list()] == [FILENAME]


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [(FILENAME, "application/zip"), ("mypkg-1.0.tar.gz", "application/gzip")],
)
def test_objects_have_the_distributions_content_type(s3_storage, s3_client, filename, content_type):
    s3_storage.upload(make_package(filename), io.BytesIO(b"x"))
    key = s3_storage.key_for(make_package(filename))
    assert s3_client.head_object(Bucket=s3_storage.bucket, Key=key)["ContentType"] == content_type


def test_metadata_is_the_original_layout(s3_storage, s3_client):
    s3_storage.upload(make_package(requires_python=">=3.8"), io.BytesIO(b"x"))
    head = s3_client.head_object(Bucket=s3_storage.bucket, Key=s3_storage.key_for(make_package()))
    assert head["Metadata"] == {
        "name": "mypkg",
        "version": "1.0",
        "summary": "A summary",
        "requires-python": ">=3.8",
        "hash-sha256": "ab" * 32,
        "uploader": "alice",
    }
    assert head["ContentType"] == "application/zip"


def test_encryption_acl_and_class_are_applied_and_kept(make_storage, s3_client):
    storage = make_storage(
        server_side_encryption="AES256", object_acl="public-read", storage_class="STANDARD_IA"
    )
    package = make_package()
    storage.upload(package, io.BytesIO(b"x"))
    package.data.update(yanked=True)
    storage.update_metadata(package)  # a copy must not drop them
    key = storage.key_for(package)
    head = s3_client.head_object(Bucket=storage.bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["Metadata"]["yanked"] == "true"
    grants = s3_client.get_object_acl(Bucket=storage.bucket, Key=key)["Grants"]
    public = [g for g in grants if g["Grantee"].get("URI", "").endswith("/global/AllUsers")]
    assert [g["Permission"] for g in public] == ["READ"]


def test_default_objects_are_private(s3_storage, s3_client):
    s3_storage.upload(make_package(), io.BytesIO(b"x"))
    grants = s3_client.get_object_acl(
        Bucket=s3_storage.bucket, Key=s3_storage.key_for(make_package())
    )
    assert all("URI" not in g["Grantee"] for g in grants["Grants"])


def test_kms_encryption(make_storage, s3_client):
    storage = make_storage(server_side_encryption="aws:kms", sse_kms_key_id="alias/pypi")
    storage.upload(make_package(), io.BytesIO(b"x"))
    head = s3_client.head_object(Bucket=storage.bucket, Key=storage.key_for(make_package()))
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith("alias/pypi")


def test_non_ascii_summary_round_trips_exactly(s3_storage, s3_client):
    package = make_package()
    package.summary = "Ünïcode — summary ✓ 日本語"
    s3_storage.upload(package, io.BytesIO(b"x"))
    raw = s3_client.head_object(Bucket=s3_storage.bucket, Key=s3_storage.key_for(package))
    assert raw["Metadata"]["summary"].startswith("=?utf-8?b?")
    [listed] = s3_storage.list()
    assert listed.summary == "Ünïcode — summary ✓ 日本語"


def test_metadata_stays_within_the_s3_limit(s3_storage, s3_client):
    package = make_package()
    package.summary = "長い説明" * 128  # 512 characters, 2 KB once encoded
    s3_storage.upload(package, io.BytesIO(b"x"))
    head = s3_client.head_object(Bucket=s3_storage.bucket, Key=s3_storage.key_for(package))
    assert sum(len(k) + len(v) for k, v in head["Metadata"].items()) <= 2048
    [listed] = s3_storage.list()
    assert listed.summary.endswith("…") and package.summary.startswith(listed.summary[:-1])


def test_yank_keeps_the_upload_time(s3_storage):
    stored = s3_storage.upload(make_package(), io.BytesIO(b"x"))
    [before] = s3_storage.list()
    assert stored.last_modified == before.last_modified  # upload() reports S3's time
    time.sleep(1.1)  # LastModified has one-second resolution
    before.data.update(yanked=True, yanked_reason="oops")
    s3_storage.update_metadata(before)
    [after] = s3_storage.list()
    assert after.yanked == "oops"
    assert after.last_modified == before.last_modified


# -- exclusive creation --------------------------------------------------------------------


def test_exclusive_writes_are_conditional(s3_storage):
    seen: list[tuple[str, str | None]] = []

    def on_send(request, event_name: str, **_) -> None:
        seen.append((event_name.rsplit(".", 1)[-1], request.headers.get("If-None-Match")))

    for client in (s3_storage.client, s3_storage.exclusive_client):
        client.meta.events.register("before-send.s3.*", on_send)
    s3_storage.upload(make_package(), io.BytesIO(BIG))
    s3_storage.upload(make_package("mypkg-1.0.tar.gz"), io.BytesIO(b"small"))
    conditional = {op for op, header in seen if header in ("*", b"*")}
    assert conditional == {"CompleteMultipartUpload", "PutObject"}
    seen.clear()
    s3_storage.upload(make_package(), io.BytesIO(b"over"), overwrite=True)
    assert all(header is None for _, header in seen)


def test_concurrent_multipart_uploads_leave_exactly_one(s3_storage):
    barrier = threading.Barrier(3)
    bodies = [bytes([i]) * len(BIG) for i in range(3)]

    def race(index: int) -> int | None:
        barrier.wait()
        try:
            s3_storage.upload(make_package(), io.BytesIO(bodies[index]))
        except FileExists:
            return None
        return index

    with ThreadPoolExecutor(3) as pool:
        winners = [i for i in pool.map(race, range(3)) if i is not None]
    assert len(winners) == 1
    with s3_storage.open(make_package()) as handle:
        assert handle.read() == bodies[winners[0]]
    assert s3_storage.key_locks._locks == {}  # nothing kept once nobody waits


def test_another_process_is_stopped_by_s3_itself(s3_settings, s3_storage):
    """A second storage object has its own locks, like another server process."""
    other = S3Storage.from_settings(Settings(s3_settings, environ={}))
    other.upload(make_package(), io.BytesIO(BIG))
    for body in (BIG[::-1], b"small"):
        with pytest.raises(FileExists):
            s3_storage.upload(make_package(), io.BytesIO(body))


def test_a_conflict_is_retried(s3_storage):
    """S3 answers 409 ConditionalRequestConflict when the key changed mid-write: retry."""
    calls = {"n": 0}

    class Raw:
        def stream(self, **_):
            yield (
                b"<Error><Code>ConditionalRequestConflict</Code><Message>conflict</Message></Error>"
            )

    def conflict_once(request, **_):
        calls["n"] += 1
        if calls["n"] == 1:
            return AWSResponse(request.url, 409, {}, Raw())
        return None

    s3_storage.exclusive_client.meta.events.register("before-send.s3.PutObject", conflict_once)
    s3_storage.upload(make_package(), io.BytesIO(b"retried"))
    assert calls["n"] >= 2
    with s3_storage.open(make_package()) as handle:
        assert handle.read() == b"retried"


# -- downloads -----------------------------------------------------------------------------


def test_redirect_urls_default_true_and_configurable(s3_storage, make_storage):
    assert s3_storage.redirect_urls is True
    assert make_storage(redirect_urls="false").redirect_urls is False


def test_presigned_url_is_fetchable_and_expires(make_storage):
    storage = make_storage(expire_after="600")
    storage.upload(make_package(), io.BytesIO(b"signed bytes"))
    url = storage.download_url(make_package())
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["600"]
    assert "X-Amz-Signature" in query
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"signed bytes"


def test_public_url_is_unsigned(make_storage, moto_endpoint):
    storage = make_storage(public_url="true", object_acl="public-read")
    storage.upload(make_package(), io.BytesIO(b"public bytes"))
    url = storage.download_url(make_package())
    assert url == f"{moto_endpoint}/{storage.bucket}/{storage.key_for(make_package())}"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"public bytes"


# -- reading what the original pypicloud wrote ---------------------------------------------


def test_a_bucket_written_by_the_original_is_read_unchanged(make_storage, s3_client):
    storage = make_storage(prefix="packages/")
    bucket = storage.bucket

    def put(filename: str, name: str, body: bytes, metadata: dict[str, str]) -> None:
        key = f"packages/{md5_4(filename)}/{name}/{filename}"
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)

    put(
        "Django_Thing-2.1-py3-none-any.whl",
        "django-thing",
        b"wheel",
        {
            "name": "django-thing",
            "version": "2.1",
            "summary": "Unicode folded to ASCII",
            "requires-python": ">=3.6",
            "hash-sha256": "12" * 32,
            "hash-md5": "34" * 16,
            "uploader": "bob",
        },
    )
    # Older releases spelled keys with underscores.
    put(
        "legacy-0.1.tar.gz",
        "legacy",
        b"sdist",
        {"name": "legacy", "version": "0.1", "hash_sha256": "56" * 32},
    )
    put("ancient-0.0.1.tar.gz", "ancient", b"old", {})  # before metadata existed
    s3_client.put_object(Bucket=bucket, Key="packages/abcd/x/x-1.0.tar.gz.meta", Body=b"{}")
    s3_client.put_object(Bucket=bucket, Key="packages/abcd/", Body=b"")
    s3_client.put_object(Bucket=bucket, Key="packages/README.txt", Body=b"hi")

    counts = count_requests(storage.client)
    listed = {p.filename: p for p in storage.list()}
    assert counts["HeadObject"] == 4  # not for the sidecar or the folder marker
    assert sorted(listed) == [
        "Django_Thing-2.1-py3-none-any.whl",
        "ancient-0.0.1.tar.gz",
        "legacy-0.1.tar.gz",
    ]
    thing = listed["Django_Thing-2.1-py3-none-any.whl"]
    assert (thing.name, thing.version, thing.summary) == (
        "django-thing",
        "2.1",
        "Unicode folded to ASCII",
    )
    assert (thing.requires_python, thing.sha256, thing.md5) == (">=3.6", "12" * 32, "34" * 16)
    assert thing.data["uploader"] == "bob"
    assert thing.size == 5
    assert listed["legacy-0.1.tar.gz"].sha256 == "56" * 32
    assert (listed["ancient-0.0.1.tar.gz"].name, listed["ancient-0.0.1.tar.gz"].version) == (
        "ancient",
        "0.0.1",
    )
    for package, body in ((thing, b"wheel"), (listed["ancient-0.0.1.tar.gz"], b"old")):
        with storage.open(package) as handle:
            assert handle.read() == body


# -- listing cost --------------------------------------------------------------------------

LIST_SIZE = 1000


def test_listing_1000_objects_costs_one_list_and_one_head_each(s3_storage, s3_client):
    """ListObjectsV2 carries no user metadata: 1 LIST page + 1,000 concurrent HEADs."""

    def put(index: int) -> None:
        package = Package(f"pkg{index}", "1.0", f"pkg{index}-1.0.tar.gz", data={"size": 1})
        s3_client.put_object(
            Bucket=s3_storage.bucket,
            Key=s3_storage.key_for(package),
            Body=b"x",
            Metadata=encode_metadata(package),
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(LIST_SIZE)))

    counts = count_requests(s3_storage.client)
    started = time.perf_counter()
    packages = list(s3_storage.list())
    elapsed = time.perf_counter() - started

    assert len(packages) == LIST_SIZE
    assert counts == {"ListObjectsV2": 1, "HeadObject": LIST_SIZE}
    print(f"\nlist() of {LIST_SIZE} objects: {sum(counts.values())} requests, {elapsed:.2f}s")

    # A rebuild of a filled cache: nothing changed, so the listing alone suffices.
    counts = count_requests(s3_storage.client)
    started = time.perf_counter()
    again = list(s3_storage.list({p.filename: p for p in packages}))
    elapsed = time.perf_counter() - started
    assert len(again) == LIST_SIZE
    assert counts == {"ListObjectsV2": 1}
    print(f"list(known) of {LIST_SIZE} unchanged objects: 1 request, {elapsed:.2f}s")


# -- wiring --------------------------------------------------------------------------------


@pytest.mark.parametrize("choice", ["s3", "pypicloud.storage.S3Storage"])
def test_chosen_by_pypi_storage(s3_settings, choice):
    from pypicloud.storage import storage_from_settings

    settings = Settings({"pypi.storage": choice, **s3_settings}, environ={})
    storage = storage_from_settings(settings)
    assert isinstance(storage, S3Storage)
    settings.check_unused()


def test_upload_leaves_the_callers_stream_open(s3_storage):
    stream = io.BytesIO(b"still mine")
    s3_storage.upload(make_package(), stream)
    assert not stream.closed


def test_listing_reuses_known_records_of_unchanged_objects(s3_storage):
    """A rebuild of a filled cache HEADs only what changed: here 1 of 3 objects."""
    stored = []
    for index in range(3):
        package = Package(f"pkg{index}", "1.0", f"pkg{index}-1.0.tar.gz", data={"size": 1})
        s3_storage.upload(package, io.BytesIO(b"x"))
        stored.append(package)
    known = {p.filename: p for p in s3_storage.list()}
    time.sleep(1.1)  # LastModified has whole seconds: a change must land in a later one
    stored[1].data.update(yanked=True, yanked_reason="changed")
    s3_storage.update_metadata(stored[1])

    counts = count_requests(s3_storage.client)
    relisted = {p.filename: p for p in s3_storage.list(known)}
    assert counts == {"ListObjectsV2": 1, "HeadObject": 1}
    assert relisted["pkg1-1.0.tar.gz"].yanked == "changed"
    assert relisted["pkg0-1.0.tar.gz"] == known["pkg0-1.0.tar.gz"]
