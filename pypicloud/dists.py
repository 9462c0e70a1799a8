"""Distribution files: names, filenames and the core metadata inside them."""

from __future__ import annotations

import dataclasses
import os
import re
import tarfile
import zipfile
from typing import IO, BinaryIO

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

# What a distribution filename may contain: enough for every valid wheel and sdist name,
# and nothing that needs quoting in a URL, a header or a shell.
FILENAME_CHARS = re.compile(r"^[A-Za-z0-9._+!-]+$")
PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
MAX_METADATA_BYTES = 5 * 1024 * 1024
# How far into a compressed sdist we inflate looking for PKG-INFO: source tarballs inflate
# a few times over, a gzip bomb a thousand; past this the upload is refused, not expanded.
MAX_INFLATE_RATIO = 50
MIN_INFLATE_BYTES = 64 * 1024 * 1024
# Every stored name must fit one path component (255 bytes on common file systems) with room
# for the ".meta" sidecar suffix, and an object key (S3: 1,024 bytes) with its prefixes.
MAX_FILENAME_LENGTH = 240
MAX_NAME_LENGTH = 200
MAX_VERSION_LENGTH = 100
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")


class InvalidDistribution(ValueError):
    """A filename or archive is not a distribution we accept; the message says why."""


@dataclasses.dataclass(frozen=True)
class DistFilename:
    name: str  # normalized
    version: str  # as written in the filename
    kind: str  # "bdist_wheel" or "sdist"


def is_valid_project_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and bool(PROJECT_NAME.match(name))


_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f/\\]")  # control characters and separators


def safe_path_component(part: str) -> str:
    """Refuse anything that could step out of a directory or hide from listings."""
    if not part or part in (".", "..") or part.startswith(".") or _UNSAFE_CHARACTERS.search(part):
        raise InvalidDistribution(f"unsafe path component: {part!r}")
    return part


def parse_filename(filename: str) -> DistFilename:
    """Parse a wheel or sdist filename (PEP 427/491, PEP 625 and legacy sdists)."""
    if len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidDistribution(
            f"filename too long: {len(filename)} characters, at most {MAX_FILENAME_LENGTH}"
        )
    safe_path_component(filename)
    if not FILENAME_CHARS.match(filename):
        raise InvalidDistribution(f"invalid characters in filename {filename!r}")
    if filename.endswith(".whl"):
        try:
            name, version, _build, _tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise InvalidDistribution(f"invalid wheel filename: {exc}") from None
        return DistFilename(canonicalize_name(name), str(version), "bdist_wheel")
    if filename.endswith(".tar.gz") or filename.endswith(".zip"):
        try:
            name, version = parse_sdist_filename(filename)
        except InvalidSdistFilename:
            return _parse_legacy_sdist(filename)
        return DistFilename(canonicalize_name(name), str(version), "sdist")
    raise InvalidDistribution(
        f"invalid distribution filename {filename!r}: expected a .whl, .tar.gz or .zip file"
    )


def _parse_legacy_sdist(filename: str) -> DistFilename:
    """Older sdists may put dashes in the name: split at the last dash before a version."""
    stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
    for index in [i for i, ch in enumerate(stem) if ch == "-"][::-1]:
        name, version = stem[:index], stem[index + 1 :]
        try:
            Version(version)
        except InvalidVersion:
            continue
        if is_valid_project_name(name):
            return DistFilename(canonicalize_name(name), version, "sdist")
    raise InvalidDistribution(f"invalid sdist filename {filename!r}")


def versions_equal(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def read_core_metadata(path_or_file: str | BinaryIO, filename: str) -> bytes:
    """The METADATA (wheel) or PKG-INFO (sdist) bytes of an archive.

    Raises InvalidDistribution when the archive does not open or holds no metadata file.
    """
    try:
        if filename.endswith(".whl"):
            return _wheel_metadata(path_or_file, filename)
        if filename.endswith(".zip"):
            return _zip_sdist_metadata(path_or_file)
        return _tar_sdist_metadata(path_or_file)
    except InvalidDistribution:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidDistribution(f"{filename} is not a valid archive: {exc}") from None


def _bounded_read(handle: IO[bytes], what: str) -> bytes:
    data = handle.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise InvalidDistribution(f"{what} is larger than {MAX_METADATA_BYTES} bytes")
    return data


def _wheel_metadata(source: str | BinaryIO, filename: str) -> bytes:
    with zipfile.ZipFile(source) as archive:
        candidates = [
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if len(candidates) != 1:
            raise InvalidDistribution(f"{filename} has no single .dist-info/METADATA file")
        with archive.open(candidates[0]) as handle:
            return _bounded_read(handle, candidates[0])


def _zip_sdist_metadata(source: str | BinaryIO) -> bytes:
    with zipfile.ZipFile(source) as archive:
        candidates = sorted(
            (n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")),
        )
        if not candidates:
            raise InvalidDistribution("sdist has no top-level PKG-INFO file")
        with archive.open(candidates[0]) as handle:
            return _bounded_read(handle, "PKG-INFO")


def _compressed_size(source: str | BinaryIO) -> int:
    if isinstance(source, str):
        return os.path.getsize(source)
    position = source.tell()
    size = source.seek(0, os.SEEK_END)
    source.seek(position)
    return size


def _tar_sdist_metadata(source: str | BinaryIO) -> bytes:
    limit = max(MIN_INFLATE_BYTES, MAX_INFLATE_RATIO * _compressed_size(source))
    kwargs = {"name": source} if isinstance(source, str) else {"fileobj": source}
    with tarfile.open(mode="r:*", **kwargs) as archive:  # type: ignore[call-overload]
        for member in archive:
            # Checked before the loop steps over the member, which inflates all of it.
            if member.offset_data + member.size > limit:
                raise InvalidDistribution(
                    f"sdist inflates to more than {limit} bytes before its PKG-INFO"
                )
            if (
                member.isfile()
                and member.name.count("/") == 1
                and member.name.endswith("/PKG-INFO")
            ):
                handle = archive.extractfile(member)
                if handle is None:
                    break
                return _bounded_read(handle, "PKG-INFO")
    raise InvalidDistribution("sdist has no top-level PKG-INFO file")


@dataclasses.dataclass
class CoreMetadata:
    """The fields of METADATA/PKG-INFO the index shows. Parsing is lenient like PyPI's."""

    name: str
    version: str
    summary: str | None = None
    description: str | None = None
    description_content_type: str | None = None
    requires_python: str | None = None
    requires_dist: list[str] = dataclasses.field(default_factory=list)
    author: str | None = None
    author_email: str | None = None
    maintainer: str | None = None
    maintainer_email: str | None = None
    license: str | None = None
    license_expression: str | None = None
    keywords: str | None = None
    home_page: str | None = None
    classifiers: list[str] = dataclasses.field(default_factory=list)
    project_urls: dict[str, str] = dataclasses.field(default_factory=dict)
    provides_extra: list[str] = dataclasses.field(default_factory=list)
    metadata_version: str | None = None


def parse_core_metadata(raw: bytes) -> CoreMetadata:
    """Parse core metadata leniently (like PyPI); raise InvalidDistribution without Name/Version."""
    fields, _unparsed = parse_email(raw)
    name, version = fields.get("name"), fields.get("version")
    if not name or not version:
        raise InvalidDistribution("core metadata has no Name or Version")
    return CoreMetadata(
        name=name,
        version=version,
        summary=fields.get("summary"),
        description=(fields.get("description") or "").strip("\n") or None,
        description_content_type=fields.get("description_content_type"),
        requires_python=fields.get("requires_python"),
        requires_dist=list(fields.get("requires_dist", [])),
        author=fields.get("author"),
        author_email=fields.get("author_email"),
        maintainer=fields.get("maintainer"),
        maintainer_email=fields.get("maintainer_email"),
        license=fields.get("license"),
        license_expression=fields.get("license_expression"),
        keywords=", ".join(fields.get("keywords", [])) or None,
        home_page=fields.get("home_page"),
        classifiers=list(fields.get("classifiers", [])),
        project_urls=dict(fields.get("project_urls", {})),
        provides_extra=list(fields.get("provides_extra", [])),
        metadata_version=fields.get("metadata_version"),
    )
