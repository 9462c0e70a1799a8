"""The server's scheduled retention run (``pypi.retention_interval``), in a daemon thread.

Every process of a deployment runs the thread; the locks of RetentionRunner let one of them
work at a time, and the time of the last run, kept in the package database, makes it one
run per interval for the deployment, whichever process does it and however often the
processes restart. A failure is logged and the next check tries again: the server never
stops for it.
"""

from __future__ import annotations

import logging
import threading

from pypicloud.retention.runner import RetentionBusy, RetentionRunner

log = logging.getLogger(__name__)

#: The longest wait between two checks whether a run is due (a restart loses no more).
MAX_CHECK_SECONDS = 300.0


class RetentionSchedule:
    def __init__(self, runner: RetentionRunner, interval: float) -> None:
        self.runner = runner
        self.interval = interval
        self.check_every = min(interval, MAX_CHECK_SECONDS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """One check: run when due and nobody else holds the locks; True when it ran."""
        try:
            result = self.runner.run(due_after=self.interval)
        except RetentionBusy as exc:
            log.info("scheduled retention skipped: %s", exc)
            return False
        except Exception:  # logged; the next check tries again
            log.exception("scheduled retention failed")
            return False
        return result.ran

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="pypicloud-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        # The first check waits too: at start-up a rebuild may hold the database.
        while not self._stop.wait(self.check_every):
            self.tick()
