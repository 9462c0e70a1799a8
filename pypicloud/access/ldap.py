"""Access from an LDAP directory (``pypi.auth = ldap``): read-only facts.

Passwords are checked by binding as the user; groups and the admin flag come from the
directory; grants (and optionally extra users and groups) from the ini file's config
keys when ``auth.ldap.fallback = config``. What LDAP says is remembered for
``auth.ldap.cache_time`` seconds, in buckets of that length: ``version()`` is the bucket
number, so the evaluator drops its own cache exactly when ours expires, and a change made
in the directory is seen within ``cache_time`` (+ ``auth.recheck_seconds``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pypicloud.access.base import Grants, UserFacts
from pypicloud.access.config import ConfigAccess
from pypicloud.access.ldap_client import Directory, LDAPUnavailable, Lookup
from pypicloud.access.ldap_settings import LDAPSettings
from pypicloud.settings import Settings

log = logging.getLogger(__name__)
MAX_CACHED_USERS = 10_000
MAX_USERNAME = 256

Found = tuple[Lookup, UserFacts] | None


class LDAPAccess:
    """Users from LDAP. Thread-safe: a lock guards the cache, connections are per call."""

    def __init__(
        self,
        config: LDAPSettings,
        fallback: ConfigAccess | None = None,
        config_groups: dict[str, frozenset[str]] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.directory = Directory(config)
        self.fallback = fallback
        self.config_groups = config_groups or {}
        self.clock = clock
        self._lock = threading.Lock()
        self._bucket = -1
        self._cache: dict[str, Found] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> LDAPAccess:
        config = LDAPSettings.from_settings(settings)
        if config.fallback != "config":
            for prefix in ("user.", "group.", "package."):
                if settings.keys_with_prefix(prefix):
                    log.warning(
                        "%s* settings are ignored without auth.ldap.fallback = config", prefix
                    )
            return cls(config)
        members: dict[str, set[str]] = {}
        for key in settings.keys_with_prefix("group."):
            for username in settings.list(key):
                members.setdefault(username, set()).add(key[len("group.") :])
        groups = {name: frozenset(found) for name, found in members.items()}
        return cls(config, ConfigAccess.from_settings(settings), groups)

    # -- AccessBackend ---------------------------------------------------------------------

    def verify_user(self, username: str, password: str) -> bool:
        # Directory.check_password refuses an empty password (an anonymous bind) itself.
        if self._is_service(username):
            return self._bind(self.config.service_dn, password)
        try:
            found = self._lookup(username)
        except LDAPUnavailable as exc:
            log.error("cannot verify %r: %s", username, exc)
            return False
        if found is None and self.fallback and self.fallback.user(username) is not None:
            return self.fallback.verify_user(username, password)
        # An unknown user still costs one bind (to a DN that cannot exist), so the time
        # taken does not tell an attacker which user names exist.
        return self._bind(found[0].dn if found else None, password)

    def user(self, username: str) -> UserFacts | None:
        if self._is_service(username):
            return UserFacts(username, self.config_groups.get(username, frozenset()), admin=True)
        found = self._lookup(username)
        if found is not None:
            return found[1]
        return self.fallback.user(username) if self.fallback else None

    def grants(self) -> Grants:
        return self.fallback.grants() if self.fallback else {}

    def version(self) -> int:
        return int(self.clock() // self.config.cache_time)

    def check_health(self) -> tuple[bool, str]:
        try:
            self.directory.ping()
        except LDAPUnavailable as exc:
            return False, str(exc)
        return True, ""

    # -- the cache ---------------------------------------------------------------------

    def _lookup(self, username: str) -> Found:
        """The user's entry and facts, cached (unknown users too) until the bucket ends."""
        bucket = self.version()
        with self._lock:
            if bucket != self._bucket:
                self._cache, self._bucket = {}, bucket
            if username in self._cache:
                return self._cache[username]
        found = self._fetch(username)  # outside the lock: the server may be slow
        with self._lock:
            if bucket == self._bucket:
                if len(self._cache) >= MAX_CACHED_USERS:
                    self._cache.clear()
                self._cache[username] = found
        return found

    def _fetch(self, username: str) -> Found:
        if not username or len(username) > MAX_USERNAME or "\0" in username:
            return None
        found = self.directory.lookup(username)
        if found is None:
            return None
        groups = found.groups | self.config_groups.get(username, frozenset())
        return found, UserFacts(username, groups, found.admin)

    def _bind(self, dn: str | None, password: str) -> bool:
        try:
            return self.directory.check_password(dn, password)
        except LDAPUnavailable as exc:
            log.error("cannot verify a password: %s", exc)
            return False

    def _is_service(self, username: str) -> bool:
        return bool(self.config.service_username) and username == self.config.service_username
