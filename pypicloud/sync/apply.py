"""Applying S3 object events to this region's package database.

An event only says which key changed; what the database records comes from the object as
it is now (one HEAD, read by ``S3Storage.describe`` exactly as a rebuild reads it). That makes
every event idempotent and order-free: a late "created" for an object since deleted finds
nothing and removes the record instead of resurrecting it, a "removed" followed by a
re-upload finds the new object and keeps it, and a duplicate changes nothing (and so does
not move the serial). S3 sequencers are not needed for this.
"""

from __future__ import annotations

import collections
import logging
import posixpath
from typing import Any

from pypicloud.packages import PackageService
from pypicloud.storage.s3 import S3Storage
from pypicloud.sync.events import BadEvent, ObjectEvent, object_events

log = logging.getLogger(__name__)


class EventSync:
    """Turns S3 event payloads into saves and deletes of one package database."""

    def __init__(self, storage: S3Storage, packages: PackageService) -> None:
        self.storage = storage
        self.packages = packages

    def apply(self, event: ObjectEvent) -> str:
        """``saved``, ``deleted``, ``unchanged`` or ``ignored`` (not a package key)."""
        if event.bucket != self.storage.bucket:
            # A notification meant for another deployment: retried, then dead-lettered.
            raise BadEvent(f"event for bucket {event.bucket!r}, not {self.storage.bucket!r}")
        if not self.storage.may_hold_package(event.key):
            log.debug(
                "ignoring %s %s: outside storage.prefix or not a package", event.name, event.key
            )
            return "ignored"
        stored = self.storage.describe(event.key)
        outcome = self.packages.mirror(posixpath.basename(event.key), stored, key_of=event.key)
        log.info("%s %s: %s", event.name, event.key, outcome)
        return outcome

    def handle(self, payload: Any) -> collections.Counter[str]:
        """Apply every event of one payload (a Lambda event or a message body)."""
        outcomes: collections.Counter[str] = collections.Counter()
        for event in object_events(payload):
            outcomes[self.apply(event)] += 1
        return outcomes
