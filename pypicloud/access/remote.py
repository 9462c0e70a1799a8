"""Access delegated to an HTTP server the operator runs (``pypi.auth = remote``).

The protocol is the original pypicloud's, so a server written for it keeps working: ``GET``
requests with query parameters, JSON answers, optional HTTP Basic auth to the server.

How the answers become facts:

* ``verify_user`` asks ``auth.uri.verify`` (``username``, ``password``; answers ``true``).
  Never cached here: the security policy remembers successes, and failures must not be.
* ``user`` asks ``auth.uri.groups`` and ``auth.uri.admin`` (``username``). A server says it
  does not know a user by answering ``null`` or 404 to the groups question.
* ``grants`` has no single endpoint in the original protocol. When the optional
  ``auth.uri.all_permissions`` is set, one request answers every grant (the ``packages``
  object of the original's JSON layout). Otherwise grants are enumerated: every user from
  ``auth.uri.user_data`` with ``auth.uri.user_package_permissions``, and every group from
  ``auth.uri.groups`` (plus ``everyone`` and ``authenticated``) with
  ``auth.uri.group_package_permissions``. The evaluator needs the whole table to filter a
  listing in one pass, so a lazily filled mapping would not do.

Answers are kept for ``auth.remote.cache_time`` seconds; ``version()`` changes when they
expire (or after a failure), so the evaluator re-reads. A failure is logged and answers
False or None; grants fall back to the last good table, and with none there is no safe
answer (an empty table would open every project to the defaults), so the request fails.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from pypicloud.access.base import (
    AUTHENTICATED,
    EVERYONE,
    Grants,
    Mode,
    UserFacts,
    group_principal,
    user_principal,
)
from pypicloud.access.http_json import JsonClient, NotFound, RemoteError
from pypicloud.settings import ConfigError, Settings

log = logging.getLogger(__name__)

URI_DEFAULTS: dict[str, str | None] = {
    "verify": "/verify",
    "groups": "/groups",
    "group_members": "/group_members",
    "admin": "/admin",
    "group_permissions": "/group_permissions",
    "user_permissions": "/user_permissions",
    "user_data": "/user_data",
    "user_package_permissions": "/user_package_permissions",
    "group_package_permissions": "/group_package_permissions",
    "all_permissions": None,  # ours, optional: every grant in one answer
}
DEFAULT_CACHE_TIME = 300
DEFAULT_TIMEOUT = 5.0
MAX_ANSWERS = 10_000


@dataclasses.dataclass(frozen=True)
class RemoteConfig:
    server: str
    auth: tuple[str, str] | None = None
    uris: Mapping[str, str | None] = dataclasses.field(default_factory=lambda: URI_DEFAULTS)
    cache_time: float = DEFAULT_CACHE_TIME
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteConfig:
        server = settings.str("auth.backend_server", required=True)
        assert server is not None
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("auth.backend_server", f"not an http(s) URL: {server!r}")
        user = settings.str("auth.user")
        password = settings.str("auth.password")
        if password is not None and user is None:
            raise ConfigError("auth.password", "needs auth.user")
        uris: dict[str, str | None] = {}
        for name, default in URI_DEFAULTS.items():
            uri = settings.str(f"auth.uri.{name}", default)
            if uri is not None and not uri.startswith("/"):
                raise ConfigError(f"auth.uri.{name}", f"expected a path starting with /: {uri!r}")
            uris[name] = uri
        return cls(
            server=server,
            auth=(user, password or "") if user is not None else None,
            uris=uris,
            cache_time=float(
                settings.int("auth.remote.cache_time", DEFAULT_CACHE_TIME, minimum=0) or 0
            ),
            timeout=_seconds(settings, "auth.remote.timeout", DEFAULT_TIMEOUT),
        )


class RemoteAccess:
    """Facts from the operator's server, cached; thread-safe (one connection per call)."""

    def __init__(
        self,
        config: RemoteConfig,
        client: JsonClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.client = client or JsonClient(config.server, config.timeout, config.auth)
        self.clock = clock
        self._lock = threading.Lock()
        self._refresh = threading.Lock()  # one thread re-reads the grants at a time
        self._answers: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._generation = 0
        self._started = clock()
        self._failed = False
        self._grants: Grants | None = None
        self._grants_generation = -1

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteAccess:
        return cls(RemoteConfig.from_settings(settings))

    # -- AccessBackend -----------------------------------------------------------------

    def verify_user(self, username: str, password: str) -> bool:
        uri = self.config.uris["verify"]
        assert uri is not None
        try:
            answer = self.client.get(uri, {"username": username, "password": password})
        except RemoteError as exc:
            self._failure(exc)
            return False
        return answer is True

    def user(self, username: str) -> UserFacts | None:
        try:
            groups = self._ask("groups", username=username)
            if groups is None:
                return None
            admin = self._ask("admin", username=username)
            return UserFacts(username, frozenset(_names(groups, "groups")), admin is True)
        except NotFound:
            return None
        except RemoteError as exc:
            self._failure(exc)
            return None

    def grants(self) -> Grants:
        with self._lock:
            self._expire()
            generation, known = self._generation, self._grants
            if known is not None and self._grants_generation == generation:
                return known
        # While one thread re-reads, the others keep using the last table.
        if not self._refresh.acquire(blocking=known is None):
            assert known is not None
            return known
        try:
            with self._lock:
                if self._grants is not None and self._grants_generation == self._generation:
                    return self._grants  # another thread finished while we waited
            try:
                fresh = self._fetch_grants()
            except RemoteError as exc:
                self._failure(exc)
                if known is None:
                    raise
                log.warning("keeping the last grants read from %s", self.config.server)
                return known
            with self._lock:
                self._grants, self._grants_generation = fresh, generation
            return fresh
        finally:
            self._refresh.release()

    def version(self) -> int:
        with self._lock:
            if self._failed:
                self._new_generation()
            else:
                self._expire()
            return self._generation

    def check_health(self) -> tuple[bool, str]:
        uri = self.config.uris["groups"]
        assert uri is not None
        try:
            self.client.get(uri)
        except RemoteError as exc:
            return False, f"remote access server {self.config.server}: {exc}"
        return True, ""

    # -- read-only listings (the original's admin pages asked these) --------------------

    def users(self) -> list[UserFacts]:
        """Every user ``auth.uri.user_data`` lists (groups asked one by one)."""
        found = [self.user(name) for name in sorted(self._user_names())]
        return [facts for facts in found if facts is not None]

    def groups(self) -> dict[str, frozenset[str]]:
        """Every group ``auth.uri.groups`` lists, with ``auth.uri.group_members``."""
        return {
            group: frozenset(_names(self._ask("group_members", group=group), "group_members"))
            for group in _names(self._ask("groups"), "groups")
        }

    def project_grants(self, project: str) -> dict[str, Mode]:
        """One project's grants from ``auth.uri.user_permissions`` / ``group_permissions``."""
        found: dict[str, Mode] = {}
        for kind, principal in (("user", user_principal), ("group", group_principal)):
            answer = self._ask(f"{kind}_permissions", package=project)
            if not isinstance(answer, dict):
                raise RemoteError(f"{kind}_permissions: expected an object")
            for name, permissions in answer.items():
                mode = _mode(permissions)
                if mode is not None:
                    found[principal(str(name))] = mode
        return found

    # -- internals ---------------------------------------------------------------------

    def _ask(self, name: str, **params: str) -> Any:
        """A cached answer; failures are never cached."""
        uri = self.config.uris[name]
        if uri is None:
            raise RemoteError(f"auth.uri.{name} is not set")
        key = (name, tuple(sorted(params.items())))
        with self._lock:
            self._expire()
            generation = self._generation
            if key in self._answers:
                return self._answers[key]
        answer = self.client.get(uri, params or None)
        with self._lock:
            if generation == self._generation:
                if len(self._answers) >= MAX_ANSWERS:
                    self._answers.clear()
                self._answers[key] = answer
        return answer

    def _fetch_grants(self) -> Grants:
        table: dict[str, dict[str, Mode]] = {}
        if self.config.uris["all_permissions"] is not None:
            packages = self._ask("all_permissions")
            if not isinstance(packages, dict):
                raise RemoteError("all_permissions: expected an object")
            for project, by_kind in packages.items():
                if not isinstance(by_kind, dict):
                    raise RemoteError("all_permissions: expected an object per package")
                for name, permissions in _entries(by_kind.get("users")):
                    _add(table, project, user_principal(name), permissions)
                for name, permissions in _entries(by_kind.get("groups")):
                    _add(table, project, group_principal(name), permissions)
            return table
        for username in self._user_names():
            answer = self._ask("user_package_permissions", username=username)
            for project, permissions in _package_list(answer, "user_package_permissions"):
                _add(table, project, user_principal(username), permissions)
        groups = set(_names(self._ask("groups"), "groups")) | {EVERYONE, AUTHENTICATED}
        for group in sorted(groups):
            try:
                answer = self._ask("group_package_permissions", group=group)
            except NotFound:
                continue
            for project, permissions in _package_list(answer, "group_package_permissions"):
                _add(table, project, group_principal(group), permissions)
        return table

    def _user_names(self) -> list[str]:
        answer = self._ask("user_data")
        if not isinstance(answer, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("username"), str) for entry in answer
        ):
            raise RemoteError("user_data: expected a list of objects with a username")
        return [entry["username"] for entry in answer]

    def _failure(self, exc: RemoteError) -> None:
        log.error("remote access server %s: %s", self.config.server, exc)
        with self._lock:
            self._failed = True

    def _expire(self) -> None:
        if self.clock() - self._started >= self.config.cache_time:
            self._new_generation()

    def _new_generation(self) -> None:
        self._generation += 1
        self._started = self.clock()
        self._answers.clear()
        self._failed = False


def _seconds(settings: Settings, key: str, default: float) -> float:
    text = settings.str(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(key, f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise ConfigError(key, "must be more than 0")
    return value


def _names(answer: Any, what: str) -> list[str]:
    if not isinstance(answer, list) or not all(isinstance(name, str) for name in answer):
        raise RemoteError(f"{what}: expected a list of names")
    return answer


def _mode(permissions: Any) -> Mode | None:
    """The original's permission lists (``["read", "write"]``) as a mode; write implies read."""
    if not isinstance(permissions, list):
        raise RemoteError("expected a list of permissions")
    if "write" in permissions:
        return "rw"
    return "r" if "read" in permissions else None


def _entries(by_name: Any) -> Iterable[tuple[str, Any]]:
    if by_name is None:
        return ()
    if not isinstance(by_name, dict):
        raise RemoteError("expected an object of names to permissions")
    return ((str(name), permissions) for name, permissions in by_name.items())


def _package_list(answer: Any, what: str) -> Iterable[tuple[str, Any]]:
    if not isinstance(answer, list) or not all(
        isinstance(item, dict) and isinstance(item.get("package"), str) for item in answer
    ):
        raise RemoteError(f"{what}: expected a list of objects with a package")
    return ((item["package"], item.get("permissions")) for item in answer)


def _add(table: dict[str, dict[str, Mode]], project: str, principal: str, permissions: Any) -> None:
    mode = _mode(permissions)
    if mode is None:
        return
    by_principal = table.setdefault(canonicalize_name(project), {})
    if by_principal.get(principal) != "rw":
        by_principal[principal] = mode
