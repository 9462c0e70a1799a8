"""A lock per key (a filename, a storage key), for work that must not interleave in this
process: two uploads of one S3 key, an upload and a delete of one file, two first downloads
of one upstream file. Other processes are ordered by storage's create-only writes."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class KeyLocks:
    """A lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (threading.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
