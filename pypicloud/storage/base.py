"""The Storage interface: where distribution files and their index facts live.

Storage is the system of record. The cache can always be rebuilt from ``list()``, so every
fact the index needs travels with the file (a sidecar or object metadata).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol, runtime_checkable

from pypicloud.models import Package
from pypicloud.settings import Settings


class FileExists(Exception):
    """The filename is already stored and overwriting was not asked for."""


class PackageNotStored(Exception):
    """The file a cache record points at is missing from storage."""


@runtime_checkable
class Storage(Protocol):
    """What every storage backend provides. Implementations must be thread-safe."""

    #: True when downloads should be answered with a redirect to ``download_url``.
    redirect_urls: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        """Build from the ``storage.*`` settings; raise ConfigError naming a bad key."""
        ...

    def list(self, known: Mapping[str, Package] | None = None) -> Iterator[Package]:
        """Every stored package, with the facts stored beside it.

        ``known`` holds the records the cache already has, by filename. A backend whose
        listing does not carry the facts (S3) reuses a known record when the object is
        unchanged, rather than asking for its facts again; others may ignore it.
        """
        ...

    def upload(self, package: Package, data: BinaryIO, *, overwrite: bool = False) -> Package:
        """Store ``data`` as ``package`` atomically: readers see all of it or nothing.

        Return the record of what was stored: a copy of ``package`` whose ``last_modified``
        is the store's own time, the one ``list()`` reports later (so a rebuilt cache agrees
        with the first one). ``package`` itself is left unchanged.

        Raise FileExists if the filename is stored already and ``overwrite`` is false; of two
        concurrent uploads of one filename exactly one succeeds.
        """
        ...

    def update_metadata(self, package: Package) -> None:
        """Rewrite the stored facts of an existing file (yank, unyank)."""
        ...

    def delete(self, package: Package) -> None:
        """Remove the file and its facts; missing files are not an error."""
        ...

    def open(self, package: Package) -> AbstractContextManager[BinaryIO]:
        """A readable stream of the file's bytes; raise PackageNotStored when missing."""
        ...

    def download_url(self, package: Package) -> str | None:
        """A URL clients may fetch directly (signed, expiring), or None to stream via us."""
        ...

    def check_health(self) -> tuple[bool, str]:
        """(healthy, message) for the /health endpoint."""
        ...


@runtime_checkable
class ProvenanceStore(Protocol):
    """Storage that keeps a file's provenance object (PEP 740) beside it.

    A sidecar (a file or object of its own, named so the original pypicloud and our own
    ``list()`` pass it by): object metadata is too small for attestations. ``delete()``
    of the package removes it too.
    """

    def save_provenance(self, package: Package, document: bytes) -> None:
        """Store (or replace) the provenance of a stored file."""
        ...

    def load_provenance(self, package: Package) -> bytes | None:
        """The stored provenance, or None when the file has none."""
        ...

    def delete_provenance(self, package: Package) -> None:
        """Remove the provenance; missing is not an error."""
        ...


def remaining_size(data: BinaryIO) -> int | None:
    """Bytes left in a seekable stream, else None: lets an SDK send a small file at once."""
    try:
        position = data.tell()
        end = data.seek(0, 2)
        data.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end - position


def stored_copy(package: Package, last_modified: dt.datetime) -> Package:
    """What ``upload`` returns: a copy with the store's time, sharing nothing mutable."""
    return dataclasses.replace(package, last_modified=last_modified, data=dict(package.data))
