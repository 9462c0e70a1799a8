"""S3 storage whose downloads are served by a CloudFront distribution in front of the bucket.

Everything but ``download_url`` is ``S3Storage``. With a key pair (``cloud_front_key_id``
plus a PEM private key) URLs are CloudFront signed URLs with a canned policy that expires
after ``storage.expire_after`` seconds; without one they are plain URLs on the domain.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.s3 import S3Storage

KEY_ID = "storage.cloud_front_key_id"
KEY_FILE = "storage.cloud_front_key_file"
KEY_STRING = "storage.cloud_front_key_string"


class CloudFrontS3Storage(S3Storage):
    """Packages in S3, downloaded through CloudFront."""

    OWN_KEYS = S3Storage.OWN_KEYS | {"storage.cloud_front_domain", KEY_ID, KEY_FILE, KEY_STRING}
    #: CloudFront signatures have no SigV4 seven-day limit.
    MAX_EXPIRE_AFTER: ClassVar[int | None] = None

    def __init__(
        self,
        bucket: str,
        *,
        cloud_front_domain: str,
        cloud_front_key_id: str | None = None,
        cloud_front_key: rsa.RSAPrivateKey | None = None,
        **options: Any,
    ) -> None:
        super().__init__(bucket, **options)
        if "://" not in cloud_front_domain:
            cloud_front_domain = "https://" + cloud_front_domain
        self.cloud_front_domain = cloud_front_domain.rstrip("/")
        self.signer: CloudFrontSigner | None = None
        if cloud_front_key_id and cloud_front_key is not None:
            key = cloud_front_key

            def rsa_sign(message: bytes) -> bytes:
                return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

            self.signer = CloudFrontSigner(cloud_front_key_id, rsa_sign)

    @classmethod
    def options_from_settings(cls, settings: Settings) -> dict[str, Any]:
        options = super().options_from_settings(settings)
        options["cloud_front_domain"] = settings.str("storage.cloud_front_domain", required=True)
        key_id = settings.str(KEY_ID)
        key = load_private_key(settings)
        if key_id and key is None:
            raise ConfigError(KEY_ID, f"needs a private key in {KEY_FILE} or {KEY_STRING}")
        if key is not None and not key_id:
            raise ConfigError(KEY_ID, "is required when a CloudFront private key is given")
        options.update(cloud_front_key_id=key_id, cloud_front_key=key)
        return options

    def download_url(self, package: Package) -> str | None:
        url = f"{self.cloud_front_domain}/{quote(self.key_for(package))}"
        if self.signer is None:
            return url
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.options.expire_after)
        return self.signer.generate_presigned_url(url, date_less_than=expires)


def load_private_key(settings: Settings) -> rsa.RSAPrivateKey | None:
    """The RSA key from ``cloud_front_key_file`` or ``cloud_front_key_string``, checked now."""
    path, text = settings.str(KEY_FILE), settings.str(KEY_STRING)
    if path and text:
        raise ConfigError(KEY_STRING, f"give either {KEY_FILE} or {KEY_STRING}, not both")
    if path:
        source = KEY_FILE
        try:
            pem = Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise ConfigError(KEY_FILE, f"cannot read {path!r}: {exc}") from exc
    elif text:
        # An environment variable cannot hold newlines easily: accept literal "\n".
        source, pem = KEY_STRING, text.replace("\\n", "\n").encode("ascii", "replace")
    else:
        return None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(source, f"is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(source, "CloudFront needs an RSA private key")
    return key
