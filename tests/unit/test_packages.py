"""PackageService with in-memory storage and cache: the upload steps and the policies."""

from __future__ import annotations

import hashlib
import io

import pytest

from pypicloud.packages import (
    Delivery,
    NotAllowed,
    PackageOptions,
    PackageService,
    SerialWatch,
)
from pypicloud.uploads import Refusal, UploadRefused, UploadRequest
from tests.dists import wheel_bytes, wheel_name
from tests.fakes import MemoryCache, MemoryStorage

DEVS = frozenset({"everyone", "authenticated", "user:bob", "group:devs"})
OTHERS = frozenset({"everyone", "authenticated", "user:eve"})


def service(storage: MemoryStorage | None = None, **options) -> PackageService:
    return PackageService(storage or MemoryStorage(), MemoryCache(), PackageOptions(**options))


def request(name="alpha", version="1.0", content: bytes | None = None, **extra) -> UploadRequest:
    body = wheel_bytes(name, version) if content is None else content
    return UploadRequest(
        filename=extra.pop("filename", wheel_name(name, version)),
        content=io.BytesIO(body),
        name=name,
        version=version,
        filetype="bdist_wheel",
        digests=extra.pop("digests", {"sha256": hashlib.sha256(body).hexdigest()}),
        **extra,
    )


def test_upload_stores_then_indexes_what_storage_returned():
    packages = service()
    result = packages.upload(request(uploader="bob"))
    assert result.created
    stored, _ = packages.storage.files[result.package.filename]
    assert packages.cache.fetch(result.package.filename) == stored == result.package
    assert stored.data["uploader"] == "bob"
    assert packages.cache.core_metadata(stored.filename).startswith(b"Metadata-Version")
    assert packages.serial() > 0


def test_identical_reupload_is_not_a_conflict_but_different_bytes_are():
    packages = service()
    packages.upload(request())
    assert packages.upload(request()).created is False
    other = wheel_bytes("alpha", "1.0", summary="changed")
    with pytest.raises(UploadRefused) as refused:
        packages.upload(request(content=other))
    assert refused.value.kind is Refusal.CONFLICT


def test_refusals_store_nothing():
    packages = service(max_upload_size=10)
    with pytest.raises(UploadRefused) as refused:
        packages.upload(request())
    assert refused.value.kind is Refusal.TOO_LARGE
    assert not packages.storage.files and not packages.cache.records


@pytest.mark.parametrize(
    "upload, message",
    [
        (lambda: request(name="x" * 300), "at most 200"),
        (lambda: request(version="1." + "0" * 200), "at most 100"),
        (lambda: request(filename="alpha-1.0-" + "x" * 1000 + ".whl"), "too long"),
        (lambda: request(digests={"sha256": "0" * 64}), "sha256_digest"),
    ],
)
def test_invalid_uploads_say_why(upload, message):
    packages = service()
    with pytest.raises(UploadRefused) as refused:
        packages.upload(upload())
    assert refused.value.kind is Refusal.INVALID and message in refused.value.message
    assert len(refused.value.message) < 300
    assert not packages.storage.files


def test_a_cache_failure_removes_the_stored_file():
    packages = service()
    packages.cache.fail_saves = True
    with pytest.raises(RuntimeError):
        packages.upload(request())
    assert not packages.storage.files


def test_losing_a_race_in_storage_answers_like_the_winner():
    packages = service()
    winner = packages.upload(request()).package
    packages.cache.records.clear()  # the winner's record is not there yet...
    with pytest.raises(UploadRefused) as refused:
        packages.upload(request())
    assert refused.value.kind is Refusal.CONFLICT
    packages.cache.records[winner.filename] = winner  # ...and now it is
    assert packages.upload(request()).created is False


class TestOverwritePolicy:
    def test_off_by_default(self):
        packages = service()
        packages.upload(request())
        with pytest.raises(UploadRefused):
            packages.upload(request(content=wheel_bytes("alpha", "1.0", summary="new")))

    def test_on_for_every_writer(self):
        packages = service(allow_overwrite=True)
        packages.upload(request())
        result = packages.upload(request(content=wheel_bytes("alpha", "1.0", summary="new")))
        assert result.created and result.package.summary == "new"

    def test_groups_decide_when_listed(self):
        packages = service(allow_overwrite=False, allow_overwrite_groups=("devs",))
        assert packages.may_overwrite(DEVS) and not packages.may_overwrite(OTHERS)
        packages.upload(request(), DEVS)
        new = wheel_bytes("alpha", "1.0", summary="new")
        with pytest.raises(UploadRefused):
            packages.upload(request(content=new), OTHERS)
        assert packages.upload(request(content=new), DEVS).created
        restricted = service(allow_overwrite=True, allow_overwrite_groups=("devs",))
        assert not restricted.may_overwrite(OTHERS)


class TestDeletePolicy:
    def test_on_by_default(self):
        packages = service()
        package = packages.upload(request()).package
        packages.delete(package, OTHERS)
        assert not packages.storage.files and not packages.cache.records

    def test_off(self):
        packages = service(allow_delete=False)
        package = packages.upload(request()).package
        with pytest.raises(NotAllowed):
            packages.delete(package, DEVS)
        assert packages.storage.files

    def test_groups_decide_when_listed(self):
        packages = service(allow_delete_groups=("devs",))
        package = packages.upload(request()).package
        with pytest.raises(NotAllowed):
            packages.delete(package, OTHERS)
        packages.delete(package, DEVS)
        assert service(allow_delete=False, allow_delete_groups=("devs",)).may_delete(DEVS)


class TestDelivery:
    def test_stream_when_storage_has_no_urls(self):
        packages = service()
        package = packages.upload(request()).package
        assert packages.delivery is Delivery.STREAM or packages.delivery is Delivery.LINK
        assert packages.download(package).redirect_url is None
        assert packages.index_link(package) is None
        with packages.open(package) as handle:
            assert handle.read() == wheel_bytes("alpha", "1.0")

    def test_redirect(self):
        storage = MemoryStorage(url_base="https://bucket")
        storage.redirect_urls = True
        packages = service(storage)
        package = packages.upload(request()).package
        assert packages.delivery is Delivery.REDIRECT and not packages.links_expire
        assert packages.download(package).redirect_url.startswith("https://bucket/")
        assert packages.index_link(package) is None

    def test_signed_links_in_the_index(self):
        packages = service(MemoryStorage(url_base="https://bucket"))
        package = packages.upload(request()).package
        assert packages.delivery is Delivery.LINK and packages.links_expire
        assert packages.index_link(package).startswith("https://bucket/")
        assert packages.download(package).redirect_url is None

    def test_stream_files_wins(self):
        storage = MemoryStorage(url_base="https://bucket")
        storage.redirect_urls = True
        packages = service(storage, stream_files=True)
        package = packages.upload(request()).package
        assert packages.delivery is Delivery.STREAM
        assert packages.download(package).redirect_url is None
        assert packages.index_link(package) is None


def test_release_yank_covers_every_file_and_unyank_clears_the_reason():
    packages = service()
    packages.upload(request())
    packages.upload(
        request(
            version="1.0.0",
            filename="alpha-1.0.0-py3-none-any.whl",
            content=wheel_bytes("alpha", "1.0.0"),
        )
    )
    packages.upload(request(version="2.0", content=wheel_bytes("alpha", "2.0")))
    release = packages.release("alpha", "1.0")
    assert len(release) == 2  # 1.0 and 1.0.0 are one PEP 440 version
    packages.set_release_yanked(release, True, "broken")
    yanked = {p.filename: p.yanked for p in packages.files("alpha")}
    assert yanked == {
        "alpha-1.0-py3-none-any.whl": "broken",
        "alpha-1.0.0-py3-none-any.whl": "broken",
        "alpha-2.0-py3-none-any.whl": False,
    }
    stored = {p.filename: p.yanked for p, _ in packages.storage.files.values()}
    assert stored == yanked
    packages.set_release_yanked(packages.release("alpha", "1.0"), False)
    assert all(p.yanked is False for p in packages.files("alpha"))
    assert all("yanked_reason" not in p.data for p in packages.files("alpha"))


@pytest.mark.parametrize("value", ["true", "false"])
def test_db_graceful_reload_reaches_the_cache(value):
    from pypicloud.settings import Settings

    options = PackageOptions.from_settings(Settings({"db.graceful_reload": value}, environ={}))
    cache = MemoryCache()
    PackageService(MemoryStorage(), cache, options).reload_from_storage()
    assert cache.graceful is (value == "true")


def test_writes_made_while_a_rebuild_lists_storage_are_not_lost():
    """A file stored after the listing passed its place, and one deleted after the listing
    saw it, come out of the rebuild as they really are."""

    class RacingStorage(MemoryStorage):
        def list(self, known=None):
            listed = list(super().list(known))  # the listing is taken...
            packages.upload(request(version="2.0", content=wheel_bytes("alpha", "2.0")))
            packages.delete(gone)  # ...then the world changes before it is written
            yield from listed

    packages = service(RacingStorage())
    packages.upload(request())
    gone = packages.upload(
        request(name="beta", content=wheel_bytes("beta", "1.0"), filename=wheel_name("beta", "1.0"))
    ).package
    packages.reload_from_storage()
    names = {p.filename for p in packages.cache.all_packages()}
    assert names == {wheel_name("alpha", "1.0"), wheel_name("alpha", "2.0")}


class TestSerialWatch:
    def counter(self):
        calls = []

        def source() -> int:
            calls.append(1)
            return len(calls)

        return source, calls

    def test_reused_within_the_interval(self):
        source, calls = self.counter()
        watch = SerialWatch(source, 60)
        assert watch.current() == watch.current() == 1 and len(calls) == 1

    def test_expire_reads_again(self):
        source, calls = self.counter()
        watch = SerialWatch(source, 60)
        watch.current()
        watch.expire()
        assert watch.current() == 2

    def test_a_read_that_started_before_an_expire_is_not_kept(self):
        watch: SerialWatch

        def source() -> int:
            watch.expire()  # a write in another thread while the read was in flight
            return 7

        watch = SerialWatch(source, 60)
        assert watch.current() == 7
        assert watch._cached[1] == float("-inf")

    def test_zero_interval_reads_every_time(self):
        source, calls = self.counter()
        watch = SerialWatch(source, 0)
        watch.current()
        watch.current()
        assert len(calls) == 2

    def test_the_service_writes_expire_it(self):
        packages = service(serial_cache_seconds=60)
        before = packages.serial()
        packages.upload(request())
        after = packages.serial()
        assert after != before
        packages.delete(packages.files("alpha")[0])
        assert packages.serial() != after


def test_db_serial_cache_ms_is_read_in_milliseconds_and_checked():
    from pypicloud.settings import ConfigError, Settings

    options = PackageOptions.from_settings(Settings({"db.serial_cache_ms": "40"}, environ={}))
    assert options.serial_cache_seconds == 0.04
    with pytest.raises(ConfigError, match="db.serial_cache_ms"):
        PackageOptions.from_settings(Settings({"db.serial_cache_ms": "-1"}, environ={}))
    with pytest.raises(ConfigError, match="db.serial_cache_ms"):
        PackageOptions.from_settings(Settings({"db.serial_cache_ms": "soon"}, environ={}))
