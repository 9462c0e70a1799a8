"""Rendered index pages, cached in memory per cache ``serial()``.

A page's key holds everything its bytes depend on (serial, page, format, base URL and, for
listings, the principals that decide visibility). Its ETag is a digest of that key, so a
conditional request is answered without rendering, and every process agrees on ETags.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class PageCache:
    """A small thread-safe LRU of rendered pages (and the facts they are made from),
    emptied whenever the serial moves."""

    def __init__(
        self, max_entries: int = 2048, observe: Callable[[bool], None] | None = None
    ) -> None:
        self.max_entries = max_entries
        #: Told True on a hit, False on a miss (the /metrics page-cache counters).
        self.observe = observe
        self._serial: int | None = None
        self._pages: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def etag_for(serial: int, key: Hashable) -> str:
        return hashlib.sha256(repr((serial, key)).encode()).hexdigest()[:32]

    def get(self, serial: int, key: Hashable, render: Callable[[], T]) -> T:
        """The value cached for ``key`` at this serial, rendering it on a miss."""
        with self._lock:
            if serial != self._serial:
                self._pages.clear()
                self._serial = serial
            hit = self._pages.get(key)
            if hit is not None:
                self._pages.move_to_end(key)
        if hit is not None:
            if self.observe is not None:
                self.observe(True)
            return hit
        if self.observe is not None:
            self.observe(False)
        page = render()
        with self._lock:
            if serial == self._serial:
                self._pages[key] = page
                if len(self._pages) > self.max_entries:
                    self._pages.popitem(last=False)
        return page
