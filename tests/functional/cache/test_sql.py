"""The SQL package database on SQLite, PostgreSQL and MariaDB (real servers)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from pypicloud.cache import AlreadyCached
from pypicloud.cache.sql import SQLCache, make_engine
from pypicloud.models import Package


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def cache(request) -> SQLCache:
    url = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    yield SQLCache(engine)
    engine.dispose()


def package(filename: str, version: str = "1.0", name: str = "pkg", **data) -> Package:
    return Package(
        name,
        version,
        filename,
        summary=f"summary {version}",
        last_modified=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        data={"hash_sha256": "ab" * 32, **data},
    )


def test_round_trip(cache):
    original = package(
        "pkg-1.0.tar.gz", requires_python=">=3.8", yanked=True, yanked_reason="ünïcode reason"
    )
    cache.add(original)
    assert cache.fetch("pkg-1.0.tar.gz") == original
    assert cache.fetch("missing.tar.gz") is None


def test_all_is_newest_first_and_distinct_sorted(cache):
    for version in ("1.0", "1.10", "1.9", "2.0rc1"):
        cache.add(package(f"pkg-{version}.tar.gz", version))
    cache.add(package("abc-1.0.tar.gz", name="abc"))
    assert [p.version for p in cache.all("pkg")] == ["2.0rc1", "1.10", "1.9", "1.0"]
    assert cache.distinct() == ["abc", "pkg"]
    summary = {row["name"]: row for row in cache.summary()}
    assert summary["pkg"]["stable"] == "2.0rc1"


def test_add_refuses_a_duplicate_and_save_replaces(cache):
    cache.add(package("pkg-1.0.tar.gz"))
    with pytest.raises(AlreadyCached):
        cache.add(package("pkg-1.0.tar.gz"))
    cache.save(package("pkg-1.0.tar.gz", uploader="x"))
    assert cache.fetch("pkg-1.0.tar.gz").data["uploader"] == "x"


def test_serial_moves_on_every_write(cache):
    seen = [cache.serial()]
    cache.add(package("pkg-1.0.tar.gz"))
    seen.append(cache.serial())
    cache.save(package("pkg-1.0.tar.gz"))
    seen.append(cache.serial())
    cache.delete(package("pkg-1.0.tar.gz"))
    seen.append(cache.serial())
    cache.reload_from_storage([package("pkg-2.0.tar.gz", "2.0")])
    seen.append(cache.serial())
    assert len(set(seen)) == len(seen)


def test_reload_replaces_everything(cache):
    cache.add(package("pkg-1.0.tar.gz"))
    cache.save_core_metadata("pkg-1.0.tar.gz", b"Name: pkg")
    assert cache.reload_from_storage([package("pkg-2.0.tar.gz", "2.0")]) == 1
    assert [p.filename for p in cache.all("pkg")] == ["pkg-2.0.tar.gz"]
    assert cache.core_metadata("pkg-1.0.tar.gz") is None
    assert not cache.is_empty()
    cache.clear_all()
    assert cache.is_empty()


def test_core_metadata_bytes(cache):
    big = b"Metadata-Version: 2.1\nName: pkg\n\n" + "é".encode() * 200_000  # 400 KB
    cache.save_core_metadata("pkg-1.0.whl", big)
    assert cache.core_metadata("pkg-1.0.whl") == big


def test_concurrent_adds_of_one_filename_leave_one(cache):
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def add() -> None:
        barrier.wait()
        try:
            cache.add(package("pkg-1.0.tar.gz"))
            outcomes.append("added")
        except AlreadyCached:
            outcomes.append("refused")

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added", "refused", "refused", "refused"]


def test_a_second_process_shares_the_serial(cache):
    other = SQLCache(cache.engine)  # start-up of a second server against one database
    cache.add(package("pkg-1.0.tar.gz"))
    assert other.serial() == cache.serial()
    assert other.fetch("pkg-1.0.tar.gz") is not None
