"""Rebuilding the package database from storage without blocking the server.

A rebuild of a large store takes minutes; run inside start-up it kept every process from
answering (and failing its health check) for that long. Here it runs in a thread while the
index serves what the database already has, one process of a deployment at a time (a lock
in the shared database), and reports its progress as storage's listing is consumed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
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
        }


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
        with self._guard:
            return dataclasses.replace(self._status)

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
            self._status = RebuildStatus(running=True, started=_now(), result=self._status.result)
            self._actor = current_actor()  # the background thread has no request

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
            self.cache.unlock(LOCK_NAME, self.owner)
            with self._guard:
                status = self._status
                status.running = False
                status.finished = _now()
                status.error = error
                if result is not None:
                    status.result = result
                actor = self._actor
            if self.on_finish is not None:
                try:
                    self.on_finish(result, error, actor)
                except Exception:  # reporting must not turn a rebuild into a failure
                    log.exception("reporting the end of a rebuild failed")

    def _counted(self, packages: Iterable[Package]) -> Iterator[Package]:
        """Count files as the cache consumes the listing; extend the lock as it goes."""
        for package in packages:
            with self._guard:
                self._status.listed += 1
                listed = self._status.listed
            if listed % RENEW_EVERY == 0:
                self.cache.try_lock(LOCK_NAME, self.owner, self.lock_seconds)
            yield package
