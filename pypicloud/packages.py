"""PackageService: the only code that changes packages, and where the invariants live.

An upload is validated completely on a private temporary copy before anything is stored;
storage is written first (atomically, exclusively), then the cache, so the index never shows
a file that is not fully stored, and of two concurrent uploads of one filename exactly one
wins.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import tempfile
from collections.abc import Mapping
from typing import IO, Any, BinaryIO, cast

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypicloud.cache import Cache
from pypicloud.dists import (
    InvalidDistribution,
    is_valid_project_name,
    parse_core_metadata,
    parse_filename,
    read_core_metadata,
    versions_equal,
)
from pypicloud.models import Package, utcnow
from pypicloud.settings import Settings
from pypicloud.storage import FileExists, PackageNotStored, Storage

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
SPOOL_LIMIT = 8 * 1024 * 1024


class UploadRefused(Exception):
    """An upload failed validation; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclasses.dataclass(frozen=True)
class PackageOptions:
    allow_overwrite: bool = False
    allow_delete: bool = True
    max_upload_size: int = 100 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> PackageOptions:
        settings.bool("pypi.calculate_package_hashes", True)  # always done; accepted
        return cls(
            allow_overwrite=settings.bool("pypi.allow_overwrite", False),
            allow_delete=settings.bool("pypi.allow_delete", True),
            max_upload_size=settings.size("pypi.max_upload_size", cls.max_upload_size) or 0,
        )


@dataclasses.dataclass
class UploadResult:
    package: Package
    created: bool  # False when an identical file was already there


class HashingSpool:
    """Copies a stream into a temporary file, hashing it and enforcing a size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.file = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT))  # noqa: SIM115 (closed by close())
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.blake2 = hashlib.blake2b(digest_size=32)
        self.size = 0

    def fill(self, source: BinaryIO) -> None:
        while chunk := source.read(CHUNK):
            self.size += len(chunk)
            if self.size > self.limit:
                raise UploadRefused(f"File too large: the limit is {self.limit} bytes", status=413)
            self.file.write(chunk)
            self.sha256.update(chunk)
            self.md5.update(chunk)
            self.blake2.update(chunk)
        self.file.seek(0)

    def close(self) -> None:
        self.file.close()


class PackageService:
    """The use cases on packages; one instance per process, shared by all threads."""

    def __init__(self, storage: Storage, cache: Cache, options: PackageOptions) -> None:
        self.storage = storage
        self.cache = cache
        self.options = options

    # -- reading -----------------------------------------------------------------------

    def projects(self) -> list[str]:
        return self.cache.distinct()

    def project_set(self) -> frozenset[str]:
        return frozenset(self.cache.distinct())

    def files(self, name: str) -> list[Package]:
        return self.cache.all(canonicalize_name(name))

    def fetch(self, name: str, filename: str) -> Package | None:
        package = self.cache.fetch(filename)
        if package is None or package.name != canonicalize_name(name):
            return None
        return package

    def core_metadata(self, package: Package) -> bytes | None:
        """The file's METADATA/PKG-INFO, from the cache or, once, from the file itself."""
        content = self.cache.core_metadata(package.filename)
        if content is not None:
            return content
        try:
            with self.storage.open(package) as stream, _seekable(stream) as seekable:
                content = read_core_metadata(seekable, package.filename)
        except (PackageNotStored, InvalidDistribution) as exc:
            log.warning("no core metadata for %s: %s", package.filename, exc)
            return None
        self.cache.save_core_metadata(package.filename, content)
        return content

    # -- writing -----------------------------------------------------------------------

    def upload(
        self,
        form: Mapping[str, Any],
        content: BinaryIO,
        filename: str,
        uploader: str | None,
    ) -> UploadResult:
        """Validate and store one distribution file, as PyPI's upload endpoint would."""
        name, version = _check_form_identity(form)
        dist = _check_filename(filename, name, version, form.get("filetype"))
        spool = HashingSpool(self.options.max_upload_size)
        try:
            spool.fill(content)
            if spool.size == 0:
                raise UploadRefused("Invalid distribution file: the file is empty")
            _check_digests(form, spool)
            try:
                raw_metadata = read_core_metadata(spool.file, filename)
                core = parse_core_metadata(raw_metadata)
            except InvalidDistribution as exc:
                raise UploadRefused(f"Invalid distribution file: {exc}") from None
            if canonicalize_name(core.name) != dist.name or not versions_equal(
                core.version, dist.version
            ):
                raise UploadRefused(
                    f"Metadata in {filename} says {core.name} {core.version}, "
                    f"which does not match the filename"
                )
            sha256 = spool.sha256.hexdigest()
            existing = self.cache.fetch(filename)
            if existing is not None and not self.options.allow_overwrite:
                if existing.sha256 == sha256:
                    return UploadResult(existing, created=False)
                raise UploadRefused("File already exists", status=409)
            data: dict[str, Any] = {
                "hash_sha256": sha256,
                "hash_md5": spool.md5.hexdigest(),
                "size": spool.size,
                "core_metadata_sha256": hashlib.sha256(raw_metadata).hexdigest(),
            }
            if core.requires_python:
                data["requires_python"] = core.requires_python
            if uploader:
                data["uploader"] = uploader
            package = Package(
                name=dist.name,
                version=dist.version,
                filename=filename,
                last_modified=utcnow(),
                summary=core.summary or _text(form.get("summary")),
                data=data,
            )
            spool.file.seek(0)
            try:
                package = self.storage.upload(
                    package, spool.file, overwrite=self.options.allow_overwrite
                )
            except FileExists:
                winner = self.cache.fetch(filename)
                if winner is not None and winner.sha256 == sha256:
                    return UploadResult(winner, created=False)
                raise UploadRefused("File already exists", status=409) from None
        finally:
            spool.close()
        try:
            self.cache.save_core_metadata(filename, raw_metadata)
            self.cache.save(package)
        except Exception:
            log.exception("cache write failed for %s; removing the stored file", filename)
            self.storage.delete(package)
            raise
        log.info("uploaded %s by %s", filename, uploader or "anonymous")
        return UploadResult(package, created=True)

    def delete(self, package: Package) -> None:
        self.storage.delete(package)
        self.cache.delete(package)

    def set_yanked(self, package: Package, yanked: bool, reason: str = "") -> Package:
        package.data["yanked"] = yanked
        if yanked and reason:
            package.data["yanked_reason"] = reason
        else:
            package.data.pop("yanked_reason", None)
        if not yanked:
            package.data.pop("yanked", None)
        self.storage.update_metadata(package)
        self.cache.save(package)
        return package

    def reload_from_storage(self) -> int:
        known = {p.filename: p for p in self.cache.all_packages()}
        count = self.cache.reload_from_storage(self.storage.list(known))
        log.info("rebuilt the package database from storage: %d files", count)
        return count


class _seekable:
    """Context manager giving a seekable copy of a stream (zip needs to seek)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.copy: IO[bytes] | None = None

    def __enter__(self) -> BinaryIO:
        if _is_seekable(self.stream):
            return self.stream
        self.copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT)
        while chunk := self.stream.read(CHUNK):
            self.copy.write(chunk)
        self.copy.seek(0)
        return self.copy  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        if self.copy is not None:
            self.copy.close()


def _is_seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError):
        return False


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bytes) or not hasattr(value, "strip"):
        return None
    return value.strip() or None


def _check_form_identity(form: Mapping[str, Any]) -> tuple[str, str]:
    name = _text(form.get("name"))
    version = _text(form.get("version"))
    if not name:
        raise UploadRefused("Invalid value for name: this field is required")
    if not is_valid_project_name(name):
        raise UploadRefused(
            f"Invalid value for name: {name!r} is not a valid project name (PEP 508)"
        )
    if not version:
        raise UploadRefused("Invalid value for version: this field is required")
    try:
        Version(version)
    except InvalidVersion:
        raise UploadRefused(
            f"Invalid value for version: {version!r} is not a valid PEP 440 version"
        ) from None
    return name, version


def _check_filename(filename: str, name: str, version: str, filetype: Any) -> Any:
    try:
        dist = parse_filename(filename)
    except InvalidDistribution as exc:
        raise UploadRefused(f"Invalid distribution filename: {exc}") from None
    if dist.name != canonicalize_name(name):
        raise UploadRefused(
            f"Start filename for {name!r} with {canonicalize_name(name).replace('-', '_')!r}"
            f" (the filename {filename!r} names another project)"
        )
    if not versions_equal(dist.version, version):
        raise UploadRefused(
            f"Version in filename {filename!r} does not match the version field {version!r}"
        )
    filetype = _text(filetype)
    if filetype and filetype != dist.kind:
        raise UploadRefused(f"Invalid value for filetype: {filename} is not a {filetype}")
    return dist


def _check_digests(form: Mapping[str, Any], spool: HashingSpool) -> None:
    for field, digest in (
        ("sha256_digest", spool.sha256),
        ("md5_digest", spool.md5),
        ("blake2_256_digest", spool.blake2),
    ):
        sent = _text(form.get(field))
        if sent and sent.lower() != digest.hexdigest():
            raise UploadRefused(
                f"The digest supplied does not match a digest calculated from the uploaded "
                f"file ({field})"
            )
