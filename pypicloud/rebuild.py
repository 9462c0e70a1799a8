"""Rebuilding the package database from storage without blocking the server.

A rebuild of a large store takes minutes; run inside start-up it kept every process from
answering (and failing its health check) for that long. Here it runs in a thread while the
index serves what the database already has, one process of a deployment at a time (a lock
in the shared database), and reports its progress as storage's listing is consumed. The
progress is kept in the shared database too, so any process's status page shows a rebuild
another process runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pypicloud.audit import Actor, current_actor
from pypicloud.cache import Cache
from pypicloud.models import Package

log = logging.getLogger(__name__)

LOCK_NAME = "rebuild"
LOCK_SECONDS = 600.0  # extended while files are listed, so only a dead holder's lock expires
RENEW_EVERY = 1000  # files
PUBLISH_SECONDS = 1.0  # the shared status is this fresh while files are listed


class RebuildBusy(Exception):
    """Another rebuild (in this process or another) holds the lock."""


@dataclasses.dataclass
class RebuildStatus:
    """What ``GET /admin/rebuild/status`` shows; mutated only under ``Rebuilder._guard``."""

    running: bool = False
    listed: int = 0
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    result: int | None = None  # files in the database after the last rebuild
    error: str | None = None
    owner: str | None = None  # host:pid:id of the process that runs (or ran) it

    def as_dict(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "running": self.running,
            "listed": self.listed,
            "started": when(self.started),
            "finished": when(self.finished),
            "result": self.result,
            "error": self.error,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RebuildStatus:
        def when(value: Any) -> dt.datetime | None:
            return dt.datetime.fromisoformat(value) if isinstance(value, str) else None

        return cls(
            running=bool(raw.get("running")),
            listed=int(raw.get("listed") or 0),
            started=when(raw.get("started")),
            finished=when(raw.get("finished")),
            result=raw.get("result") if isinstance(raw.get("result"), int) else None,
            error=raw.get("error") if isinstance(raw.get("error"), str) else None,
            owner=raw.get("owner") if isinstance(raw.get("owner"), str) else None,
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Rebuilder:
    """Runs ``reload(packages, graceful)`` under the deployment-wide lock, counting files."""

    def __init__(
        self,
        cache: Cache,
        listing: Callable[[], Iterable[Package]],
        reload: Callable[[Iterable[Package], bool], int],
        lock_seconds: float = LOCK_SECONDS,
        on_finish: Callable[[int | None, str | None, Actor], None] | None = None,
    ) -> None:
        self.cache = cache
        self.listing = listing
        self.reload = reload
        self.lock_seconds = lock_seconds
        #: Told (files, error, who started it) when a rebuild ends: metrics, the audit log.
        self.on_finish = on_finish
        self._actor = Actor()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._guard = threading.Lock()
        self._status = RebuildStatus()
        self._thread: threading.Thread | None = None

    def status(self) -> RebuildStatus:
        """This process's rebuild while it runs; otherwise the deployment's latest one."""
        with self._guard:
            local = dataclasses.replace(self._status)
        if local.running:
            return local
        shared = self._shared()
        if shared is None or (local.started and shared.started and shared.started <= local.started):
            return local
        return shared

    def _shared(self) -> RebuildStatus | None:
        try:
            raw = self.cache.state(LOCK_NAME)
            found = json.loads(raw) if raw else None
        except Exception:  # the status page must not fail with the database
            log.warning("cannot read the shared rebuild status", exc_info=True)
            return None
        if not isinstance(found, dict):
            return None
        status = RebuildStatus.from_dict(found)
        beat = found.get("heartbeat")
        stale = isinstance(beat, (int, float)) and time.time() - beat > self.lock_seconds
        if status.running and stale:
            status.running = False
            status.error = "abandoned: the process running it stopped"
        return status

    def _publish(self) -> None:
        """Keep this process's status in the shared database (best effort)."""
        with self._guard:
            shown = self._status.as_dict()
        shown["heartbeat"] = time.time()
        try:
            self.cache.save_state(LOCK_NAME, json.dumps(shown))
        except Exception:  # the rebuild goes on; only other processes' view is stale
            log.warning("cannot save the shared rebuild status", exc_info=True)

    @property
    def running(self) -> bool:
        with self._guard:
            return self._status.running

    def run(self, graceful: bool = False) -> int:
        """Rebuild now, in this thread; RebuildBusy when another rebuild holds the lock."""
        self._begin()
        return self._finish_run(graceful)

    def start(self, graceful: bool = True) -> bool:
        """Rebuild in a background thread; False (nothing started) when one already runs.

        Graceful by default: requests are being served meanwhile, so the database must never
        look empty."""
        try:
            self._begin()
        except RebuildBusy:
            return False
        thread = threading.Thread(
            target=self._background, args=(graceful,), name="pypicloud-rebuild", daemon=True
        )
        with self._guard:
            self._thread = thread
        thread.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background rebuild (commands want the whole database)."""
        with self._guard:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _background(self, graceful: bool) -> None:
        try:
            self._finish_run(graceful)
        except Exception:  # logged and shown in the status; the server keeps serving
            log.exception("background rebuild of the package database failed")

    def _begin(self) -> None:
        with self._guard:
            if self._status.running:
                raise RebuildBusy("a rebuild is running in this process")
            if not self.cache.try_lock(LOCK_NAME, self.owner, self.lock_seconds):
                raise RebuildBusy("another process is rebuilding the package database")
            self._status = RebuildStatus(
                running=True, started=_now(), result=self._status.result, owner=self.owner
            )
            self._actor = current_actor()  # the background thread has no request
        self._publish()

    def _finish_run(self, graceful: bool) -> int:
        result: int | None = None
        error: str | None = None
        try:
            result = self.reload(self._counted(self.listing()), graceful)
            return result
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            with self._guard:
                status = self._status
                status.running = False
                status.finished = _now()
                status.error = error
                if result is not None:
                    status.result = result
                actor = self._actor
            self._publish()  # before the lock goes: the next holder's status is newer
            self.cache.unlock(LOCK_NAME, self.owner)
            if self.on_finish is not None:
                try:
                    self.on_finish(result, error, actor)
                except Exception:  # reporting must not turn a rebuild into a failure
                    log.exception("reporting the end of a rebuild failed")

    def _counted(self, packages: Iterable[Package]) -> Iterator[Package]:
        """Count files as the cache consumes the listing; extend the lock as it goes."""
        published = time.monotonic()
        for package in packages:
            with self._guard:
                self._status.listed += 1
                listed = self._status.listed
            if listed % RENEW_EVERY == 0:
                self.cache.try_lock(LOCK_NAME, self.owner, self.lock_seconds)
            if listed % RENEW_EVERY == 0 or time.monotonic() - published >= PUBLISH_SECONDS:
                self._publish()
                published = time.monotonic()
            yield package
