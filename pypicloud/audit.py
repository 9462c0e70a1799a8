"""The audit log: who changed what, when, and from where.

The services (packages, accounts, security, rebuild) record each state change here, so
every way in (REST API, web UI, twine, scripts) is recorded the same way. They know no
request: the request's actor (user name or token id, and the client address) reaches them
through a context variable that the observe tween (pypicloud/tweens.py) sets for the
duration of a request. Outside a request (start-up, ``ppc-*`` commands) the actor is
``system``. A secret (password, token) is never part of an entry.

Where entries are kept depends on the package database (``pypi.db``): a table beside the
packages for ``sql`` (pypicloud/audit_sql.py), a sorted set for ``redis``, a table of
its own for ``dynamo`` (pypicloud/audit_dynamo.py). Any other database keeps none
(``NullAuditLog``, and a warning at start-up).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from packaging.utils import canonicalize_name

from pypicloud.settings import Settings

log = logging.getLogger(__name__)

SYSTEM = "system"
DEFAULT_RETENTION_DAYS = 365
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a user name (or ``system``), the API token used if any, the address."""

    name: str = SYSTEM
    token_id: str | None = None
    address: str | None = None


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    when: dt.datetime  # aware, UTC
    actor: str
    action: str
    project: str | None = None
    target: str | None = None
    detail: str | None = None
    token_id: str | None = None
    address: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["when"] = self.when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return data


@dataclasses.dataclass(frozen=True)
class AuditQuery:
    """The filters of ``GET /admin/audit``; every one optional, newest entries first."""

    since: dt.datetime | None = None
    user: str | None = None
    project: str | None = None
    action: str | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AuditQuery:
        """The query string of ``GET /admin/audit``; ValueError says what is wrong."""

        def text(key: str) -> str | None:
            value = params.get(key)
            if value is None or str(value).strip() == "":
                return None
            if len(str(value)) > 255:
                raise ValueError(f"{key} is too long")
            return str(value).strip()

        since = None
        if (raw := text("since")) is not None:
            try:
                since = dt.datetime.fromisoformat(raw)
            except ValueError:
                raise ValueError("since: expected an ISO 8601 date or time") from None
            if since.tzinfo is None:
                since = since.replace(tzinfo=dt.UTC)
        limit = DEFAULT_LIMIT
        if (raw := text("limit")) is not None:
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
                raise ValueError(f"limit: expected a number from 1 to {MAX_LIMIT}")
            limit = int(raw)
        project = text("project")
        return cls(
            since=since,
            user=text("user"),
            project=canonicalize_name(project) if project else None,
            action=text("action"),
            limit=limit,
        )

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.since is None or entry.when >= self.since)
            and (self.user is None or entry.actor == self.user)
            and (self.project is None or entry.project == self.project)
            and (self.action is None or entry.action == self.action)
        )


class AuditLog(Protocol):
    """Where entries go. ``record`` must not fail the change it records: implementations
    log their own errors."""

    def record(
        self,
        action: str,
        *,
        project: str | None = None,
        target: str | None = None,
        detail: str | None = None,
        actor: Actor | None = None,
    ) -> None: ...

    def query(self, query: AuditQuery) -> list[AuditEntry]: ...

    def prune(self, now: dt.datetime | None = None) -> int: ...

    @property
    def stored(self) -> bool:
        """False when entries are not kept (the admin page says so)."""
        ...


class NullAuditLog:
    """Keeps nothing (a package database without an audit store)."""

    stored = False

    def record(
        self,
        action: str,
        *,
        project: str | None = None,
        target: str | None = None,
        detail: str | None = None,
        actor: Actor | None = None,
    ) -> None:
        return None

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        return []

    def prune(self, now: dt.datetime | None = None) -> int:
        return 0


# -- the acting user ----------------------------------------------------------------------

_resolver: contextvars.ContextVar[Callable[[], Actor] | None] = contextvars.ContextVar(
    "pypicloud_audit_actor", default=None
)


@contextlib.contextmanager
def acting(resolve: Callable[[], Actor]) -> Iterator[None]:
    """Within the block, entries are recorded as ``resolve()``'s actor (called lazily,
    only when something is recorded, so a read-only request never computes it)."""
    token = _resolver.set(resolve)
    try:
        yield
    finally:
        _resolver.reset(token)


def current_actor() -> Actor:
    resolve = _resolver.get()
    if resolve is None:
        return Actor()
    try:
        return resolve()
    except Exception:  # an audit entry must never fail the change it records
        log.exception("could not tell who acts; recording as %s", SYSTEM)
        return Actor()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PruneSchedule:
    """At most one prune per ``every`` seconds in a process, whichever thread records first.

    An expiry the store applies itself (DynamoDB's TTL) can lag by days, and a SQL table has
    none: the log's own writers delete what is past the retention, cheaply and rarely."""

    def __init__(
        self,
        prune: Callable[[], int],
        errors: tuple[type[BaseException], ...],
        every: float = 3600.0,
    ) -> None:
        self._prune = prune
        self._errors = errors
        self._every = every
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe_prune(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                return
            self._next = now + self._every
        try:
            self._prune()
        except self._errors:
            log.exception("could not delete old audit entries")


@dataclasses.dataclass(frozen=True)
class AuditOptions:
    retention_days: int = DEFAULT_RETENTION_DAYS  # 0: keep forever

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditOptions:
        days = settings.int("pypi.audit_retention_days", DEFAULT_RETENTION_DAYS, minimum=0)
        return cls(retention_days=DEFAULT_RETENTION_DAYS if days is None else days)

    def cutoff(self, now: dt.datetime) -> dt.datetime | None:
        if self.retention_days <= 0:
            return None
        return now - dt.timedelta(days=self.retention_days)


def audit_from_settings(settings: Settings, cache: object) -> AuditLog:
    """The audit log beside the package database ``cache``."""
    options = AuditOptions.from_settings(settings)
    engine = getattr(cache, "engine", None)
    if engine is not None:
        from pypicloud.audit_sql import SQLAuditLog

        return SQLAuditLog(engine, options)
    redis_module = sys.modules.get("pypicloud.cache.redis_cache")  # loaded if chosen
    if redis_module is not None and isinstance(cache, redis_module.RedisCache):
        from pypicloud.audit_redis import RedisAuditLog

        return RedisAuditLog(cache.client, cache.prefix, options)
    dynamo_module = sys.modules.get("pypicloud.cache.dynamo")
    if dynamo_module is not None and isinstance(cache, dynamo_module.DynamoCache):
        from pypicloud.audit_dynamo import DynamoAuditLog

        return DynamoAuditLog(cache.client, cache.namespace, options)
    log.warning(
        "the package database (%s) keeps no audit log: state changes are not recorded",
        type(cache).__name__,
    )
    return NullAuditLog()
