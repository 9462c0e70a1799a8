"""Amazon S3 storage (and anything that speaks its API: moto, MinIO, Ceph, R2...).

Key layout and object metadata are the original pypicloud's (COMPAT.md), so a bucket it
wrote is read unchanged and what we write stays readable by it:
``[prefix][md5(filename)[:4]/]<name>/<filename>`` with ``name``, ``version`` and the stored
facts as user metadata (see ``object_meta``).

Exclusive creation uses S3 conditional writes (``If-None-Match: *`` on PutObject and
CompleteMultipartUpload): of several racing uploads of one filename S3 lets exactly one
finish and answers the others 412. boto3's managed transfer (``upload_fileobj``) cannot
pass that header, so exclusive uploads go through a second client whose event hooks add
it to those two calls; everything else about the managed multipart upload is unchanged.
Racers within one process also queue on a per-key lock, so the outcome there never depends
on how atomic a store's (or emulator's) condition check is.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import posixpath
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, ClassVar, cast

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, InvalidRegionError

from pypicloud.locks import KeyLocks
from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.base import FileExists, PackageNotStored, stored_copy
from pypicloud.storage.botocore_config import client_config
from pypicloud.storage.layout import (
    PROVENANCE_CONTENT_TYPE,
    content_type_for,
    is_sidecar,
    object_key,
    provenance_key,
)
from pypicloud.storage.object_meta import decode_metadata, encode_metadata
from pypicloud.storage.object_options import DEFAULTS, V4_MAX_EXPIRE_AFTER, ObjectOptions

log = logging.getLogger(__name__)

METADATA_LIMIT = 2048  # S3: bytes of user metadata keys plus values
DEFAULT_POOL_SIZE = 32  # botocore's 10 starves list()'s concurrent HEADs
CONFLICT_RETRIES = 3


class S3Storage:
    """Packages in one S3 bucket. One instance serves every request thread."""

    #: Presigned URLs are SigV4, which S3 honours for at most seven days.
    MAX_EXPIRE_AFTER: ClassVar[int | None] = V4_MAX_EXPIRE_AFTER

    #: ``storage.*`` keys this class reads itself (the rest must be botocore options).
    OWN_KEYS = frozenset(
        "storage." + key
        for key in (
            "bucket",
            "region_name",
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "endpoint_url",
            "prefix",
            "prepend_hash",
            "expire_after",
            "redirect_urls",
            "server_side_encryption",
            "sse_kms_key_id",
            "object_acl",
            "storage_class",
            "public_url",
        )
    )

    def __init__(
        self,
        bucket: str,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        credentials: dict[str, str] | None = None,
        config: Config | None = None,
        options: ObjectOptions = DEFAULTS,
        object_acl: str | None = None,
        server_side_encryption: str | None = None,
        sse_kms_key_id: str | None = None,
        storage_class: str | None = None,
        create_bucket: bool = True,
    ) -> None:
        self.bucket = bucket
        self.options = options
        self.redirect_urls = options.redirect_urls
        self.write_args: dict[str, str] = {}
        if object_acl:
            self.write_args["ACL"] = object_acl
        if server_side_encryption:
            self.write_args["ServerSideEncryption"] = server_side_encryption
        if sse_kms_key_id:
            self.write_args["SSEKMSKeyId"] = sse_kms_key_id
        if storage_class:
            self.write_args["StorageClass"] = storage_class

        # SigV4 unless told otherwise: botocore may presign with SigV2 in us-east-1, which
        # buckets created since 2020 refuse.
        defaults = Config(signature_version="s3v4", max_pool_connections=DEFAULT_POOL_SIZE)
        config = defaults.merge(config or Config())
        # A session of our own: boto3's default session is not safe to share across threads.
        session = boto3.session.Session(region_name=region_name, **(credentials or {}))

        def make_client(extra: Config | None = None) -> Any:
            merged = config.merge(extra) if extra else config
            return session.client("s3", endpoint_url=endpoint_url, config=merged)

        try:
            self.client = make_client()
        except InvalidRegionError as exc:
            raise ConfigError("storage.region_name", str(exc)) from None
        except ValueError as exc:  # botocore's "Invalid endpoint: ..."
            raise ConfigError("storage.endpoint_url", str(exc)) from None
        # Same settings; PutObject and CompleteMultipartUpload only succeed for a new key.
        self.exclusive_client = make_client()
        for operation in ("PutObject", "CompleteMultipartUpload"):
            self.exclusive_client.meta.events.register(
                f"before-parameter-build.s3.{operation}", _require_absent
            )
        self.unsigned_client = (
            make_client(Config(signature_version=botocore.UNSIGNED)) if options.public_url else None
        )
        self.workers = max(1, min(self.client.meta.config.max_pool_connections, 64))
        self.key_locks = KeyLocks()
        if create_bucket:
            self.ensure_bucket()

    # -- settings ----------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        return cls(**cls.options_from_settings(settings))

    @classmethod
    def options_from_settings(cls, settings: Settings) -> dict[str, Any]:
        """Constructor arguments from ``storage.*``; subclasses add their own keys."""
        key_id = settings.str("storage.aws_access_key_id")
        secret = settings.str("storage.aws_secret_access_key")
        token = settings.str("storage.aws_session_token")
        if bool(key_id) != bool(secret):
            missing = "storage.aws_secret_access_key" if key_id else "storage.aws_access_key_id"
            raise ConfigError(missing, "is required when the other half of the key is given")
        if token and not key_id:
            raise ConfigError("storage.aws_session_token", "needs storage.aws_access_key_id")
        credentials = {}
        if key_id and secret:
            credentials = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
            if token:
                credentials["aws_session_token"] = token
        put = _put_object_enums()
        sse = _optional_choice(settings, "storage.server_side_encryption", put["sse"])
        kms_key = settings.str("storage.sse_kms_key_id")
        if kms_key and not (sse or "").startswith("aws:kms"):
            raise ConfigError(
                "storage.sse_kms_key_id", "needs storage.server_side_encryption = aws:kms"
            )
        return {
            "bucket": settings.str("storage.bucket", required=True),
            "region_name": settings.str("storage.region_name"),
            "endpoint_url": settings.str("storage.endpoint_url"),
            "credentials": credentials,
            "config": client_config(settings, cls.OWN_KEYS),
            "options": ObjectOptions.from_settings(
                settings, max_expire=cls.MAX_EXPIRE_AFTER, public_url=True
            ),
            "object_acl": _optional_choice(settings, "storage.object_acl", put["acl"]),
            "server_side_encryption": sse,
            "sse_kms_key_id": kms_key,
            "storage_class": _optional_choice(
                settings, "storage.storage_class", put["storage_class"]
            ),
        }

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (in the client's region)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _status(exc) != 404:
                # 403 and friends: maybe we may not HEAD it but may use it; /health will tell.
                log.warning("cannot check bucket %s: %s", self.bucket, exc)
                return
        except BotoCoreError as exc:
            log.warning("cannot reach bucket %s: %s", self.bucket, exc)
            return
        region = self.client.meta.region_name
        args: dict[str, Any] = {"Bucket": self.bucket}
        if region and region != "us-east-1":  # us-east-1 refuses its own LocationConstraint
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**args)
            log.info("created bucket %s in %s", self.bucket, region)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "OperationAborted"):
                raise ConfigError(
                    "storage.bucket", f"cannot create {self.bucket!r}: {exc}"
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
        """Every package under the prefix.

        ListObjectsV2 carries no user metadata, so an object costs one HEAD unless
        ``known`` has its record with the same LastModified and size (any metadata change
        is a copy, which moves LastModified; a change made by another writer within the
        same second as the known record is the one case this cannot see). HEADs run
        concurrently (the client is thread-safe), one listing page at a time. Keys that
        cannot be packages are skipped.
        """
        known = known or {}
        paginator = self.client.get_paginator("list_objects_v2")
        with ThreadPoolExecutor(self.workers, thread_name_prefix="s3-list") as pool:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.options.prefix):
                entries = [e for e in page.get("Contents", ()) if _may_be_package(e["Key"])]
                unchanged = [_unchanged(e, known) for e in entries]
                yield from (p for p in unchanged if p is not None)
                changed = [e for e, p in zip(entries, unchanged, strict=True) if p is None]
                for package in pool.map(self._describe, changed):
                    if package is not None:
                        yield package

    def _describe(self, entry: dict[str, Any]) -> Package | None:
        return self.describe(entry["Key"], entry["LastModified"], entry.get("Size"))

    def describe(
        self, key: str, listed_time: Any = None, listed_size: int | None = None
    ) -> Package | None:
        """The package the object at ``key`` holds (one HEAD), or None when the key is gone
        or holds no package. A rebuild and the event sync (``pypicloud.sync``) both read
        objects through this, so both see the same facts."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:  # deleted since the listing (or the event)
                return None
            raise
        package = decode_metadata(
            head.get("Metadata", {}),
            posixpath.basename(key),
            head.get("LastModified") or listed_time,
            size=head.get("ContentLength", listed_size),
        )
        if package is None:
            log.debug("skipping %s: not a package", key)
        return package

    def may_hold_package(self, key: str) -> bool:
        """True for a key a listing would look at: under the prefix, not a sidecar."""
        return key.startswith(self.options.prefix) and _may_be_package(key)

    def open(self, package: Package) -> AbstractContextManager[BinaryIO]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key_for(package))
        except ClientError as exc:
            if _status(exc) == 404:
                raise PackageNotStored(package.filename) from None
            raise
        return cast(AbstractContextManager[BinaryIO], contextlib.closing(response["Body"]))

    def download_url(self, package: Package) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.key_for(package)}
        if self.unsigned_client is not None:
            return self.unsigned_client.generate_presigned_url("get_object", Params=params)
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.options.expire_after
        )

    def check_health(self) -> tuple[bool, str]:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            return False, f"S3 bucket {self.bucket}: {exc}"
        return True, ""

    # -- writing -----------------------------------------------------------------------

    def upload(self, package: Package, data: BinaryIO, *, overwrite: bool = False) -> Package:
        key = self.key_for(package)
        if overwrite:
            self._transfer(self.client, key, package, data)
        else:
            # S3's conditional write picks the winner between processes and hosts; racers in
            # this process queue on a lock first, so they never depend on a store (or an
            # emulator such as moto) whose existence check is not atomic with the write.
            with self.key_locks.hold(key):
                self._transfer(self.exclusive_client, key, package, data)
        # S3's LastModified is what list() reports; should the HEAD fail, the caller's
        # time stands (the object is stored either way).
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError):
            return stored_copy(package, package.last_modified)
        return stored_copy(package, head["LastModified"])

    def _transfer(self, client: Any, key: str, package: Package, data: BinaryIO) -> None:
        """One managed (multipart when large) upload; 412 means another upload won."""
        extra = dict(self.write_args, Metadata=encode_metadata(package, max_bytes=METADATA_LIMIT))
        extra["ContentType"] = content_type_for(package.filename)
        start = data.tell() if data.seekable() else None
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                client.upload_fileobj(
                    _KeepOpen(data), self.bucket, key, ExtraArgs=extra, Config=TransferConfig()
                )
                return
            except ClientError as exc:
                if _status(exc) == 412 or _code(exc) == "PreconditionFailed":
                    raise FileExists(package.filename) from None
                # 409 ConditionalRequestConflict: the key changed (e.g. was deleted) while we
                # wrote. Nothing was stored; try again from the start if we can.
                if _status(exc) != 409 or start is None or attempt == CONFLICT_RETRIES:
                    raise
                if self._exists(key):
                    raise FileExists(package.filename) from None
                data.seek(start)

    def update_metadata(self, package: Package) -> None:
        """Copy the object onto itself with new metadata; ACL, SSE and class are re-applied.

        The copy gets a new LastModified, so the upload time travels in the metadata.
        """
        key = self.key_for(package)
        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
                Metadata=encode_metadata(package, upload_time=True, max_bytes=METADATA_LIMIT),
                ContentType=content_type_for(package.filename),
                **self.write_args,
            )
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) == "NoSuchKey":
                raise PackageNotStored(package.filename) from None
            raise

    def delete(self, package: Package) -> None:
        key = self.key_for(package)
        self.client.delete_object(Bucket=self.bucket, Key=key)
        self.client.delete_object(Bucket=self.bucket, Key=provenance_key(key))

    # -- provenance (PEP 740): an object of its own, without package metadata -----------

    def save_provenance(self, package: Package, document: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=provenance_key(self.key_for(package)),
            Body=document,
            ContentType=PROVENANCE_CONTENT_TYPE,
            **self.write_args,
        )

    def load_provenance(self, package: Package) -> bytes | None:
        key = provenance_key(self.key_for(package))
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) == "NoSuchKey":
                return None
            raise
        with contextlib.closing(response["Body"]) as body:
            return cast(bytes, body.read())

    def delete_provenance(self, package: Package) -> None:
        key = provenance_key(self.key_for(package))
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True


# -- helpers ---------------------------------------------------------------------------


class _KeepOpen:
    """The caller's stream, minus ``close``: s3transfer closes what it uploads, and the
    stream is the caller's (and ours to rewind when a conflict asks for a retry)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def close(self) -> None:
        pass


def _require_absent(params: dict[str, Any], **_: Any) -> None:
    """Event hook: make the write conditional on the key not existing yet."""
    params["IfNoneMatch"] = "*"


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unchanged(entry: dict[str, Any], known: Mapping[str, Package]) -> Package | None:
    """The known record of a listed object, if the object has not changed since."""
    record = known.get(posixpath.basename(entry["Key"]))
    if record is None or record.size != entry.get("Size"):
        return None
    return record if record.last_modified == entry["LastModified"] else None


def _may_be_package(key: str) -> bool:
    """Rule out folder markers, hidden files and sidecars (``.meta``, provenance)."""
    name = posixpath.basename(key)
    return bool(name) and not name.startswith(".") and not is_sidecar(name)


@functools.cache
def _put_object_enums() -> dict[str, tuple[str, ...]]:
    """Allowed ACL, SSE and storage class values, from botocore's S3 model (no network)."""
    model = botocore.session.get_session().get_service_model("s3")
    members = model.operation_model("PutObject").input_shape.members
    return {
        "acl": tuple(members["ACL"].enum),
        "sse": tuple(members["ServerSideEncryption"].enum),
        "storage_class": tuple(members["StorageClass"].enum),
    }


def _optional_choice(settings: Settings, key: str, choices: tuple[str, ...]) -> str | None:
    value = settings.str(key)
    if value is not None and value not in choices:
        raise ConfigError(key, f"expected one of {', '.join(choices)}, got {value!r}")
    return value
