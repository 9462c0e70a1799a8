"""Applying the retention rules: a dry run lists, a real run deletes through the service.

A real run holds two locks in the package database: ``retention`` (one run at a time in
the whole deployment) and the rebuild's own lock, so a rebuild never runs while files are
being deleted (its storage listing could otherwise put a deleted file back) and retention
never starts while a rebuild runs. A dry run changes nothing and takes no lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator

from packaging.utils import canonicalize_name

from pypicloud.packages import PackageService
from pypicloud.rebuild import LOCK_NAME as REBUILD_LOCK
from pypicloud.retention.rules import Removal, RetentionOptions, plan

log = logging.getLogger(__name__)

LOCK_NAME = "retention"
LOCK_SECONDS = 600.0  # renewed after each release, so only a dead holder's lock expires


class RetentionBusy(Exception):
    """Another retention run, or a rebuild, holds the deployment's lock."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class RunResult:
    """What a run removed (or, dry, would remove); ``ran`` is False when it was not due."""

    removals: list[Removal]
    dry_run: bool
    ran: bool = True

    @property
    def files(self) -> int:
        return sum(len(r.files) for r in self.removals)


class RetentionRunner:
    """The ``pypi.retention`` rules over the package database, one process's view."""

    def __init__(
        self,
        packages: PackageService,
        options: RetentionOptions,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.packages = packages
        self.cache = packages.cache
        self.options = options
        self.clock = clock
        self.owner = f"retention:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def plan(self, project: str | None = None) -> list[Removal]:
        """What the rules remove now, by project name then newest version first."""
        names = [canonicalize_name(project)] if project else self.packages.projects()
        now = self.clock()
        removals: list[Removal] = []
        for name in names:
            rule = self.options.rule_for(name)
            if rule is not None:
                removals += plan(rule, name, self.packages.files(name), now)
        return removals

    def run(
        self,
        *,
        dry_run: bool = False,
        project: str | None = None,
        due_after: float | None = None,
    ) -> RunResult:
        """Plan, and unless ``dry_run`` delete. With ``due_after`` (seconds), a real run
        is skipped (``ran`` False) when the deployment's last one ended more recently."""
        if dry_run:
            return RunResult(self.plan(project), dry_run=True)
        with self._locked():
            if due_after is not None and not self._due(due_after):
                return RunResult([], dry_run=False, ran=False)
            done = [r for r in self.plan(project) if self._apply(r)]
            self._finished(done)
        return RunResult(done, dry_run=False)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Both locks for the duration of a real run; RetentionBusy when either is taken."""
        cache, owner = self.cache, self.owner
        if not cache.try_lock(LOCK_NAME, owner, LOCK_SECONDS):
            raise RetentionBusy("another process is applying retention")
        try:
            if self.packages.rebuilder.running or not cache.try_lock(
                REBUILD_LOCK, owner, LOCK_SECONDS
            ):
                raise RetentionBusy("the package database is being rebuilt")
            try:
                yield
            finally:
                cache.unlock(REBUILD_LOCK, owner)
        finally:
            cache.unlock(LOCK_NAME, owner)

    def _apply(self, removal: Removal) -> bool:
        """Delete a release's files unless it was marked to keep since it was planned."""
        current = [self.cache.fetch(p.filename) for p in removal.files]
        present = [p for p in current if p is not None]
        if not present or any(p.kept for p in present):
            return False
        for package in present:
            self.packages.expire(package, removal.describe())
        self._renew()
        return True

    def _renew(self) -> None:
        for name in (LOCK_NAME, REBUILD_LOCK):
            self.cache.try_lock(name, self.owner, LOCK_SECONDS)

    def _due(self, interval: float) -> bool:
        try:
            raw = self.cache.state(LOCK_NAME)
            last = json.loads(raw).get("finished") if raw else None
        except (ValueError, AttributeError):
            last = None
        return not isinstance(last, (int, float)) or time.time() - last >= interval

    def _finished(self, done: list[Removal]) -> None:
        files = sum(len(r.files) for r in done)
        self.cache.save_state(LOCK_NAME, json.dumps({"finished": time.time(), "files": files}))
        log.info("retention removed %d files of %d releases", files, len(done))
