"""The ``sync.*`` settings: the SQS queue the event sync reads, and how it retries.

The server reads them too (without acting on them), so one ini file serves the server, the
worker and ``ppc-create-s3-sync``, and a bad value stops all three with one line.
"""

from __future__ import annotations

import dataclasses
import re

from pypicloud.settings import ConfigError, Settings

DEFAULT_QUEUE_NAME = "pypicloud-sync"
#: SQS: up to 80 letters, digits, ``-`` and ``_`` (a FIFO queue cannot take S3 events).
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
REGION = re.compile(r"^[a-z0-9-]+$")
MAX_WAIT_SECONDS = 20  # SQS long polling
MAX_BATCH = 10  # SQS ReceiveMessage and DeleteMessageBatch
MAX_VISIBILITY = 12 * 3600  # SQS: a message may be hidden for at most 12 hours
DEAD_LETTER_SUFFIX = "-dead-letter"


@dataclasses.dataclass(frozen=True)
class SyncOptions:
    queue_url: str | None = None
    queue_name: str = DEFAULT_QUEUE_NAME
    region_name: str | None = None
    endpoint_url: str | None = None
    wait_seconds: int = MAX_WAIT_SECONDS
    batch_size: int = MAX_BATCH
    #: A failed message is hidden this long, doubled on each receive (capped at 15 minutes).
    retry_seconds: int = 30
    #: Receives before SQS moves a message to the dead-letter queue; 0: no such queue.
    max_receives: int = 5
    #: The worker rebuilds the database from storage this often (0: never).
    reconcile_seconds: int = 0

    @property
    def dead_letter_name(self) -> str:
        return self.queue_name[: 80 - len(DEAD_LETTER_SUFFIX)] + DEAD_LETTER_SUFFIX

    def backoff(self, receives: int) -> int:
        """Seconds a message that failed its ``receives``-th delivery stays hidden."""
        if self.retry_seconds <= 0:
            return 0
        return min(self.retry_seconds * 2 ** max(receives - 1, 0), 900)

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncOptions:
        queue_url = _url(settings, "sync.queue_url")
        queue_name = settings.str("sync.queue_name", DEFAULT_QUEUE_NAME) or DEFAULT_QUEUE_NAME
        if not QUEUE_NAME.match(queue_name):
            raise ConfigError("sync.queue_name", "up to 80 letters, digits, - and _")
        region = settings.str("sync.region_name") or settings.str("storage.region_name")
        if settings.str("sync.region_name") and not REGION.match(region or ""):
            raise ConfigError("sync.region_name", f"not a region name: {region!r}")
        return cls(
            queue_url=queue_url,
            queue_name=queue_name,
            region_name=region,
            endpoint_url=_url(settings, "sync.endpoint_url"),
            wait_seconds=_bounded(settings, "sync.wait_seconds", cls.wait_seconds, 0, 20),
            batch_size=_bounded(settings, "sync.batch_size", cls.batch_size, 1, MAX_BATCH),
            retry_seconds=_bounded(settings, "sync.retry_seconds", 30, 0, MAX_VISIBILITY),
            max_receives=_bounded(settings, "sync.max_receives", 5, 0, 1000),
            reconcile_seconds=settings.int("sync.reconcile_seconds", 0, minimum=0) or 0,
        )


def _bounded(settings: Settings, key: str, default: int, low: int, high: int) -> int:
    value = settings.int(key, default, minimum=low)
    if value is None:
        return default
    if value > high:
        raise ConfigError(key, f"must be at most {high}, got {value}")
    return value


def _url(settings: Settings, key: str) -> str | None:
    value = settings.str(key)
    if value is not None and not value.startswith(("http://", "https://")):
        raise ConfigError(key, f"expected an http(s) URL, got {value!r}")
    return value
