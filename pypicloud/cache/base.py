"""The Cache interface: the package database every index request reads.

Everything in it can be rebuilt from storage; ``serial()`` changes on every write so each
server process can cache rendered pages and answer conditional requests coherently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from pypicloud.models import Package
from pypicloud.settings import Settings


class AlreadyCached(Exception):
    """``add`` found a record for the filename already."""


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

    def summary(self) -> list[dict]:
        """One row per project: name, summary, last_modified, stable version."""
        ...

    def add(self, package: Package) -> None:
        """Insert a new record; raise AlreadyCached if the filename has one."""
        ...

    def save(self, package: Package) -> None:
        """Insert or replace a record."""
        ...

    def delete(self, package: Package) -> None: ...

    def clear_all(self) -> None: ...

    def reload_from_storage(self, packages: Iterable[Package]) -> int:
        """Replace every record with ``packages`` in one go; return how many."""
        ...

    def is_empty(self) -> bool: ...

    def serial(self) -> int:
        """A number that changes whenever any record changes."""
        ...

    def core_metadata(self, filename: str) -> bytes | None:
        """The METADATA/PKG-INFO bytes stored for a file, if known."""
        ...

    def save_core_metadata(self, filename: str, content: bytes) -> None: ...

    def check_health(self) -> tuple[bool, str]: ...
