"""The Cache interface: the package database every index request reads.

Everything in it can be rebuilt from storage; ``serial()`` changes on every write so each
server process can cache rendered pages and answer conditional requests coherently.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from pypicloud.models import Package
from pypicloud.settings import Settings
from pypicloud.versions import newest_first


class AlreadyCached(Exception):
    """``add`` found a record for the filename already."""


@dataclasses.dataclass(frozen=True)
class ProjectSummary:
    """One project in the listing: the newest file's version and summary, the latest upload."""

    name: str
    summary: str | None
    stable: str
    last_modified: dt.datetime


@runtime_checkable
class Cache(Protocol):
    @classmethod
    def from_settings(cls, settings: Settings) -> Cache: ...

    def fetch(self, filename: str) -> Package | None:
        """The record of one file, or None."""
        ...

    def all(self, name: str) -> list[Package]:
        """Every file of a project (normalized name), newest version first."""
        ...

    def all_packages(self) -> list[Package]:
        """Every record (for a rebuild that reuses what storage did not change)."""
        ...

    def distinct(self) -> list[str]:
        """Every project name, sorted."""
        ...

    def summary(self) -> list[ProjectSummary]:
        """One row per project, sorted by name."""
        ...

    def add(self, package: Package) -> None:
        """Insert a new record; raise AlreadyCached if the filename has one."""
        ...

    def save(self, package: Package) -> None:
        """Insert or replace a record."""
        ...

    def delete(self, package: Package) -> None:
        """Drop a record and its core metadata; an unknown filename is not an error."""
        ...

    def clear_all(self) -> None: ...

    def reload_from_storage(self, packages: Iterable[Package], graceful: bool = False) -> int:
        """Replace every record with ``packages`` in one go; return how many.

        Core metadata of a file no longer among ``packages`` goes too. ``graceful``
        (``db.graceful_reload``) asks a backend whose reload is not one transaction to diff
        instead: add what is missing, drop what is gone, keep the rest, never look empty.
        """
        ...

    def is_empty(self) -> bool: ...

    def serial(self) -> int:
        """A number that changes whenever any record changes and never goes backwards."""
        ...

    def core_metadata(self, filename: str) -> bytes | None:
        """The METADATA/PKG-INFO bytes stored for a file, if known."""
        ...

    def save_core_metadata(self, filename: str, content: bytes) -> None:
        """Remember a file's core metadata (a fill, not a change of its record)."""
        ...

    def save_uploaded(self, package: Package, core_metadata: bytes) -> None:
        """Record a new upload: its core metadata, then the record that announces it."""
        ...

    def check_health(self) -> tuple[bool, str]: ...

    def try_lock(self, name: str, owner: str, seconds: float) -> bool:
        """Take (or, for the same owner, extend) a lock shared by every process on this
        database; False while another owner holds it. A lock not released expires after
        ``seconds``, so a crashed holder never blocks the deployment for good."""
        ...

    def unlock(self, name: str, owner: str) -> None:
        """Release a lock if ``owner`` still holds it."""
        ...

    def save_state(self, name: str, value: str) -> None:
        """Keep a small text (the rebuild's progress) where every process can read it."""
        ...

    def state(self, name: str) -> str | None:
        """What ``save_state`` last kept under ``name`` (by any process), or None."""
        ...

    def project_status(self, name: str) -> str | None:
        """The status text kept for a project (see pypicloud.status), or None: active."""
        ...

    def save_project_status(self, name: str, value: str | None) -> None:
        """Keep (None: drop) a project's status text, moving the serial. Statuses are not
        in storage: a rebuild or ``clear_all`` replaces records and leaves them be."""
        ...

    def project_statuses(self, names: Iterable[str]) -> dict[str, str]:
        """The status texts kept for ``names``, only those that have one, in as few round
        trips as the backend allows (the home page's search asks for every project)."""
        ...


def summarize(packages: Iterable[Package]) -> list[ProjectSummary]:
    """The ``summary()`` rows of a set of records, by name."""
    by_name: dict[str, list[Package]] = {}
    for package in packages:
        by_name.setdefault(package.name, []).append(package)
    rows = []
    for name in sorted(by_name):
        files = newest_first(by_name[name])
        rows.append(
            ProjectSummary(
                name=name,
                summary=files[0].summary,
                stable=files[0].version,
                last_modified=max(p.last_modified for p in files),
            )
        )
    return rows


_local_locks: dict[tuple[int, str], tuple[str, float]] = {}
_local_state: dict[tuple[int, str], str] = {}
_local_locks_guard = threading.Lock()


class CacheDefaults(abc.ABC):
    """What every backend can derive from its primitives, so a new backend writes only those.

    A backend overrides a method here only when it has a faster way (SQL's summary query).
    """

    @abc.abstractmethod
    def all_packages(self) -> list[Package]: ...

    @abc.abstractmethod
    def distinct(self) -> list[str]: ...

    @abc.abstractmethod
    def reload_from_storage(self, packages: Iterable[Package], graceful: bool = False) -> int: ...

    @abc.abstractmethod
    def serial(self) -> int: ...

    @abc.abstractmethod
    def save(self, package: Package) -> None: ...

    @abc.abstractmethod
    def save_core_metadata(self, filename: str, content: bytes) -> None: ...

    @abc.abstractmethod
    def project_status(self, name: str) -> str | None: ...

    def summary(self) -> list[ProjectSummary]:
        return summarize(self.all_packages())

    def is_empty(self) -> bool:
        return not self.distinct()

    def save_uploaded(self, package: Package, core_metadata: bytes) -> None:
        self.save_core_metadata(package.filename, core_metadata)
        self.save(package)

    def clear_all(self) -> None:
        self.reload_from_storage([])

    def try_lock(self, name: str, owner: str, seconds: float) -> bool:
        """In-process fallback for a backend with no shared lock: exclusive per process only."""
        now = time.monotonic()
        with _local_locks_guard:
            held = _local_locks.get((id(self), name))
            if held is not None and held[0] != owner and held[1] > now:
                return False
            _local_locks[(id(self), name)] = (owner, now + seconds)
        return True

    def unlock(self, name: str, owner: str) -> None:
        with _local_locks_guard:
            if _local_locks.get((id(self), name), ("",))[0] == owner:
                del _local_locks[(id(self), name)]

    def save_state(self, name: str, value: str) -> None:
        """In-process fallback for a backend with nowhere shared to keep it."""
        with _local_locks_guard:
            _local_state[(id(self), name)] = value

    def state(self, name: str) -> str | None:
        with _local_locks_guard:
            return _local_state.get((id(self), name))

    def project_statuses(self, names: Iterable[str]) -> dict[str, str]:
        """One read per name, for a backend with no batched read."""
        found = {name: self.project_status(name) for name in names}
        return {name: value for name, value in found.items() if value is not None}

    def check_health(self) -> tuple[bool, str]:
        """Healthy when the serial can be read: it is one round trip on every backend."""
        try:
            self.serial()
        except Exception as exc:  # any failure of the backend's client means unhealthy
            return False, str(exc) or type(exc).__name__
        return True, ""
