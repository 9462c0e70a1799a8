"""One evaluator decides read, write and admin for every access backend.

Backends supply facts (``AccessBackend``); this module turns them into principals and
decisions with set operations only, so a listing of 10,000 projects costs one pass and
every backend means the same thing by a grant. Facts are cached per backend ``version()``,
which is asked at most once per ``auth.recheck_seconds``: a change made through any server
process is seen by every other within that bound.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable

from pypicloud.access.base import (
    ADMIN,
    AUTHENTICATED,
    EVERYONE,
    AccessBackend,
    Grants,
    group_principal,
    user_principal,
)
from pypicloud.settings import Settings

DEFAULT_RECHECK_SECONDS = 2.0
MAX_CACHED_USERS = 10_000
ANONYMOUS = frozenset({EVERYONE})


class PermissionTable:
    """Read/write grants per project and the defaults, evaluated with set operations.

    The defaults apply only to a project with no grant at all (the original pypicloud's
    rule); admins may do everything.
    """

    def __init__(
        self, grants: Grants, default_read: Iterable[str], default_write: Iterable[str]
    ) -> None:
        self.readers: dict[str, frozenset[str]] = {}
        self.writers: dict[str, frozenset[str]] = {}
        for name, by_principal in grants.items():
            self.readers[name] = frozenset(p for p, mode in by_principal.items() if "r" in mode)
            self.writers[name] = frozenset(p for p, mode in by_principal.items() if "w" in mode)
        write = frozenset(group_principal(g) for g in default_write)
        self.default_writers = write
        self.default_readers = frozenset(group_principal(g) for g in default_read) | write

    def can_read(self, principals: frozenset[str], name: str) -> bool:
        if ADMIN in principals:
            return True
        return not self.readers.get(name, self.default_readers).isdisjoint(principals)

    def can_write(self, principals: frozenset[str], name: str) -> bool:
        if ADMIN in principals:
            return True
        return not self.writers.get(name, self.default_writers).isdisjoint(principals)

    def readable(self, principals: frozenset[str], names: Iterable[str]) -> set[str]:
        if ADMIN in principals:
            return set(names)
        reads_default = not self.default_readers.isdisjoint(principals)
        result = set()
        for name in names:
            readers = self.readers.get(name)
            if readers is None:
                if reads_default:
                    result.add(name)
            elif not readers.isdisjoint(principals):
                result.add(name)
        return result


@dataclasses.dataclass(frozen=True)
class AccessDefaults:
    """The ``pypi.*`` and ``auth.*`` settings that apply whatever the backend."""

    default_read: tuple[str, ...] = (AUTHENTICATED,)
    default_write: tuple[str, ...] = ()
    admins: frozenset[str] = frozenset()
    recheck_seconds: float = DEFAULT_RECHECK_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessDefaults:
        recheck = settings.int("auth.recheck_seconds", int(DEFAULT_RECHECK_SECONDS), minimum=0)
        return cls(
            default_read=tuple(settings.list("pypi.default_read", [AUTHENTICATED])),
            default_write=tuple(settings.list("pypi.default_write", [])),
            admins=frozenset(settings.list("auth.admins")),
            recheck_seconds=float(recheck or 0),
        )


class VersionWatch:
    """A backend's ``version()``, asked at most once per ``interval`` seconds."""

    def __init__(self, source: Callable[[], int], interval: float) -> None:
        self.source = source
        self.interval = interval
        self._value = source()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def expire(self) -> None:
        """Ask again at the next call (this process made a change)."""
        self._checked = float("-inf")

    def current(self) -> int:
        now = time.monotonic()
        if now - self._checked < self.interval:
            return self._value
        with self._lock:
            if now - self._checked >= self.interval:
                self._value = self.source()
                self._checked = time.monotonic()
            return self._value


class Access:
    """Principals and decisions for one access backend; shared by every request thread."""

    def __init__(self, backend: AccessBackend, defaults: AccessDefaults | None = None) -> None:
        self.backend = backend
        self.defaults = defaults or AccessDefaults()
        self.watch = VersionWatch(backend.version, self.defaults.recheck_seconds)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._table: PermissionTable | None = None
        self._principals: dict[str, frozenset[str] | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        from pypicloud.access import backend_from_settings

        return cls(backend_from_settings(settings), AccessDefaults.from_settings(settings))

    # -- facts, cached per backend version --------------------------------------------

    def version(self) -> int:
        return self.watch.current()

    def _current(self) -> PermissionTable:
        version = self.watch.current()
        table = self._table
        if table is not None and version == self._version:
            return table
        table = PermissionTable(
            self.backend.grants(), self.defaults.default_read, self.defaults.default_write
        )
        with self._lock:
            self._table, self._version = table, version
            self._principals = {}
        return table

    def verify_user(self, username: str, password: str) -> bool:
        return self.backend.verify_user(username, password)

    def knows(self, username: str) -> bool:
        return self._principals_of(username) is not None

    def principals_if_known(self, username: str) -> frozenset[str] | None:
        """A user's principals, or None for a user the backend does not know (any more)."""
        return self._principals_of(username)

    def principals(self, username: str | None) -> frozenset[str]:
        """Every principal of a user; an anonymous request (or an unknown user) has only
        ``everyone``."""
        if username is None:
            return ANONYMOUS
        return self._principals_of(username) or ANONYMOUS

    def _principals_of(self, username: str) -> frozenset[str] | None:
        self._current()  # drops cached principals when the version moved
        cache = self._principals
        if username in cache:
            return cache[username]
        facts = self.backend.user(username)
        found: frozenset[str] | None = None
        if facts is not None:
            names = {EVERYONE, AUTHENTICATED, user_principal(username)}
            names.update(group_principal(g) for g in facts.groups)
            if facts.admin or username in self.defaults.admins:
                names.add(ADMIN)
            found = frozenset(names)
        with self._lock:
            if len(cache) >= MAX_CACHED_USERS:
                cache.clear()
            cache[username] = found
        return found

    # -- decisions ---------------------------------------------------------------------

    def can_read(self, principals: frozenset[str], name: str) -> bool:
        return self._current().can_read(principals, name)

    def can_write(self, principals: frozenset[str], name: str) -> bool:
        return self._current().can_write(principals, name)

    def readable(self, principals: frozenset[str], names: Iterable[str]) -> set[str]:
        """The subset of ``names`` readable with ``principals``, in one batched pass."""
        return self._current().readable(principals, names)

    def anonymous_may_read_by_default(self) -> bool:
        return EVERYONE in self._current().default_readers

    def check_health(self) -> tuple[bool, str]:
        return self.backend.check_health()
