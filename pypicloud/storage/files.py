"""File storage in the original pypicloud layout: ``<dir>/<name>/<version>/<filename>``.

Each file has a ``<filename>.meta`` JSON sidecar with its index facts. Writes go to a
temporary file in ``<dir>/.incoming/`` (hidden from listings, and on the same file system
so the final step stays atomic), then appear with one link (new files) or rename
(overwrites): readers never see a partial file and concurrent uploads of one filename leave
exactly one. Temporaries a dead process left behind are removed at start-up and by
``list()`` (see ``temporaries``); a crash never leaves one beside the packages.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from pypicloud.dists import safe_path_component
from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.base import FileExists, PackageNotStored, stored_copy
from pypicloud.storage.temporaries import (
    remove_abandoned,
    remove_if_original_leftover,
    temporary_name,
)

log = logging.getLogger(__name__)
META_SUFFIX = ".meta"
#: The provenance sidecar: ``<filename>.provenance.meta``. The original pypicloud lists
#: every file of a version directory but those ending in ``.meta`` as packages, so the
#: sidecar must end in ``.meta`` too (and our own listing skips ``.meta`` already).
PROVENANCE_SUFFIX = ".provenance" + META_SUFFIX
CHUNK = 64 * 1024  # see pypicloud/uploads.py: pieces glibc gives back
INCOMING = ".incoming"
#: Attempts at the final link or rename: one that finds the directories missing, then
#: two more should a concurrent delete() remove them again each time.
PLACE_ATTEMPTS = 4
#: Checked paths remembered by FileStorage._path_of (a bound: about 200 bytes each).
MAX_PATHS_KEPT = 8192


class FileStorage:
    """Packages on a local (or network) file system."""

    redirect_urls = False
    signs_links = False  # download_url() is always None: index pages link to us

    def __init__(
        self, directory: str | os.PathLike[str], accel_location: str | None = None
    ) -> None:
        self.directory = Path(directory).resolve()
        #: nginx's ``internal`` location aliased to the directory (``storage.accel_redirect``):
        #: downloads then answer ``X-Accel-Redirect`` and nginx sends the bytes.
        self.accel_location = accel_location.rstrip("/") + "/" if accel_location else None
        self.directory.mkdir(parents=True, exist_ok=True)
        # Made by the first upload, so a read-only directory still serves (and /health
        # says it is not writable) as it always did.
        self.incoming = self.directory / INCOMING
        remove_abandoned(self.incoming)
        #: Paths already checked, by (name, version, filename): checking every component
        #: again costs as much as reading a small file.
        self._paths: dict[tuple[str, str, str], str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStorage:
        directory = settings.str("storage.dir", required=True)
        settings.mark_read("storage.redirect_urls")  # meaningless for files; accepted
        accel = settings.str("storage.accel_redirect")
        if accel is not None and not accel.startswith("/"):
            raise ConfigError(
                "storage.accel_redirect", f"expected an nginx location (/...), got {accel!r}"
            )
        assert directory is not None
        try:
            return cls(os.path.expanduser(directory), accel_location=accel)
        except OSError as exc:
            raise ConfigError("storage.dir", f"cannot use {directory!r}: {exc}") from exc

    # -- paths -------------------------------------------------------------------------

    def path_for(self, package: Package) -> Path:
        """The file's path; every component is checked so no name escapes the directory."""
        return Path(self._path_of(package))

    def _path_of(self, package: Package) -> str:
        """``path_for`` as a string: every download asks, and pathlib costs several times more."""
        key = (package.name, package.version, package.filename)
        path = self._paths.get(key)
        if path is not None:
            return path
        parts = [safe_path_component(p) for p in key]
        root = str(self.directory)
        path = os.path.join(root, *parts)
        if not path.startswith(root + os.sep):
            raise ValueError(f"path escapes storage: {path}")
        if len(self._paths) >= MAX_PATHS_KEPT:
            self._paths.clear()
        self._paths[key] = path
        return path

    # -- reading -----------------------------------------------------------------------

    def list(self, known: Mapping[str, Package] | None = None) -> Iterator[Package]:
        """Every package; on the way, remove what crashed uploads left (the rebuild calls this)."""
        remove_abandoned(self.incoming)
        now = time.time()
        for name_dir in sorted(self.directory.iterdir()):
            if not name_dir.is_dir() or name_dir.name.startswith("."):
                continue
            for version_dir in sorted(name_dir.iterdir()):
                if not version_dir.is_dir() or version_dir.name.startswith("."):
                    continue
                for path in sorted(version_dir.iterdir()):
                    if path.name.startswith("."):
                        remove_if_original_leftover(path, now)
                        continue
                    if path.name.endswith(META_SUFFIX):
                        continue
                    if not path.is_file():
                        continue
                    yield self._package_at(name_dir.name, version_dir.name, path)

    def _package_at(self, name: str, version: str, path: Path) -> Package:
        stat = path.stat()
        meta = self._read_meta(path)
        meta.setdefault("size", stat.st_size)
        modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        return Package.from_stored_metadata(name, version, path.name, modified, meta)

    @staticmethod
    def _read_meta(path: Path) -> dict:
        try:
            with open(str(path) + META_SUFFIX, encoding="utf-8") as handle:
                meta = json.load(handle)
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def open(self, package: Package) -> AbstractContextManager[BinaryIO]:
        try:
            return open(self._path_of(package), "rb")
        except FileNotFoundError:
            raise PackageNotStored(package.filename) from None

    def read_small(self, package: Package, limit: int) -> bytes | None:
        """The whole file if it holds at most ``limit`` bytes, else None. Four system calls
        and no file object: ``open()`` with its buffered reader costs twice as much, and a
        small download is little else."""
        try:
            fd = os.open(self._path_of(package), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise PackageNotStored(package.filename) from None
        try:
            size = os.fstat(fd).st_size
            if size > limit:
                return None
            body = os.read(fd, size)
            while len(body) < size:  # a short read: only special files do that, but be sure
                more = os.read(fd, size - len(body))
                if not more:
                    break
                body += more
            return body
        finally:
            os.close(fd)

    def local_path(self, package: Package) -> Path:
        """Where the file is, for servers that can hand the path to the web server."""
        return self.path_for(package)

    def download_url(self, package: Package) -> str | None:
        return None

    def accel_uri(self, package: Package) -> str | None:
        """The URI nginx serves the file at (``X-Accel-Redirect``), or None when not set."""
        if self.accel_location is None:
            return None
        relative = self.path_for(package).relative_to(self.directory)
        return self.accel_location + quote(relative.as_posix())

    # -- writing -----------------------------------------------------------------------

    def upload(self, package: Package, data: BinaryIO, *, overwrite: bool = False) -> Package:
        path = self.path_for(package)
        temp, handle = self._temporary()
        try:
            with handle:
                shutil.copyfileobj(data, handle, CHUNK)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                # link: atomic and exclusive, one of two racers wins; replace: atomic.
                self._place(temp, path, os.replace if overwrite else os.link)
            except FileExistsError:
                raise FileExists(package.filename) from None
            # Only the winner writes the sidecar, so a loser never mixes its facts in.
            self._write_meta(path, package)
        finally:
            temp.unlink(missing_ok=True)
        return stored_copy(package, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC))

    def _temporary(self) -> tuple[Path, BinaryIO]:
        """A new temporary, open for writing, named so a later process can tell whether we
        are alive. Its directory is made when missing, not checked for on every upload."""
        path = self.incoming / temporary_name()
        try:
            return path, open(path, "xb")  # noqa: SIM115 (the caller closes it)
        except FileNotFoundError:
            self.incoming.mkdir(exist_ok=True)
            return path, open(path, "xb")  # noqa: SIM115

    @staticmethod
    def _place(temp: Path, path: Path, move: Callable[[Path, Path], None]) -> None:
        """Give ``temp`` its final name with ``move`` (link or replace).

        The directories are made when the move finds them missing (first, or again
        should a concurrent ``delete()`` of the last file in them remove them in between).
        """
        for attempt in range(1, PLACE_ATTEMPTS + 1):
            try:
                move(temp, path)
                return
            except FileNotFoundError:
                if attempt == PLACE_ATTEMPTS or not temp.exists():
                    raise
            path.parent.mkdir(parents=True, exist_ok=True)

    def update_metadata(self, package: Package) -> None:
        path = self.path_for(package)
        if not path.exists():
            raise PackageNotStored(package.filename)
        self._write_meta(path, package)

    def _write_meta(self, path: Path, package: Package) -> None:
        self._write_sidecar(path, META_SUFFIX, json.dumps(package.stored_metadata()).encode())

    def _write_sidecar(self, path: Path, suffix: str, content: bytes) -> None:
        """Replace a sidecar atomically; the file's directory must still exist."""
        temp, handle = self._temporary()
        try:
            with handle:
                handle.write(content)
            try:
                os.replace(temp, str(path) + suffix)
            except FileNotFoundError:  # deleted meanwhile: no sidecar without its file
                raise PackageNotStored(path.name) from None
        finally:
            temp.unlink(missing_ok=True)

    # -- provenance (PEP 740) ----------------------------------------------------------

    def save_provenance(self, package: Package, document: bytes) -> None:
        path = self.path_for(package)
        if not path.exists():
            raise PackageNotStored(package.filename)
        self._write_sidecar(path, PROVENANCE_SUFFIX, document)

    def load_provenance(self, package: Package) -> bytes | None:
        try:
            return Path(self._path_of(package) + PROVENANCE_SUFFIX).read_bytes()
        except FileNotFoundError:
            return None

    def delete_provenance(self, package: Package) -> None:
        Path(self._path_of(package) + PROVENANCE_SUFFIX).unlink(missing_ok=True)

    def delete(self, package: Package) -> None:
        path = self.path_for(package)
        for suffix in ("", META_SUFFIX, PROVENANCE_SUFFIX):
            Path(str(path) + suffix).unlink(missing_ok=True)
        for directory in (path.parent, path.parent.parent):
            try:
                directory.rmdir()  # only when empty
            except OSError:
                break

    def check_health(self) -> tuple[bool, str]:
        if os.access(self.directory, os.W_OK):
            return True, ""
        return False, f"{self.directory} is not writable"
