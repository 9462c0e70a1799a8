"""The Redis package database, in the original pypicloud's key layout.

Keys (``<p>`` is ``db.redis_prefix``, default ``pypicloud:``): ``<p>package:<filename>`` (a
hash), ``<p>set`` (project names), ``<p>set:<name>`` (filenames), ``<p>summary:<name>`` (a
hash) as the original wrote them, so a Redis it filled is served as is; and ours:
``<p>serial``, ``<p>core_metadata:<filename>`` and ``<p>project_status:<name>`` (PEP 792,
which a reload leaves alone).

Every write WATCHes the serial, reads what it needs, then changes the keys and INCRs the
serial in one MULTI/EXEC: two writers never interleave (the second retries), so ``add`` has
exactly one winner and a reload replaces everything at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import redis  # a missing module: load_backend names the extra to install
from redis.exceptions import WatchError

from pypicloud.cache.base import AlreadyCached, Cache, CacheDefaults, summarize
from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings

DEFAULT_PREFIX = "pypicloud:"
PLAIN_FIELDS = ("name", "version", "filename", "last_modified", "summary")

#: A write: it reads what it needs (under WATCH) and returns what queues its changes.
Write = Callable[[], Callable[[Any], None]]


def package_to_hash(package: Package) -> dict[str, str]:
    """The original's hash: plain strings for the five columns, every other fact as JSON."""
    fields = {
        "name": package.name,
        "version": package.version,
        "filename": package.filename,
        "last_modified": repr(package.last_modified.timestamp()),
        "summary": package.summary or "",
    }
    for key, value in package.data.items():
        fields[key] = json.dumps(value)
    return fields


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def hash_to_package(raw: dict[Any, Any]) -> Package | None:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    if "filename" not in fields or "name" not in fields:
        return None
    data: dict[str, Any] = {}
    for key, value in fields.items():
        if key in PLAIN_FIELDS:
            continue
        try:
            data[key] = json.loads(value)
        except ValueError:  # not ours: keep the string
            data[key] = value
    return Package(
        name=fields["name"],
        version=fields.get("version", ""),
        filename=fields["filename"],
        last_modified=dt.datetime.fromtimestamp(float(fields.get("last_modified") or 0), dt.UTC),
        summary=fields.get("summary") or None,
        data=data,
    )


# Compare-and-act on a lock key in one step, so a lock taken over after expiry is not
# extended or released by its former holder.
_EXTEND_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_DELETE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisCache(CacheDefaults):
    """Package records in Redis, shared by every process that points at the same server."""

    def __init__(self, client: Any, prefix: str = DEFAULT_PREFIX, *, clustered: bool = False):
        self.client = client
        self.prefix = prefix
        self.clustered = clustered

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisCache:
        url = settings.str("db.url", "redis://localhost:6379/0") or ""
        prefix = settings.str("db.redis_prefix", DEFAULT_PREFIX) or DEFAULT_PREFIX
        clustered = settings.bool("db.clustered")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("db.url", f"expected a redis:// URL, got {url!r}")
        try:
            if clustered:
                client: Any = redis.RedisCluster.from_url(url)
            else:
                client = redis.Redis.from_url(url)
        except (ValueError, redis.RedisError) as exc:
            raise ConfigError("db.url", f"cannot open {url!r}: {exc}") from exc
        return cls(client, prefix, clustered=clustered)

    # -- keys --------------------------------------------------------------------------

    def _package_key(self, filename: str) -> str:
        return f"{self.prefix}package:{filename}"

    def _names_key(self) -> str:
        return f"{self.prefix}set"

    def _files_key(self, name: str) -> str:
        return f"{self.prefix}set:{name}"

    def _summary_key(self, name: str) -> str:
        return f"{self.prefix}summary:{name}"

    def _core_key(self, filename: str) -> str:
        return f"{self.prefix}core_metadata:{filename}"

    def _status_key(self, name: str) -> str:
        return f"{self.prefix}project_status:{name}"

    def _serial_key(self) -> str:
        return f"{self.prefix}serial"

    def _changes_key(self) -> str:
        """A sorted set of filenames scored by the serial of their last write (ours)."""
        return f"{self.prefix}changes"

    # -- reading -----------------------------------------------------------------------

    def fetch(self, filename: str) -> Package | None:
        return hash_to_package(self.client.hgetall(self._package_key(filename)))

    def _packages(self, filenames: Iterable[str]) -> list[Package]:
        """The records of ``filenames`` in one round trip."""
        names = list(filenames)
        if not names:
            return []
        batch = self.client.pipeline(transaction=False)
        for filename in names:
            batch.hgetall(self._package_key(filename))
        found = (hash_to_package(raw) for raw in batch.execute())
        return [p for p in found if p is not None]

    def _filenames(self, name: str) -> list[str]:
        return [_text(f) for f in self.client.smembers(self._files_key(name))]

    def all(self, name: str) -> list[Package]:
        from pypicloud.versions import newest_first

        return newest_first(self._packages(self._filenames(name)))

    def distinct(self) -> list[str]:
        return sorted(_text(n) for n in self.client.smembers(self._names_key()))

    def _all_filenames(self) -> list[str]:
        names = self.distinct()
        batch = self.client.pipeline(transaction=False)
        for name in names:
            batch.smembers(self._files_key(name))
        return [_text(f) for members in batch.execute() for f in members]

    def all_packages(self) -> list[Package]:
        return self._packages(self._all_filenames())

    def serial(self) -> int:
        return int(self.client.get(self._serial_key()) or 0)

    def core_metadata(self, filename: str) -> bytes | None:
        return self.client.get(self._core_key(filename))

    # -- writing -----------------------------------------------------------------------

    def _transact(self, write: Write, changed: Iterable[str] = ()) -> None:
        """Run ``write`` until its MULTI/EXEC commits with the serial unchanged since its reads.

        The ``changed`` filenames are noted with the serial this write moves to, so a rebuild
        running meanwhile keeps them (see reload_from_storage)."""
        if self.clustered:
            self._transact_clustered(write, changed)
            return
        while True:
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(self._serial_key())
                    queue = write()
                    base = int(pipe.get(self._serial_key()) or 0)
                    pipe.multi()
                    queue(pipe)
                    pipe.incr(self._serial_key())
                    self._queue_changes(pipe, changed, base + 1)
                    pipe.execute()
                    return
                except WatchError:
                    continue

    def _transact_clustered(self, write: Write, changed: Iterable[str] = ()) -> None:
        """A cluster has no MULTI/EXEC across slots: writers take turns under a lock key."""
        with self.client.lock(f"{self.prefix}lock", timeout=60, blocking_timeout=60):
            queue = write()
            base = self.serial()
            pipe = self.client.pipeline()
            queue(pipe)
            pipe.incr(self._serial_key())
            self._queue_changes(pipe, changed, base + 1)
            pipe.execute()

    def _queue_changes(self, pipe: Any, filenames: Iterable[str], serial: int) -> None:
        noted = {filename: serial for filename in filenames}
        if noted:
            pipe.zadd(self._changes_key(), noted)

    def _queue_delete(self, pipe: Any, *keys: str) -> None:
        """One DEL of many keys; a cluster's pipeline takes one key per DEL (keys of
        different slots live on different nodes)."""
        if self.clustered:
            for key in keys:
                pipe.delete(key)
        elif keys:
            pipe.delete(*keys)

    def _queue_summary(self, pipe: Any, name: str, files: list[Package]) -> None:
        """Keep the original's summary hash of ``name`` in step with its ``files``."""
        if not files:
            pipe.delete(self._summary_key(name))
            pipe.srem(self._names_key(), name)
            return
        [row] = summarize(files)
        pipe.hset(
            self._summary_key(name),
            mapping={
                "name": name,
                "summary": row.summary or "",
                "last_modified": repr(row.last_modified.timestamp()),
            },
        )
        pipe.sadd(self._names_key(), name)

    def _project_after(self, name: str, filename: str) -> list[Package]:
        """The project's records other than ``filename`` (read under WATCH of the serial)."""
        return [p for p in self._packages(self._filenames(name)) if p.filename != filename]

    def _put(self, package: Package, *, exclusive: bool) -> None:
        key = self._package_key(package.filename)

        def write() -> Callable[[Any], None]:
            old = self.fetch(package.filename)
            if old is not None and exclusive:
                raise AlreadyCached(package.filename)
            others = self._project_after(package.name, package.filename)
            old_others = (
                self._project_after(old.name, old.filename)
                if old is not None and old.name != package.name
                else None
            )

            def queue(pipe: Any) -> None:
                pipe.delete(key)
                pipe.hset(key, mapping=package_to_hash(package))
                pipe.sadd(self._files_key(package.name), package.filename)
                self._queue_summary(pipe, package.name, [*others, package])
                if old is not None and old_others is not None:
                    pipe.srem(self._files_key(old.name), old.filename)
                    self._queue_summary(pipe, old.name, old_others)

            return queue

        changed = [package.filename]
        self._transact(write, changed)

    def add(self, package: Package) -> None:
        self._put(package, exclusive=True)

    def save(self, package: Package) -> None:
        self._put(package, exclusive=False)

    def delete(self, package: Package) -> None:
        def write() -> Callable[[Any], None]:
            others = self._project_after(package.name, package.filename)

            def queue(pipe: Any) -> None:
                self._queue_delete(
                    pipe, self._package_key(package.filename), self._core_key(package.filename)
                )
                pipe.srem(self._files_key(package.name), package.filename)
                self._queue_summary(pipe, package.name, others)

            return queue

        self._transact(write, [package.filename])

    def save_core_metadata(self, filename: str, content: bytes) -> None:
        self.client.set(self._core_key(filename), content)  # a fill: no page changes

    def _lock_key(self, name: str) -> str:
        return f"{self.prefix}lock:{name}"

    def try_lock(self, name: str, owner: str, seconds: float) -> bool:
        """SET NX PX takes a free (or expired: Redis drops it) key; the holder extends."""
        ms = max(1, int(seconds * 1000))
        key = self._lock_key(name)
        if self.client.set(key, owner, nx=True, px=ms):
            return True
        return bool(self.client.eval(_EXTEND_IF_OWNER, 1, key, owner, ms))

    def unlock(self, name: str, owner: str) -> None:
        self.client.eval(_DELETE_IF_OWNER, 1, self._lock_key(name), owner)

    def save_state(self, name: str, value: str) -> None:
        self.client.set(f"{self.prefix}state:{name}", value)

    def state(self, name: str) -> str | None:
        found = self.client.get(f"{self.prefix}state:{name}")
        return None if found is None else _text(found)

    def project_status(self, name: str) -> str | None:
        found = self.client.get(self._status_key(name))
        return None if found is None else _text(found)

    def project_statuses(self, names: Iterable[str]) -> dict[str, str]:
        """One round trip of GETs (a pipeline, not MGET: a cluster's keys span slots)."""
        wanted = list(names)
        batch = self.client.pipeline(transaction=False)
        for name in wanted:
            batch.get(self._status_key(name))
        found = zip(wanted, batch.execute() if wanted else [], strict=True)
        return {name: _text(value) for name, value in found if value is not None}

    def save_project_status(self, name: str, value: str | None) -> None:
        key = self._status_key(name)

        def write() -> Callable[[Any], None]:
            def queue(pipe: Any) -> None:
                if value is None:
                    pipe.delete(key)
                else:
                    pipe.set(key, value)

            return queue

        self._transact(write)

    def reload_from_storage(self, packages: Iterable[Package], graceful: bool = False) -> int:
        """One MULTI/EXEC: readers see the old records until it runs (graceful or not).

        Files any process wrote after the listing began keep their current record (or stay
        deleted): the listing may have passed them already."""
        began = self.serial()  # before the first file is listed
        listed = {p.filename: p for p in packages}

        def write() -> Callable[[Any], None]:
            names = self.distinct()
            known = self._all_filenames()
            since = f"({began}"
            changed = {
                _text(f) for f in self.client.zrangebyscore(self._changes_key(), since, "+inf")
            }
            stored = {f: p for f, p in listed.items() if f not in changed}
            stored.update((p.filename, p) for p in self._packages(changed))
            by_name: dict[str, list[Package]] = {}
            for package in stored.values():
                by_name.setdefault(package.name, []).append(package)

            def queue(pipe: Any) -> None:
                doomed = [self._package_key(f) for f in known]
                doomed += [self._core_key(f) for f in known if f not in stored]
                doomed += [self._files_key(n) for n in names]
                doomed += [self._summary_key(n) for n in names]
                doomed.append(self._names_key())
                self._queue_delete(pipe, *doomed)
                for name, files in by_name.items():
                    for package in files:
                        pipe.hset(
                            self._package_key(package.filename), mapping=package_to_hash(package)
                        )
                    pipe.sadd(self._files_key(name), *(p.filename for p in files))
                    self._queue_summary(pipe, name, files)
                # What was written before the listing began, storage has: forget it.
                pipe.zremrangebyscore(self._changes_key(), "-inf", began)
                counted.append(len(stored))

            return queue

        counted: list[int] = []
        self._transact(write)
        return counted[-1]


if TYPE_CHECKING:
    _conforms: type[Cache] = RedisCache  # mypy checks the class against the Protocol here
