"""Azure Blob Storage, in the original pypicloud's layout: ``<storage.prefix><name>/<filename>``.

Each blob's index facts are its metadata: ``name``, ``version`` and the stored facts.
Azure metadata names must be C# identifiers, so keys are written with ``_``
(``hash_sha256``); readers accept ``-`` too. Values travel in HTTP headers and must be
ASCII: anything else is written as an RFC 2047 encoded word (see ``object_meta``).

New files are uploaded with ``overwrite=False``, which the SDK sends as the condition
``If-None-Match: *`` (on the single Put Blob, or on the final Put Block List of a large
file): of several concurrent uploads of one filename the service lets exactly one commit
and answers the others 409/412, which becomes ``FileExists``.

One ``ContainerClient`` is built at start-up and shared by every thread (Azure SDK clients
are thread-safe); downloads can be redirected to read-only SAS URLs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import logging
import posixpath
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, suppress
from typing import BinaryIO, ClassVar
from urllib.parse import urlsplit

from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    generate_blob_sas,
)

from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.base import FileExists, PackageNotStored, remaining_size, stored_copy
from pypicloud.storage.layout import (
    PROVENANCE_CONTENT_TYPE,
    content_type_for,
    is_sidecar,
    object_key,
    provenance_key,
)
from pypicloud.storage.object_meta import decode_metadata, encode_metadata
from pypicloud.storage.object_options import ObjectOptions

log = logging.getLogger(__name__)

#: Uploads above this size go up in blocks of BLOCK bytes; downloads come in CHUNK bytes.
#: The SDK holds one such piece in memory at a time, never the whole file.
SINGLE_PUT = 8 * 1024 * 1024
BLOCK = 4 * 1024 * 1024
CHUNK = 4 * 1024 * 1024
#: Azure keys never had the hash directory (COMPAT.md).
NO_HASH_DIRECTORY = ObjectOptions(prepend_hash=False)


class AzureBlobStorage:
    """Packages in an Azure Blob Storage container."""

    #: A SAS token carries its own expiry, with no upper limit.
    MAX_EXPIRE_AFTER: ClassVar[int | None] = None

    def __init__(
        self,
        container: ContainerClient,
        *,
        account_name: str,
        account_key: str,
        options: ObjectOptions = NO_HASH_DIRECTORY,
    ) -> None:
        self.container = container
        self.account_name = account_name
        self.account_key = account_key
        self.options = options
        self.redirect_urls = options.redirect_urls

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureBlobStorage:
        account_name = settings.str("storage.storage_account_name", required=True)
        account_key = settings.str("storage.storage_account_key", required=True)
        container_name = settings.str("storage.storage_container_name", required=True)
        assert account_name and account_key and container_name
        try:
            base64.b64decode(account_key, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("storage.storage_account_key", "is not a base64 key") from None
        account_url = settings.str("storage.storage_account_url")
        if account_url is None:
            account_url = f"https://{account_name}.blob.core.windows.net"
        parts = urlsplit(account_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                "storage.storage_account_url", f"expected an http(s) URL, got {account_url!r}"
            )
        options = ObjectOptions.from_settings(
            settings, max_expire=cls.MAX_EXPIRE_AFTER, hash_directory=False
        )

        service = BlobServiceClient(
            account_url.rstrip("/"),
            credential={"account_name": account_name, "account_key": account_key},
            max_single_put_size=SINGLE_PUT,
            max_block_size=BLOCK,
            max_single_get_size=CHUNK,
            max_chunk_get_size=CHUNK,
        )
        storage = cls(
            service.get_container_client(container_name),
            account_name=account_name,
            account_key=account_key,
            options=options,
        )
        storage.ensure_container()
        return storage

    def ensure_container(self) -> None:
        """Create the container when it does not exist (called once at start-up)."""
        try:
            if not self.container.exists():
                self.container.create_container()
                log.info("created Azure container %s", self.container.container_name)
        except ResourceExistsError:
            pass  # created by another process meanwhile
        except (AzureError, ValueError) as exc:
            raise ConfigError(
                "storage.storage_container_name",
                f"cannot use {self.container.container_name!r}: {exc}",
            ) from exc

    # -- keys --------------------------------------------------------------------------

    def key_for(self, package: Package) -> str:
        return object_key(
            package.name,
            package.filename,
            prefix=self.options.prefix,
            prepend_hash=self.options.prepend_hash,
        )

    # -- reading -----------------------------------------------------------------------

    def list(self, known: Mapping[str, Package] | None = None) -> Iterator[Package]:
        """Every package under the prefix: one request per 5000 blobs, metadata included."""
        blobs = self.container.list_blobs(
            name_starts_with=self.options.prefix or None, include=["metadata"]
        )
        for blob in blobs:
            filename = posixpath.basename(blob.name)
            if not filename or is_sidecar(filename):
                continue
            # Creation time, not Last-Modified: rewriting the facts (a yank) touches the
            # latter, and the upload time must not move.
            uploaded = blob.creation_time or blob.last_modified
            package = decode_metadata(blob.metadata or {}, filename, uploaded, size=blob.size)
            if package is None:
                log.warning("ignoring blob %s: not a distribution", blob.name)
                continue
            yield package

    def open(self, package: Package) -> AbstractContextManager[BinaryIO]:
        try:
            downloader = self.container.download_blob(self.key_for(package), max_concurrency=1)
        except ResourceNotFoundError:
            raise PackageNotStored(package.filename) from None
        return io.BufferedReader(_ChunkReader(downloader.chunks()), CHUNK)  # type: ignore[return-value]

    def download_url(self, package: Package) -> str | None:
        """A read-only SAS URL valid for ``expire_after`` seconds."""
        key = self.key_for(package)
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.options.expire_after)
        sas = generate_blob_sas(
            self.account_name,
            self.container.container_name,
            key,
            account_key=self.account_key,
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
        return f"{self.container.get_blob_client(key).url}?{sas}"

    # -- writing -----------------------------------------------------------------------

    def upload(self, package: Package, data: BinaryIO, *, overwrite: bool = False) -> Package:
        blob = self.container.get_blob_client(self.key_for(package))
        try:
            result = blob.upload_blob(
                data,
                length=remaining_size(data),
                overwrite=overwrite,  # False: If-None-Match: * (one racer wins)
                metadata=encode_metadata(package, sep="_"),
                content_settings=ContentSettings(content_type=content_type_for(package.filename)),
                max_concurrency=1,
            )
        except (ResourceExistsError, ResourceModifiedError):
            if overwrite:
                raise
            raise FileExists(package.filename) from None
        uploaded = self._upload_time(blob) or result.get("last_modified")
        return stored_copy(package, uploaded or package.last_modified)

    @staticmethod
    def _upload_time(blob: BlobClient) -> dt.datetime | None:
        """The creation time list() reports; whether an overwrite resets it is the
        service's business, so it is read back rather than assumed."""
        try:
            properties = blob.get_blob_properties()
        except AzureError:
            return None
        return properties.creation_time or properties.last_modified

    def update_metadata(self, package: Package) -> None:
        """Replace the blob's metadata (Set Blob Metadata replaces all of it)."""
        blob = self.container.get_blob_client(self.key_for(package))
        try:
            blob.set_blob_metadata(encode_metadata(package, sep="_"))
        except ResourceNotFoundError:
            raise PackageNotStored(package.filename) from None

    def delete(self, package: Package) -> None:
        with suppress(ResourceNotFoundError):
            self.container.delete_blob(self.key_for(package), delete_snapshots="include")
        self.delete_provenance(package)

    # -- provenance (PEP 740): a blob of its own, without package metadata -------------

    def save_provenance(self, package: Package, document: bytes) -> None:
        self.container.get_blob_client(provenance_key(self.key_for(package))).upload_blob(
            document,
            overwrite=True,
            content_settings=ContentSettings(content_type=PROVENANCE_CONTENT_TYPE),
        )

    def load_provenance(self, package: Package) -> bytes | None:
        try:
            downloader = self.container.download_blob(provenance_key(self.key_for(package)))
        except ResourceNotFoundError:
            return None
        return downloader.readall()  # type: ignore[no-any-return]

    def delete_provenance(self, package: Package) -> None:
        with suppress(ResourceNotFoundError):
            self.container.delete_blob(
                provenance_key(self.key_for(package)), delete_snapshots="include"
            )

    def check_health(self) -> tuple[bool, str]:
        try:
            self.container.get_container_properties()
        except Exception as exc:  # any failure to reach the container is unhealthy
            return False, f"Azure container {self.container.container_name}: {exc}"
        return True, ""


class _ChunkReader(io.RawIOBase):
    """A raw, read-only stream over an iterator of byte chunks (the SDK's ``chunks()``)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
