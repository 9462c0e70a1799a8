"""The Rebuilder: one rebuild at a time (the shared lock), progress, background start."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterable, Iterator

import pytest

from pypicloud.models import Package
from pypicloud.rebuild import LOCK_NAME, RebuildBusy, Rebuilder
from tests.fakes import MemoryCache

WHEN = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def files(n: int) -> list[Package]:
    return [Package("pkg", f"1.{i}", f"pkg-1.{i}.tar.gz", WHEN) for i in range(n)]


class Gate:
    """A listing that yields one file, then waits until the test opens the gate."""

    def __init__(self, packages: list[Package]) -> None:
        self.packages = packages
        self.first_listed = threading.Event()
        self.opened = threading.Event()

    def __call__(self) -> Iterator[Package]:
        for i, package in enumerate(self.packages):
            yield package
            if i == 0:
                self.first_listed.set()
                assert self.opened.wait(10)


def rebuilder(cache: MemoryCache, listing) -> Rebuilder:
    def reload(packages: Iterable[Package], graceful: bool) -> int:
        return cache.reload_from_storage(packages, graceful=graceful)

    return Rebuilder(cache, listing, reload)


def test_a_run_counts_what_it_listed_and_releases_the_lock():
    cache = MemoryCache()
    r = rebuilder(cache, lambda: files(3))
    assert r.run() == 3
    status = r.status()
    assert (status.running, status.listed, status.result, status.error) == (False, 3, 3, None)
    assert status.started and status.finished and status.started <= status.finished
    assert cache.locks == {}


def test_a_run_refuses_while_another_process_holds_the_lock():
    cache = MemoryCache()
    cache.try_lock(LOCK_NAME, "another-host:1", 60)
    r = rebuilder(cache, lambda: files(1))
    with pytest.raises(RebuildBusy):
        r.run()
    assert not r.start()
    assert cache.all_packages() == []
    assert cache.locks == {LOCK_NAME: "another-host:1"}  # not released by us


def test_a_failure_is_reported_and_the_lock_released():
    cache = MemoryCache()

    def broken() -> Iterator[Package]:
        yield files(1)[0]
        raise OSError("storage went away")

    r = rebuilder(cache, broken)
    with pytest.raises(OSError):
        r.run()
    status = r.status()
    assert not status.running and status.error == "storage went away" and status.listed == 1
    assert cache.locks == {}


def test_start_returns_at_once_and_progress_shows_while_it_runs():
    cache = MemoryCache()
    cache.save(files(1)[0])
    gate = Gate(files(5))
    r = rebuilder(cache, gate)
    assert r.start()
    assert gate.first_listed.wait(10)
    status = r.status()
    assert status.running and status.listed == 1 and status.finished is None
    assert len(cache.all_packages()) == 1  # the old records are served meanwhile
    assert not r.start()  # one at a time, in this process too
    gate.opened.set()
    r.wait(10)
    status = r.status()
    assert not status.running and status.result == 5 and status.listed == 5
    assert len(cache.all_packages()) == 5 and cache.locks == {}


def test_start_is_graceful_and_run_is_as_asked():
    cache = MemoryCache()
    seen: list[bool] = []

    def reload(packages: Iterable[Package], graceful: bool) -> int:
        seen.append(graceful)
        return len(list(packages))

    r = Rebuilder(cache, lambda: files(1), reload)
    r.run()
    r.start()
    r.wait(10)
    assert seen == [False, True]


def test_another_process_sees_the_rebuild_in_the_shared_status():
    cache = MemoryCache()  # one shared database, two processes' rebuilders
    gate = Gate(files(4))
    running, other = rebuilder(cache, gate), rebuilder(cache, lambda: files(1))
    assert running.start()
    assert gate.first_listed.wait(10)
    seen = other.status()
    assert seen.running is True and seen.owner == running.owner and seen.finished is None
    gate.opened.set()
    running.wait(10)
    seen = other.status()
    assert (seen.running, seen.listed, seen.result, seen.owner) == (False, 4, 4, running.owner)
    assert other.run() == 1  # its own, newer rebuild is shown from now on
    assert other.status().owner == other.owner
    assert running.status().owner == other.owner


def test_a_shared_status_whose_process_died_shows_abandoned():
    cache = MemoryCache()
    stale = {"running": True, "listed": 9, "started": WHEN.isoformat(), "owner": "h:1:x"}
    cache.save_state(LOCK_NAME, json.dumps({**stale, "heartbeat": time.time() - 3600}))
    status = rebuilder(cache, lambda: files(1)).status()
    assert (status.running, status.listed, status.owner) == (False, 9, "h:1:x")
    assert status.error and "abandoned" in status.error


def test_an_unreadable_shared_status_falls_back_to_this_process(caplog):
    cache = MemoryCache()
    cache.save_state(LOCK_NAME, "not json")
    r = rebuilder(cache, lambda: files(2))
    assert r.status().result is None
    r.run()
    cache.save_state(LOCK_NAME, "[]")
    assert r.status().result == 2
