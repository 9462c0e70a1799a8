"""Google Cloud Storage, in the original pypicloud's layout.

A file lives at ``[storage.prefix][md5(filename)[:4]/]<name>/<filename>`` (the hash
directory unless ``storage.prepend_hash = false``). Its index facts are the object's
custom metadata: ``name``, ``version`` and the stored facts with ``-`` in their keys
(``hash-sha256``...). GCS metadata is UTF-8, so values are stored as they are; only a value
that would read back as an RFC 2047 encoded word is itself encoded (see ``object_meta``).

New files are created with the precondition ``ifGenerationMatch=0``, so of several
concurrent uploads of one filename GCS lets exactly one succeed and answers the others
with 412, which becomes ``FileExists``. Downloads can be redirected to V4 signed URLs;
signing needs a key (a service-account JSON file) or ``storage.gcp_use_iam_signer``.
Without either, ``download_url`` returns None and files stream through the server.

One ``google.cloud.storage.Client`` is built at start-up and shared by every thread;
``Blob`` objects are built per call and never shared.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, suppress
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from google.api_core import exceptions as gexc
from google.auth import credentials as gauth_credentials
from google.cloud import storage as gcs

from pypicloud.models import STORED_KEYS, Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.base import FileExists, PackageNotStored, remaining_size, stored_copy
from pypicloud.storage.layout import (
    PROVENANCE_CONTENT_TYPE,
    content_type_for,
    is_sidecar,
    object_key,
    provenance_key,
)
from pypicloud.storage.object_meta import decode_metadata, decode_value, encode_value
from pypicloud.storage.object_options import DEFAULTS, V4_MAX_EXPIRE_AFTER, ObjectOptions

if TYPE_CHECKING:
    from google.cloud.storage import Blob, Bucket, Client

log = logging.getLogger(__name__)

#: Bytes per request for resumable uploads (above 8 MiB) and for ranged reads.
CHUNK = 8 * 1024 * 1024
#: Only these response fields are asked for when listing (a smaller response per page).
LIST_FIELDS = "items(name,metadata,size,timeCreated,updated),nextPageToken"
PREDEFINED_ACLS = (
    "authenticatedRead",
    "bucketOwnerFullControl",
    "bucketOwnerRead",
    "private",
    "projectPrivate",
    "publicRead",
)
STORAGE_CLASSES = (
    "STANDARD",
    "NEARLINE",
    "COLDLINE",
    "ARCHIVE",
    "MULTI_REGIONAL",
    "REGIONAL",
    "DURABLE_REDUCED_AVAILABILITY",
)
SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
#: Project used with anonymous credentials against an emulator when none is configured.
EMULATOR_PROJECT = "pypicloud"


def gcs_metadata(package: Package) -> dict[str, str]:
    """The custom metadata for ``package``: UTF-8 values kept, ambiguous ones encoded."""
    meta = {"name": package.name, "version": package.version}
    meta.update(package.stored_metadata())
    # A value that decoding would change (it looks like an RFC 2047 encoded word) is
    # itself encoded, so every value reads back exactly as written.
    return {
        key.replace("_", "-"): value if decode_value(value) == value else encode_value(value)
        for key, value in meta.items()
    }


#: Every key a stored fact may have been written under (both spellings), for deletion.
ALL_FACT_KEYS = tuple(
    sorted({spelling for key in STORED_KEYS for spelling in (key, key.replace("_", "-"))})
)


class GoogleCloudStorage:
    """Packages in a Google Cloud Storage bucket."""

    #: Download URLs are V4 signed URLs, which GCS honours for at most seven days.
    MAX_EXPIRE_AFTER: ClassVar[int | None] = V4_MAX_EXPIRE_AFTER

    def __init__(
        self,
        client: Client,
        bucket_name: str,
        *,
        options: ObjectOptions = DEFAULTS,
        object_acl: str | None = None,
        storage_class: str | None = None,
        api_endpoint: str | None = None,
        use_iam_signer: bool = False,
        credentials: Any = None,
    ) -> None:
        self.client = client
        #: What signs URLs; the client's own credentials unless given.
        self.credentials = credentials if credentials is not None else client._credentials
        self.bucket_name = bucket_name
        self.bucket: Bucket = client.bucket(bucket_name)
        self.options = options
        self.redirect_urls = options.redirect_urls
        self.object_acl = object_acl
        self.storage_class = storage_class
        self.api_endpoint = api_endpoint
        self.use_iam_signer = use_iam_signer
        self._token_lock = threading.Lock()

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleCloudStorage:
        bucket_name = settings.str("storage.bucket", required=True)
        assert bucket_name is not None
        options = ObjectOptions.from_settings(settings, max_expire=cls.MAX_EXPIRE_AFTER)
        object_acl = settings.str("storage.object_acl")
        if object_acl is not None and object_acl not in PREDEFINED_ACLS:
            raise ConfigError(
                "storage.object_acl",
                f"expected one of {', '.join(PREDEFINED_ACLS)}, got {object_acl!r}",
            )
        storage_class = settings.str("storage.storage_class")
        if storage_class is not None:
            storage_class = storage_class.upper()
            if storage_class not in STORAGE_CLASSES:
                raise ConfigError(
                    "storage.storage_class",
                    f"expected one of {', '.join(STORAGE_CLASSES)}, got {storage_class!r}",
                )
        project = settings.str("storage.gcp_project_id")
        api_endpoint = settings.str("storage.gcp_api_endpoint")
        if api_endpoint is not None:
            api_endpoint = api_endpoint.rstrip("/")
        use_iam_signer = settings.bool("storage.gcp_use_iam_signer", False)
        key_file = settings.str("storage.gcp_service_account_json_filename")

        credentials, found_project = _credentials(key_file, api_endpoint)
        client_options = {"api_endpoint": api_endpoint} if api_endpoint else None
        client = gcs.Client(
            project=project or found_project,
            credentials=credentials,
            client_options=client_options,
        )
        storage = cls(
            client,
            bucket_name,
            options=options,
            object_acl=object_acl,
            storage_class=storage_class,
            api_endpoint=api_endpoint,
            use_iam_signer=use_iam_signer,
            credentials=credentials,
        )
        if options.redirect_urls and not storage.can_sign:
            log.warning(
                "storage.redirect_urls is on but the GCS credentials cannot sign URLs "
                "(set storage.gcp_service_account_json_filename or "
                "storage.gcp_use_iam_signer); files will stream through the server"
            )
        storage.ensure_bucket()
        return storage

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (called once at start-up)."""
        try:
            if self.bucket.exists():
                return
            self.client.create_bucket(self.bucket_name)
            log.info("created GCS bucket %s", self.bucket_name)
        except gexc.Conflict:
            pass  # created by another process meanwhile
        except gexc.Forbidden as exc:
            # Credentials that may use objects but not inspect buckets: assume it exists.
            log.warning("cannot check GCS bucket %s exists: %s", self.bucket_name, exc)
        except gexc.GoogleAPIError as exc:
            raise ConfigError("storage.bucket", f"cannot use {self.bucket_name!r}: {exc}") from exc

    # -- keys --------------------------------------------------------------------------

    def key_for(self, package: Package) -> str:
        return object_key(
            package.name,
            package.filename,
            prefix=self.options.prefix,
            prepend_hash=self.options.prepend_hash,
        )

    def _blob(self, package: Package) -> Blob:
        return self.bucket.blob(self.key_for(package), chunk_size=CHUNK)

    # -- reading -----------------------------------------------------------------------

    def list(self, known: Mapping[str, Package] | None = None) -> Iterator[Package]:
        """Every package under the prefix: one request per 1000 objects, metadata included."""
        blobs = self.client.list_blobs(
            self.bucket, prefix=self.options.prefix or None, fields=LIST_FIELDS
        )
        for blob in blobs:
            filename = posixpath.basename(blob.name)
            if not filename or is_sidecar(filename):
                continue  # a "folder" placeholder, or a provenance sidecar
            created = blob.time_created or blob.updated or dt.datetime.now(dt.UTC)
            package = decode_metadata(blob.metadata or {}, filename, created, size=blob.size)
            if package is None:
                log.warning("ignoring gs://%s/%s: not a distribution", self.bucket_name, blob.name)
                continue
            yield package

    def open(self, package: Package) -> AbstractContextManager[BinaryIO]:
        """A reader of the current generation, fetching ``CHUNK`` bytes per ranged request."""
        blob = self.bucket.get_blob(self.key_for(package))  # pins the generation
        if blob is None:
            raise PackageNotStored(package.filename)
        return blob.open("rb", chunk_size=CHUNK)

    @property
    def can_sign(self) -> bool:
        """Whether ``download_url`` can produce signed URLs with these credentials."""
        credentials = self.credentials
        return self.use_iam_signer or isinstance(credentials, gauth_credentials.Signing)

    def download_url(self, package: Package) -> str | None:
        """A V4 signed URL valid for ``expire_after`` seconds, or None if we cannot sign."""
        if not self.can_sign:
            return None
        kwargs: dict[str, Any] = {
            "version": "v4",
            "expiration": dt.timedelta(seconds=self.options.expire_after),
            "method": "GET",
        }
        if self.api_endpoint:
            kwargs["api_access_endpoint"] = self.api_endpoint
        blob = self._blob(package)
        if isinstance(self.credentials, gauth_credentials.Signing):
            return blob.generate_signed_url(**kwargs)
        # IAM signer: the service signs with the account's key (signBlob), which needs
        # the account's e-mail and a current access token. A failure streams instead.
        try:
            token = self._access_token()
            email = self.credentials.service_account_email
            return blob.generate_signed_url(
                service_account_email=email, access_token=token, **kwargs
            )
        except Exception:
            log.exception("cannot sign a GCS URL with the IAM signer; streaming instead")
            return None

    def _access_token(self) -> str:
        credentials = self.credentials
        with self._token_lock:
            if not credentials.valid:
                from google.auth.transport.requests import Request

                credentials.refresh(Request())
            return credentials.token

    # -- writing -----------------------------------------------------------------------

    def upload(self, package: Package, data: BinaryIO, *, overwrite: bool = False) -> Package:
        blob = self._blob(package)
        blob.metadata = gcs_metadata(package)
        if self.storage_class:
            blob.storage_class = self.storage_class
        kwargs: dict[str, Any] = {
            "size": remaining_size(data),
            "content_type": content_type_for(package.filename),
            "predefined_acl": self.object_acl,
        }
        if not overwrite:
            kwargs["if_generation_match"] = 0  # create only: GCS lets one racer win
        try:
            blob.upload_from_file(data, **kwargs)
        except gexc.PreconditionFailed:
            raise FileExists(package.filename) from None
        # The creation time is what list() reports (a metadata PATCH moves ``updated``).
        return stored_copy(package, blob.time_created or package.last_modified)

    def update_metadata(self, package: Package) -> None:
        """One PATCH. GCS merges metadata keys, so facts no longer true are set to None."""
        metadata: dict[str, str | None] = dict.fromkeys(ALL_FACT_KEYS)
        metadata.update(gcs_metadata(package))
        blob = self._blob(package)
        blob.metadata = metadata
        try:
            blob.patch()
        except gexc.NotFound:
            raise PackageNotStored(package.filename) from None

    def delete(self, package: Package) -> None:
        with suppress(gexc.NotFound):
            self._blob(package).delete()
        self.delete_provenance(package)

    # -- provenance (PEP 740): an object of its own, without package metadata -----------

    def _provenance_blob(self, package: Package) -> Blob:
        return self.bucket.blob(provenance_key(self.key_for(package)))

    def save_provenance(self, package: Package, document: bytes) -> None:
        self._provenance_blob(package).upload_from_string(
            document, content_type=PROVENANCE_CONTENT_TYPE, predefined_acl=self.object_acl
        )

    def load_provenance(self, package: Package) -> bytes | None:
        try:
            return self._provenance_blob(package).download_as_bytes()  # type: ignore[no-any-return]
        except gexc.NotFound:
            return None

    def delete_provenance(self, package: Package) -> None:
        with suppress(gexc.NotFound):
            self._provenance_blob(package).delete()

    def check_health(self) -> tuple[bool, str]:
        try:
            pages = self.client.list_blobs(self.bucket, max_results=1, fields="nextPageToken").pages
            next(iter(pages), None)
        except Exception as exc:  # any failure to reach the bucket is unhealthy
            return False, f"GCS bucket {self.bucket_name}: {exc}"
        return True, ""


def _credentials(key_file: str | None, api_endpoint: str | None) -> tuple[Any, str | None]:
    """(credentials, their project): a service account file, anonymous ones for an
    emulator endpoint, or the environment's application default credentials."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    if key_file:
        from google.oauth2 import service_account

        try:
            credentials = service_account.Credentials.from_service_account_file(
                key_file, scopes=[SCOPE]
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                "storage.gcp_service_account_json_filename",
                f"cannot read service account credentials from {key_file!r}: {exc}",
            ) from exc
        return credentials, credentials.project_id
    if api_endpoint:
        return gauth_credentials.AnonymousCredentials(), EMULATOR_PROJECT
    try:
        return google.auth.default(scopes=[SCOPE])
    except DefaultCredentialsError as exc:
        raise ConfigError(
            "storage.gcp_service_account_json_filename",
            f"not set, and no application default credentials were found: {exc}",
        ) from exc
