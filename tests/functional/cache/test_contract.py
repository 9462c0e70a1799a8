"""The cache contract, run over every backend against its real database server.

A backend plugs in by adding its id to ``BACKENDS`` and a fixture ``<id>_cache_opener`` to
tests/fixtures/caches.py: a callable that opens a cache on one fresh, empty store (a second
call is a second server process on the same store).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pypicloud.cache import AlreadyCached, Cache
from pypicloud.cache.base import ProjectSummary
from pypicloud.models import Package

BACKENDS = ["sqlite", "postgresql", "mysql", "redis", "redis_cluster", "dynamo"]
# Backends that cannot store METADATA of any size (they set ``max_core_metadata``).
LIMITED_METADATA = ["dynamo"]

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.fixture(params=BACKENDS)
def open_cache(request) -> Callable[[], Cache]:
    return request.getfixturevalue(f"{request.param}_cache_opener")


@pytest.fixture
def cache(open_cache) -> Cache:
    return open_cache()


def package(
    filename: str = "pkg-1.0.tar.gz",
    version: str = "1.0",
    name: str = "pkg",
    *,
    summary: str | None = "A summary",
    when: dt.datetime = WHEN,
    **data,
) -> Package:
    facts = {"hash_sha256": "ab" * 32, "hash_md5": "cd" * 16, **data}
    return Package(name, version, filename, when, summary, facts)


def run_together(*jobs: Callable[[], None]) -> None:
    """Start every job at once in its own thread; re-raise the first failure."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def start(job: Callable[[], None]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]


def test_satisfies_protocol(cache):
    assert isinstance(cache, Cache)


def test_a_fresh_cache_is_empty(cache):
    assert cache.is_empty()
    assert cache.all_packages() == []
    assert cache.distinct() == []
    assert cache.summary() == []
    assert cache.all("pkg") == []
    assert cache.fetch("pkg-1.0.tar.gz") is None
    assert cache.core_metadata("pkg-1.0.tar.gz") is None


# -- records ------------------------------------------------------------------------------


def test_add_then_fetch_round_trips_every_fact(cache):
    original = package(
        requires_python=">=3.8",
        uploader="alice",
        yanked=True,
        yanked_reason="broken",
        core_metadata_sha256="ef" * 32,
        size=1234,
    )
    cache.add(original)
    fetched = cache.fetch("pkg-1.0.tar.gz")
    assert fetched == original
    assert fetched.last_modified.tzinfo is not None
    assert cache.fetch("other-1.0.tar.gz") is None


def test_unicode_and_long_values_round_trip(cache):
    summary = "Ünïcode — 日本語 ✓ 🐍 " + "é" * 2000
    filename = "long_" + "x" * 220 + "-1.0+local." + "a" * 10 + ".tar.gz"
    version = "1.0+local." + "a" * 10
    original = package(
        filename,
        version,
        name="Long_" + "x" * 220,
        summary=summary,
        uploader="zoë",
        yanked=True,
        yanked_reason="説明 " * 2000,
    )
    cache.add(original)
    assert cache.fetch(filename) == original
    assert cache.all(original.name) == [original]
    [row] = cache.summary()
    assert row.summary == summary


def test_last_modified_keeps_at_least_the_second(cache):
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 654321, tzinfo=dt.UTC)
    cache.add(package(when=when))
    stored = cache.fetch("pkg-1.0.tar.gz").last_modified
    assert stored.utcoffset() == dt.timedelta(0)
    assert dt.timedelta(0) <= when - stored < dt.timedelta(seconds=1)


def test_add_refuses_a_duplicate_and_keeps_the_first(cache):
    cache.add(package(uploader="first"))
    with pytest.raises(AlreadyCached):
        cache.add(package(uploader="second"))
    assert cache.fetch("pkg-1.0.tar.gz").data["uploader"] == "first"
    assert len(cache.all_packages()) == 1


def test_save_inserts_and_replaces(cache):
    cache.save(package(uploader="first"))
    cache.save(package(uploader="second", summary="changed"))
    [stored] = cache.all_packages()
    assert stored.data["uploader"] == "second"
    assert stored.summary == "changed"


def test_all_is_one_project_newest_version_first(cache):
    for version in ("1.0", "1.10", "1.9", "2.0rc1", "not-pep440"):
        cache.add(package(f"pkg-{version}.tar.gz", version))
    cache.add(package("pkg-1.9-py3-none-any.whl", "1.9"))
    cache.add(package("other-3.0.tar.gz", "3.0", name="other"))
    files = cache.all("pkg")
    assert [p.version for p in files] == ["2.0rc1", "1.10", "1.9", "1.9", "1.0", "not-pep440"]
    assert {p.name for p in files} == {"pkg"}


def test_names_are_normalized(cache):
    cache.add(package("My_Pkg-1.0.tar.gz", name="My_Pkg"))
    assert [p.filename for p in cache.all("my-pkg")] == ["My_Pkg-1.0.tar.gz"]
    assert cache.distinct() == ["my-pkg"]


def test_all_packages_and_distinct_sorted(cache):
    for name in ("zeta", "alpha", "mid"):
        cache.add(package(f"{name}-1.0.tar.gz", name=name))
        cache.add(package(f"{name}-2.0.tar.gz", "2.0", name=name))
    assert cache.distinct() == ["alpha", "mid", "zeta"]
    assert len(cache.all_packages()) == 6


def test_summary_is_typed_and_per_project(cache):
    early = WHEN - dt.timedelta(days=3)
    late = WHEN + dt.timedelta(days=3)
    cache.add(package("pkg-1.0.tar.gz", "1.0", summary="old", when=late))
    cache.add(package("pkg-2.0.tar.gz", "2.0", summary="new", when=early))
    cache.add(package("abc-0.1.tar.gz", "0.1", name="abc", summary=None, when=WHEN))
    assert cache.summary() == [
        ProjectSummary(name="abc", summary=None, stable="0.1", last_modified=WHEN),
        ProjectSummary(name="pkg", summary="new", stable="2.0", last_modified=late),
    ]


def test_delete_drops_the_record_and_its_core_metadata(cache):
    cache.add(package())
    cache.add(package("pkg-2.0.tar.gz", "2.0"))
    cache.save_core_metadata("pkg-1.0.tar.gz", b"Name: pkg")
    cache.delete(package())
    assert cache.fetch("pkg-1.0.tar.gz") is None
    assert cache.core_metadata("pkg-1.0.tar.gz") is None
    assert [p.filename for p in cache.all("pkg")] == ["pkg-2.0.tar.gz"]
    cache.delete(package("pkg-2.0.tar.gz", "2.0"))
    assert cache.is_empty()
    assert cache.distinct() == []


def test_an_upload_is_saved_with_its_core_metadata(cache):
    before = cache.serial()
    cache.save_uploaded(package(), b"Name: pkg")
    assert cache.fetch("pkg-1.0.tar.gz") == package()
    assert cache.core_metadata("pkg-1.0.tar.gz") == b"Name: pkg"
    assert cache.serial() != before


def test_deleting_an_unknown_file_is_not_an_error(cache):
    cache.delete(package("ghost-1.0.tar.gz", name="ghost"))
    assert cache.is_empty()


def test_clear_all_drops_records_and_core_metadata(cache):
    cache.add(package())
    cache.save_core_metadata("pkg-1.0.tar.gz", b"Name: pkg")
    cache.clear_all()
    assert cache.is_empty()
    assert cache.all_packages() == []
    assert cache.core_metadata("pkg-1.0.tar.gz") is None


def test_reload_from_storage_replaces_everything(cache):
    cache.add(package())
    cache.add(package("gone-1.0.tar.gz", name="gone"))
    cache.save_core_metadata("pkg-1.0.tar.gz", b"Name: pkg\nVersion: 1.0")
    cache.save_core_metadata("gone-1.0.tar.gz", b"Name: gone")
    stored = [package(uploader="from storage"), package("new-2.0.tar.gz", "2.0", name="new")]
    assert cache.reload_from_storage(iter(stored)) == 2  # storage.list() is an iterator
    assert sorted(p.filename for p in cache.all_packages()) == ["new-2.0.tar.gz", "pkg-1.0.tar.gz"]
    assert cache.fetch("pkg-1.0.tar.gz").data["uploader"] == "from storage"
    assert cache.distinct() == ["new", "pkg"]
    assert cache.core_metadata("gone-1.0.tar.gz") is None
    assert cache.core_metadata("pkg-1.0.tar.gz") == b"Name: pkg\nVersion: 1.0"


def test_reload_with_nothing_empties(cache):
    cache.add(package())
    assert cache.reload_from_storage([]) == 0
    assert cache.is_empty()


# -- core metadata --------------------------------------------------------------------------


def test_core_metadata_bytes_round_trip_and_replace(cache):
    big = b"Metadata-Version: 2.1\nName: pkg\n\n" + "é".encode() * 200_000 + b"\x00\xff"
    big = big[: getattr(cache, "max_core_metadata", len(big))]
    cache.save_core_metadata("pkg-1.0-py3-none-any.whl", big)
    assert cache.core_metadata("pkg-1.0-py3-none-any.whl") == big
    cache.save_core_metadata("pkg-1.0-py3-none-any.whl", b"Name: pkg")
    assert cache.core_metadata("pkg-1.0-py3-none-any.whl") == b"Name: pkg"


@pytest.mark.parametrize("open_cache", LIMITED_METADATA, indirect=True)
def test_core_metadata_over_the_backends_limit_is_dropped_not_stale(cache):
    """Too large to store (DynamoDB's 400 KB items): the file is read again instead."""
    big_metadata = b"Name: pkg\n\n" + b"x" * cache.max_core_metadata
    cache.save_core_metadata("pkg-1.0-py3-none-any.whl", b"Name: pkg")
    cache.save_core_metadata("pkg-1.0-py3-none-any.whl", big_metadata)
    assert cache.core_metadata("pkg-1.0-py3-none-any.whl") is None


# -- serial and health ------------------------------------------------------------------------


def test_serial_moves_forward_on_every_write(cache):
    writes: list[Callable[[], object]] = [
        lambda: cache.add(package()),
        lambda: cache.save(package(uploader="x")),
        lambda: cache.save(package("pkg-2.0.tar.gz", "2.0")),
        lambda: cache.delete(package()),
        lambda: cache.reload_from_storage([package("pkg-3.0.tar.gz", "3.0")]),
        lambda: cache.clear_all(),
    ]
    seen = [cache.serial()]
    for write in writes:
        write()
        seen.append(cache.serial())
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)


def test_reads_leave_the_serial_alone(cache):
    cache.add(package())
    before = cache.serial()
    cache.fetch("pkg-1.0.tar.gz")
    cache.all("pkg")
    cache.all_packages()
    cache.distinct()
    cache.summary()
    cache.is_empty()
    cache.core_metadata("pkg-1.0.tar.gz")
    cache.check_health()
    assert cache.serial() == before


def test_check_health(cache):
    assert cache.check_health() == (True, "")


def test_a_second_process_sees_the_same_records_and_serial(open_cache):
    first, second = open_cache(), open_cache()
    first.add(package())
    first.save_core_metadata("pkg-1.0.tar.gz", b"Name: pkg")
    assert second.serial() == first.serial()
    assert second.fetch("pkg-1.0.tar.gz") == first.fetch("pkg-1.0.tar.gz")
    assert second.core_metadata("pkg-1.0.tar.gz") == b"Name: pkg"
    with pytest.raises(AlreadyCached):
        second.add(package())


# -- concurrent writers (threads over real connections, two clients of one store) ----------


@pytest.fixture
def clients(open_cache) -> Iterator[list[Cache]]:
    yield [open_cache(), open_cache()]


def test_concurrent_adds_of_one_filename_leave_exactly_one(clients):
    outcomes: list[str] = []

    def add(index: int) -> Callable[[], None]:
        def job() -> None:
            try:
                clients[index % 2].add(package(uploader=f"writer-{index}"))
                outcomes.append(f"writer-{index}")
            except AlreadyCached:
                outcomes.append("refused")

        return job

    run_together(*(add(i) for i in range(8)))
    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1, outcomes
    assert outcomes.count("refused") == 7
    [stored] = clients[0].all_packages()
    assert stored.data["uploader"] == winners[0]


def test_concurrent_saves_of_different_files_all_land(clients):
    before = clients[0].serial()
    count = 8

    def save(index: int) -> Callable[[], None]:
        return lambda: clients[index % 2].save(package(f"pkg-{index}.0.tar.gz", f"{index}.0"))

    run_together(*(save(i) for i in range(count)))
    assert len(clients[1].all("pkg")) == count
    assert clients[1].serial() >= before + count


def test_concurrent_reload_and_saves_leave_a_consistent_state(clients):
    """A reload is atomic: every file it brings is there, and the saves racing it survive
    exactly when they came after it (in the order they were made: a suffix)."""
    reloader, saver = clients
    stored = [package(f"stored-{i}.0.tar.gz", f"{i}.0", name="stored") for i in range(20)]
    saved = [package(f"pkg-{i}.0.tar.gz", f"{i}.0") for i in range(30)]
    before = reloader.serial()

    def reload() -> None:
        for _ in range(3):
            reloader.reload_from_storage(stored)

    def save_all() -> None:
        for record in saved:
            saver.save(record)
            saver.save_core_metadata(record.filename, b"Name: pkg")

    run_together(reload, save_all)
    names = {p.filename for p in reloader.all_packages()}
    assert {p.filename for p in stored} <= names
    survivors = [p.filename for p in saved if p.filename in names]
    assert survivors == [p.filename for p in saved[len(saved) - len(survivors) :]]
    assert names == {p.filename for p in stored} | set(survivors)
    assert reloader.distinct() == (["pkg", "stored"] if survivors else ["stored"])
    assert reloader.serial() >= before + 3 + len(saved)
    for record in saved:
        if record.filename in names:
            assert reloader.fetch(record.filename) == record


def test_concurrent_saves_of_one_project_keep_its_summary_right(clients):
    """Each writer updates the project's summary row: none may lose another's update."""
    count = 8

    def save(index: int) -> Callable[[], None]:
        record = package(f"pkg-{index}.0.tar.gz", f"{index}.0", summary=f"s{index}")
        return lambda: clients[index % 2].save(record)

    run_together(*(save(i) for i in range(count)))
    [row] = clients[0].summary()
    assert (row.stable, row.summary) == (f"{count - 1}.0", f"s{count - 1}")


def test_graceful_reload_diffs_and_never_looks_empty(clients):
    reloader, reader = clients
    kept = [package(f"kept-{i}.0.tar.gz", f"{i}.0", name="kept") for i in range(15)]
    for record in kept:
        reloader.add(record)
    reloader.add(package("gone-1.0.tar.gz", name="gone"))
    reloader.save_core_metadata("kept-0.0.tar.gz", b"Name: kept")
    reloader.save_core_metadata("gone-1.0.tar.gz", b"Name: gone")
    new = package("new-1.0.tar.gz", name="new", uploader="storage")
    seen: list[list[str]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(reader.distinct())

    def reload() -> None:
        try:
            assert reloader.reload_from_storage([*kept, new], graceful=True) == 16
        finally:
            done.set()

    run_together(read, reload)
    assert [] not in seen
    assert all("kept" in names for names in seen)
    assert reader.distinct() == ["kept", "new"]
    assert reader.fetch("new-1.0.tar.gz") == new
    assert reader.fetch("gone-1.0.tar.gz") is None
    assert reader.core_metadata("gone-1.0.tar.gz") is None
    assert reader.core_metadata("kept-0.0.tar.gz") == b"Name: kept"
    assert len(reader.all("kept")) == 15


# -- the deployment-wide lock (one rebuild at a time) -----------------------------------------


def test_of_two_processes_racing_for_a_lock_exactly_one_wins(open_cache):
    first, second = open_cache(), open_cache()
    won: list[str] = []

    def take(cache: Cache, owner: str) -> Callable[[], None]:
        def job() -> None:
            if cache.try_lock("rebuild", owner, 30):
                won.append(owner)

        return job

    run_together(take(first, "a"), take(second, "b"))
    assert len(won) == 1
    loser = "b" if won == ["a"] else "a"
    assert not (second if loser == "b" else first).try_lock("rebuild", loser, 30)


def test_a_lock_is_extended_by_its_owner_and_released(open_cache):
    first, second = open_cache(), open_cache()
    assert first.try_lock("rebuild", "a", 30)
    assert first.try_lock("rebuild", "a", 30)  # the holder extends it
    second.unlock("rebuild", "b")  # not the owner: nothing happens
    assert not second.try_lock("rebuild", "b", 30)
    first.unlock("rebuild", "a")
    assert second.try_lock("rebuild", "b", 30)
    assert first.try_lock("other", "a", 30)  # locks are by name


def test_an_expired_lock_can_be_taken_over(open_cache):
    first, second = open_cache(), open_cache()
    assert first.try_lock("rebuild", "a", 0.05)
    time.sleep(0.3)
    assert second.try_lock("rebuild", "b", 30)
    assert not first.try_lock("rebuild", "a", 30)
    first.unlock("rebuild", "a")  # the former holder cannot release the new one
    assert not first.try_lock("rebuild", "a", 30)


def test_state_is_shared_by_every_process(open_cache):
    first, second = open_cache(), open_cache()
    assert second.state("rebuild") is None
    first.save_state("rebuild", '{"running": true}')
    assert second.state("rebuild") == '{"running": true}'
    second.save_state("rebuild", "é" * 2000)  # replaced, unicode and long
    assert first.state("rebuild") == "é" * 2000
    assert first.state("other") is None


def test_writes_of_another_process_while_a_reload_lists_survive_it(open_cache):
    """The reload's listing of storage is older than writes made while it ran: an upload
    it did not see stays, a file deleted after it listed it stays deleted."""
    reloader, writer = open_cache(), open_cache()
    doomed, kept = package("doomed-1.0.tar.gz", name="doomed"), package("kept-1.0.tar.gz")
    for record in (doomed, kept):
        writer.add(record)
    fresh = package("fresh-1.0.tar.gz", name="fresh")

    def listing() -> Iterator[Package]:
        yield doomed
        yield kept
        writer.save(fresh)  # after the listing passed its place
        writer.delete(doomed)  # after the listing saw it

    assert reloader.reload_from_storage(listing()) == 2
    assert {p.filename for p in reloader.all_packages()} == {"kept-1.0.tar.gz", "fresh-1.0.tar.gz"}
    assert reloader.distinct() == ["fresh", "pkg"]
    assert [s.name for s in reloader.summary()] == ["fresh", "pkg"]
    assert reloader.fetch("fresh-1.0.tar.gz") == fresh
    assert reloader.all("doomed") == []
    reloader.reload_from_storage([kept])  # a later rebuild trusts storage again
    assert {p.filename for p in writer.all_packages()} == {"kept-1.0.tar.gz"}


# -- project status (PEP 792) -------------------------------------------------------------------

ARCHIVED = '{"reason": "superseded by pkg2", "status": "archived"}'


def test_project_status_round_trips_and_is_dropped(cache):
    assert cache.project_status("pkg") is None
    cache.save_project_status("pkg", ARCHIVED)
    cache.save_project_status("other", '{"status": "deprecated"}')
    assert cache.project_status("pkg") == ARCHIVED
    cache.save_project_status("pkg", '{"status": "quarantined"}')
    assert cache.project_status("pkg") == '{"status": "quarantined"}'
    cache.save_project_status("pkg", None)
    assert cache.project_status("pkg") is None
    assert cache.project_status("other") == '{"status": "deprecated"}'
    cache.save_project_status("never-set", None)  # dropping nothing is not an error


def test_statuses_are_read_in_one_batch_of_any_size(cache):
    """Only names with a status are in the answer; more names than one round trip of any
    backend takes (SQL's chunk, DynamoDB's 100 keys), and a name twice, are fine."""
    cache.save_project_status("pkg", ARCHIVED)
    cache.save_project_status("other", '{"status": "quarantined"}')
    names = [f"none-{i}" for i in range(250)] + ["other", "pkg", "pkg"] + ["none-1"] * 2
    names += [f"more-{i}" for i in range(300)]
    assert cache.project_statuses(names) == {"pkg": ARCHIVED, "other": '{"status": "quarantined"}'}
    assert cache.project_statuses([]) == {}
    assert cache.project_statuses(iter(["pkg"])) == {"pkg": ARCHIVED}
    cache.save_project_status("pkg", None)
    assert cache.project_statuses(["pkg", "other"]) == {"other": '{"status": "quarantined"}'}


def test_a_status_change_moves_the_serial_and_reading_it_does_not(cache):
    seen = [cache.serial()]
    for value in (ARCHIVED, '{"status": "quarantined"}', None):
        cache.save_project_status("pkg", value)
        seen.append(cache.serial())
        cache.project_status("pkg")
        assert cache.serial() == seen[-1]
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


@pytest.mark.parametrize("graceful", [False, True])
def test_a_rebuild_keeps_statuses(cache, graceful):
    cache.add(package())
    cache.save_project_status("pkg", ARCHIVED)
    cache.reload_from_storage(iter([package(uploader="from storage")]), graceful=graceful)
    assert cache.project_status("pkg") == ARCHIVED
    cache.reload_from_storage([], graceful=graceful)
    cache.clear_all()
    assert cache.project_status("pkg") == ARCHIVED


def test_a_second_process_sees_a_status_at_once(open_cache):
    first, second = open_cache(), open_cache()
    before = second.serial()
    first.save_project_status("pkg", ARCHIVED)
    assert second.project_status("pkg") == ARCHIVED
    assert second.serial() > before
