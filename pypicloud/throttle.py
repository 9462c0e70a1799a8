"""Failed logins are slowed, per user name and per client address, never refused.

After ``free`` failures within ``window`` seconds for a key (a user name, or an address),
each further failure is answered only after a delay that doubles up to ``max_delay``. A
correct password is never delayed or refused, so an attacker guessing one user's password
cannot lock that user out; guessing becomes slow instead. The table of keys is bounded
(least recently failed dropped first), so a flood of made-up names cannot exhaust memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

FREE_FAILURES = 5
WINDOW_SECONDS = 900.0
BASE_DELAY = 0.1
MAX_DELAY = 2.0
MAX_KEYS = 10_000


class LoginThrottle:
    def __init__(
        self,
        *,
        free: int = FREE_FAILURES,
        window: float = WINDOW_SECONDS,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.free = free
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_keys = max_keys
        self.clock = clock
        self.sleep = sleep
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _count(self, key: str, now: float) -> int:
        """Record one failure for ``key``; the failures within the window, this one included."""
        count, since = self._failures.pop(key, (0, now))
        if now - since > self.window:
            count, since = 0, now
        self._failures[key] = (count + 1, since)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        return count + 1

    def delay_for(self, failures: int) -> float:
        over = failures - self.free
        if over <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** (over - 1))

    def failed(self, username: str, address: str | None) -> float:
        """Record a failed login and wait as long as the worse of its two keys asks."""
        now = self.clock()
        with self._lock:
            failures = self._count("user:" + username, now)
            if address:
                failures = max(failures, self._count("addr:" + address, now))
        delay = self.delay_for(failures)
        if delay:
            self.sleep(delay)
        return delay

    def tracked(self) -> int:
        return len(self._failures)
