"""A typed upload and its validation, as PyPI's upload endpoint validates one.

Every path that adds a file (the legacy upload API, the REST API, the web UI's form, the
fallback's cache fill, the CLI's migrate and import) builds an ``UploadRequest`` and hands it
to ``PackageService.upload``. Nothing here knows HTTP: a refusal carries a ``Refusal`` kind
that each caller maps to its own answer.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import tempfile
from collections.abc import Mapping
from typing import Any, BinaryIO, Protocol, cast

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypicloud.attestation_verify import AttestationVerifier
from pypicloud.attestations import (
    AttestationRefused,
    check_subjects,
    parse_attestations,
    provenance_sha256,
)
from pypicloud.dists import (
    MAX_NAME_LENGTH,
    MAX_VERSION_LENGTH,
    CoreMetadata,
    DistFilename,
    InvalidDistribution,
    is_valid_project_name,
    parse_core_metadata,
    parse_filename,
    read_core_metadata,
    versions_equal,
)
from pypicloud.models import Package, utcnow

#: Pieces below glibc's first mmap threshold (128 KB) and a small spool: a freed 1 MB
#: piece or 8 MB spool raised the threshold to its size, and later buffers of that size
#: came from the heap and stayed in the process (a 21 MB upload grew it by 5 MB).
CHUNK = 64 * 1024
SPOOL_LIMIT = 1024 * 1024
DIGEST_FIELDS = ("sha256", "md5", "blake2_256")


class Refusal(enum.Enum):
    """Why an upload was refused; callers map each kind to a status."""

    INVALID = "invalid"  # the request or the file is wrong: 400
    TOO_LARGE = "too_large"  # over pypi.max_upload_size: 413
    CONFLICT = "conflict"  # another file already has that name: 409
    FORBIDDEN = "forbidden"  # a policy (not a grant) forbids it: 403


class UploadRefused(Exception):
    """An upload failed validation or a policy; ``message`` says why, for the client."""

    def __init__(self, message: str, kind: Refusal = Refusal.INVALID) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class UploadRequest:
    """One file to add, with what the client claims about it.

    ``name`` and ``version`` are as the client sent them (checked against the filename and
    the file's own metadata); ``digests`` maps ``sha256`` / ``md5`` / ``blake2_256`` to the
    hex digests the client sent, if any; ``filetype`` is ``bdist_wheel`` or ``sdist``.
    """

    filename: str
    content: BinaryIO
    name: str | None = None
    version: str | None = None
    filetype: str | None = None
    summary: str | None = None
    digests: Mapping[str, str] = dataclasses.field(default_factory=dict)
    uploader: str | None = None
    #: The ``attestations`` field as sent: a JSON array of PEP 740 attestation objects.
    attestations: str | None = None


@dataclasses.dataclass
class ValidatedUpload:
    """An upload that passed every check, spooled to a private temporary file."""

    package: Package
    spool: HashingSpool
    core_metadata: bytes
    #: The provenance object to store beside the file, when attestations came with it.
    provenance: bytes | None = None


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class HashingSpool:
    """Copies a stream into a temporary file, hashing it and enforcing a size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.file = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT))  # noqa: SIM115 (closed by close())
        self.digests: dict[str, _Digest] = {
            "sha256": hashlib.sha256(),
            "md5": hashlib.md5(),
            "blake2_256": hashlib.blake2b(digest_size=32),
        }
        self.size = 0

    def fill(self, source: BinaryIO) -> None:
        while chunk := source.read(CHUNK):
            self.size += len(chunk)
            if self.size > self.limit:
                raise UploadRefused(
                    f"File too large: the limit is {self.limit} bytes", Refusal.TOO_LARGE
                )
            self.file.write(chunk)
            for digest in self.digests.values():
                digest.update(chunk)
        self.file.seek(0)

    def hexdigest(self, kind: str) -> str:
        return self.digests[kind].hexdigest()

    def close(self) -> None:
        self.file.close()


def validate(
    request: UploadRequest, max_size: int, verifier: AttestationVerifier | None = None
) -> ValidatedUpload:
    """Check everything about an upload before anything is stored.

    The caller owns the returned spool and must close it; on a refusal it is closed here.
    """
    name, version = _check_identity(request.name, request.version)
    dist = _check_filename(request.filename, name, version, request.filetype)
    try:
        attestations = parse_attestations(request.attestations) if request.attestations else []
    except AttestationRefused as exc:
        raise UploadRefused(str(exc)) from None
    spool = HashingSpool(max_size)
    try:
        spool.fill(request.content)
        if spool.size == 0:
            raise UploadRefused("Invalid distribution file: the file is empty")
        _check_digests(request.digests, spool)
        try:
            raw_metadata = read_core_metadata(spool.file, request.filename)
            core = parse_core_metadata(raw_metadata)
        except InvalidDistribution as exc:
            raise UploadRefused(f"Invalid distribution file: {exc}") from None
        _check_metadata(core, dist, request.filename)
        provenance = None
        if attestations:
            try:
                checked = check_subjects(attestations, request.filename, spool.hexdigest("sha256"))
                if verifier is not None:
                    verifier.verify(checked, request.filename)
            except AttestationRefused as exc:
                raise UploadRefused(str(exc)) from None
            provenance = checked.provenance()
    except BaseException:
        spool.close()
        raise
    data: dict[str, Any] = {
        "hash_sha256": spool.hexdigest("sha256"),
        "hash_md5": spool.hexdigest("md5"),
        "size": spool.size,
        "core_metadata_sha256": hashlib.sha256(raw_metadata).hexdigest(),
    }
    if core.requires_python:
        data["requires_python"] = core.requires_python
    if request.uploader:
        data["uploader"] = request.uploader
    if provenance is not None:
        data["provenance_sha256"] = provenance_sha256(provenance)
    package = Package(
        name=dist.name,
        version=dist.version,
        filename=request.filename,
        last_modified=utcnow(),
        summary=core.summary or _text(request.summary),
        data=data,
    )
    spool.file.seek(0)
    return ValidatedUpload(package, spool, raw_metadata, provenance)


def form_text(value: Any) -> str | None:
    """A form field's text, stripped; None for a missing, empty or file field."""
    return _text(value)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bytes) or not hasattr(value, "strip"):
        return None
    return value.strip() or None


def _check_identity(raw_name: str | None, raw_version: str | None) -> tuple[str, str]:
    name, version = _text(raw_name), _text(raw_version)
    if not name:
        raise UploadRefused("Invalid value for name: this field is required")
    if len(name) > MAX_NAME_LENGTH:
        raise UploadRefused(
            f"Invalid value for name: {len(name)} characters, at most {MAX_NAME_LENGTH}"
        )
    if not is_valid_project_name(name):
        raise UploadRefused(
            f"Invalid value for name: {name!r} is not a valid project name (PEP 508)"
        )
    if not version:
        raise UploadRefused("Invalid value for version: this field is required")
    if len(version) > MAX_VERSION_LENGTH:
        raise UploadRefused(
            f"Invalid value for version: {len(version)} characters, at most {MAX_VERSION_LENGTH}"
        )
    try:
        Version(version)
    except InvalidVersion:
        raise UploadRefused(
            f"Invalid value for version: {version!r} is not a valid PEP 440 version"
        ) from None
    return name, version


def _check_filename(filename: str, name: str, version: str, filetype: str | None) -> DistFilename:
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


def _check_digests(digests: Mapping[str, str], spool: HashingSpool) -> None:
    for kind in DIGEST_FIELDS:
        sent = _text(digests.get(kind))
        if sent and sent.lower() != spool.hexdigest(kind):
            raise UploadRefused(
                f"The digest supplied does not match a digest calculated from the uploaded "
                f"file ({kind}_digest)"
            )


def _check_metadata(core: CoreMetadata, dist: DistFilename, filename: str) -> None:
    if canonicalize_name(core.name) != dist.name or not versions_equal(core.version, dist.version):
        raise UploadRefused(
            f"Metadata in {filename} says {core.name} {core.version}, "
            f"which does not match the filename"
        )
