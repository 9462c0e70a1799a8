"""Storage backends, chosen by ``pypi.storage``; modules import only when chosen."""

from __future__ import annotations

from pypicloud.backends import load_backend
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.base import FileExists, PackageNotStored, Storage

BACKENDS = {
    "file": "pypicloud.storage.files:FileStorage",
    "s3": "pypicloud.storage.s3:S3Storage",
    "cloudfront": "pypicloud.storage.cloudfront:CloudFrontS3Storage",
    "gcs": "pypicloud.storage.gcs:GoogleCloudStorage",
    "azure-blob": "pypicloud.storage.azure_blob:AzureBlobStorage",
    # The original pypicloud's dotted names keep working.
    "pypicloud.storage.FileStorage": "pypicloud.storage.files:FileStorage",
    "pypicloud.storage.S3Storage": "pypicloud.storage.s3:S3Storage",
    "pypicloud.storage.CloudFrontS3Storage": "pypicloud.storage.cloudfront:CloudFrontS3Storage",
    "pypicloud.storage.GoogleCloudStorage": "pypicloud.storage.gcs:GoogleCloudStorage",
    "pypicloud.storage.AzureBlobStorage": "pypicloud.storage.azure_blob:AzureBlobStorage",
}

__all__ = ["FileExists", "PackageNotStored", "Storage", "storage_from_settings"]


def storage_from_settings(settings: Settings) -> Storage:
    cls = load_backend(settings, "pypi.storage", BACKENDS, "file", kind=Storage)
    storage = cls.from_settings(settings)
    # Only file storage hands files to nginx; an empty value (PPC_STORAGE_ACCEL_REDIRECT=)
    # switches production.ini's setting off for the other backends.
    if settings.str("storage.accel_redirect") and not getattr(storage, "accel_location", None):
        raise ConfigError(
            "storage.accel_redirect", "works with file storage only (pypi.storage = file)"
        )
    return storage
