"""CacheDefaults: what a backend gets for free from its primitives."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

import pytest

from pypicloud.cache.base import CacheDefaults, ProjectSummary, summarize
from pypicloud.models import Package

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class Primitives(CacheDefaults):
    """Only the primitives, kept in a dict."""

    def __init__(self, packages: Iterable[Package] = ()) -> None:
        self.records = {p.filename: p for p in packages}
        self.writes = 0
        self.broken: Exception | None = None
        self.metadata: dict[str, bytes] = {}
        self.statuses: dict[str, str] = {}

    def all_packages(self) -> list[Package]:
        return list(self.records.values())

    def distinct(self) -> list[str]:
        return sorted({p.name for p in self.records.values()})

    def reload_from_storage(self, packages: Iterable[Package], graceful: bool = False) -> int:
        self.records = {p.filename: p for p in packages}
        self.writes += 1
        return len(self.records)

    def serial(self) -> int:
        if self.broken:
            raise self.broken
        return self.writes

    def save(self, package: Package) -> None:
        self.records[package.filename] = package
        self.writes += 1

    def save_core_metadata(self, filename: str, content: bytes) -> None:
        self.metadata[filename] = content

    def project_status(self, name: str) -> str | None:
        return self.statuses.get(name)


def test_summary_is_derived_from_all_packages():
    cache = Primitives(
        [
            Package("b", "1.0", "b-1.0.tar.gz", T0 + dt.timedelta(days=2), "old"),
            Package("b", "2.0rc1", "b-2.0rc1.tar.gz", T0, "newest"),
            Package("A", "0.1", "a-0.1.tar.gz", T0, None),
        ]
    )
    assert cache.summary() == [
        ProjectSummary("a", None, "0.1", T0),
        ProjectSummary("b", "newest", "2.0rc1", T0 + dt.timedelta(days=2)),
    ]


def test_summary_rows_are_frozen():
    [row] = summarize([Package("a", "1.0", "a-1.0.tar.gz", T0)])
    with pytest.raises(AttributeError):
        row.name = "b"  # type: ignore[misc]


def test_is_empty_and_clear_all():
    cache = Primitives([Package("a", "1.0", "a-1.0.tar.gz")])
    assert not cache.is_empty()
    cache.clear_all()
    assert cache.is_empty()
    assert cache.writes == 1  # one reload, so the serial moved


def test_check_health_reads_the_serial():
    cache = Primitives()
    assert cache.check_health() == (True, "")
    cache.broken = ConnectionError("connection refused")
    assert cache.check_health() == (False, "connection refused")
    cache.broken = TimeoutError()
    assert cache.check_health() == (False, "TimeoutError")


def test_a_backend_missing_a_primitive_cannot_be_built():
    class Incomplete(CacheDefaults):
        def all_packages(self) -> list[Package]:
            return []

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_an_upload_is_saved_with_its_core_metadata():
    cache = Primitives()
    cache.save_uploaded(Package("demo", "1.0", "demo-1.0.tar.gz"), b"Metadata-Version: 2.1")
    assert cache.metadata == {"demo-1.0.tar.gz": b"Metadata-Version: 2.1"}
    assert list(cache.records) == ["demo-1.0.tar.gz"]


def test_the_in_process_lock_fallback_is_exclusive_and_expires():
    cache = Primitives()
    assert cache.try_lock("rebuild", "a", 0.05)
    assert cache.try_lock("rebuild", "a", 0.05)  # the owner extends it
    assert not cache.try_lock("rebuild", "b", 30)
    cache.unlock("rebuild", "b")  # not the owner: nothing happens
    assert not cache.try_lock("rebuild", "b", 30)
    time.sleep(0.1)
    assert cache.try_lock("rebuild", "b", 30)  # expired: taken over
    cache.unlock("rebuild", "b")
    assert cache.try_lock("rebuild", "a", 30)
    assert Primitives().try_lock("rebuild", "b", 30)  # per cache object


def test_statuses_are_read_one_by_one_without_a_batched_read():
    cache = Primitives()
    cache.statuses = {"a": '{"status": "archived"}', "q": '{"status": "quarantined"}'}
    assert cache.project_statuses(iter(["q", "none", "a"])) == cache.statuses
    assert cache.project_statuses([]) == {}
