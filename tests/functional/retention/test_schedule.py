"""The server's scheduled retention run: once per interval for the deployment, never while
another process holds the lock or a rebuild runs, and a failure never stops the server."""

from __future__ import annotations

import time

from pypicloud.retention.schedule import RetentionSchedule
from tests.dists import wheel_name
from tests.functional.conftest import auth
from tests.functional.retention.conftest import release


def four_releases(d) -> None:
    release(d.app, "proj", "1.0")
    release(d.app, "proj", "2.0")
    release(d.app, "proj", "3.0")
    release(d.app, "proj", "4.0")


OLDEST = wheel_name("proj", "1.0")


def test_one_check_runs_once_when_nobody_holds_the_lock(deploy):
    d = deploy(**{"pypi.retention_interval": "1h"})
    four_releases(d)
    schedule = d.services.retention_schedule
    assert schedule is not None and schedule.interval == 3600
    assert schedule._thread is not None and schedule._thread.is_alive()  # the server's
    assert schedule.tick() is True
    assert d.services.cache.fetch(OLDEST) is None
    assert not (d.storage / "proj" / "1.0").exists()
    # Due again only an interval later, whichever process checks.
    release(d.app, "proj", "5.0")
    other = RetentionSchedule(d.services.retention, 3600)
    assert other.tick() is False and schedule.tick() is False
    assert d.services.cache.fetch(wheel_name("proj", "2.0")) is not None


def test_no_run_at_all_while_another_process_holds_the_lock(deploy):
    d = deploy(**{"pypi.retention_interval": "1h"})
    four_releases(d)
    schedule = d.services.retention_schedule
    before = d.stored()
    assert d.services.cache.try_lock("retention", "another-server", 60)
    assert schedule.tick() is False
    assert d.stored() == before and d.services.cache.fetch(OLDEST) is not None
    d.services.cache.unlock("retention", "another-server")
    assert d.services.cache.try_lock("rebuild", "a-rebuilding-server", 60)
    assert schedule.tick() is False
    assert d.stored() == before
    d.services.cache.unlock("rebuild", "a-rebuilding-server")
    assert schedule.tick() is True and d.services.cache.fetch(OLDEST) is None


def test_the_background_thread_runs_it(deploy):
    d = deploy()
    four_releases(d)
    schedule = RetentionSchedule(d.services.retention, 0.05)
    schedule.start()
    try:
        deadline = time.monotonic() + 30
        while d.services.cache.fetch(OLDEST) is not None:
            assert time.monotonic() < deadline, "the scheduled run did not happen"
            time.sleep(0.05)
    finally:
        schedule.stop(timeout=10)
    assert d.app.get("/api/package/proj/", headers=auth("bob")).json["packages"]


def test_a_failure_is_logged_and_the_next_check_tries_again(deploy, caplog, monkeypatch):
    d = deploy(**{"pypi.retention_interval": "1h"})
    four_releases(d)
    schedule = d.services.retention_schedule

    def broken(*args, **kwargs):
        raise OSError("storage is read-only")

    monkeypatch.setattr(d.services.packages, "expire", broken)
    assert schedule.tick() is False
    assert "scheduled retention failed" in caplog.text
    assert d.services.cache.try_lock("retention", "anyone", 1)  # the lock was released
    d.services.cache.unlock("retention", "anyone")
    monkeypatch.undo()
    assert schedule.tick() is True and d.services.cache.fetch(OLDEST) is None


def test_the_interval_is_off_by_default(deploy):
    assert deploy().services.retention_schedule is None
