"""CloudFront storage: S3 on the moto server, downloads as (signed) CloudFront URLs."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.parse

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pypicloud.models import Package
from pypicloud.settings import Settings
from pypicloud.storage.cloudfront import CloudFrontS3Storage

KEY_ID = "APKAEXAMPLE123"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path, private_key) -> str:
    path = tmp_path / "cloudfront.pem"
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


@pytest.fixture
def make_storage(s3_settings):
    def make(**extra) -> CloudFrontS3Storage:
        raw = dict(s3_settings, **{f"storage.{k}": v for k, v in extra.items()})
        settings = Settings(raw, environ={})
        storage = CloudFrontS3Storage.from_settings(settings)
        settings.check_unused()
        return storage

    return make


def package() -> Package:
    return Package("My.Pkg", "1.0", "my_pkg-1.0-py3-none-any.whl")


def cloudfront_b64decode(text: str) -> bytes:
    """CloudFront's URL-safe base64: '-' for '+', '_' for '=', '~' for '/'."""
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_signed_url_verifies_with_the_public_key(make_storage, key_file, private_key):
    storage = make_storage(
        cloud_front_domain="dxyz.cloudfront.net",
        cloud_front_key_id=KEY_ID,
        cloud_front_key_file=key_file,
        expire_after="900",
    )
    storage.upload(package(), io.BytesIO(b"x"))
    before = int(time.time())
    url = storage.download_url(package())

    parts = urllib.parse.urlsplit(url)
    resource = f"{parts.scheme}://{parts.netloc}{parts.path}"
    assert resource == f"https://dxyz.cloudfront.net/{storage.key_for(package())}"
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert set(query) == {"Expires", "Signature", "Key-Pair-Id"}
    assert query["Key-Pair-Id"] == KEY_ID
    expires = int(query["Expires"])
    assert before + 900 <= expires <= int(time.time()) + 901

    # The canned policy CloudFront rebuilds from the URL, byte for byte (compact JSON).
    policy = json.dumps(
        {
            "Statement": [
                {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
            ]
        },
        separators=(",", ":"),
    ).encode()
    signature = cloudfront_b64decode(query["Signature"])
    public = private_key.public_key()
    public.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(InvalidSignature):
        public.verify(
            signature, policy.replace(b"dxyz", b"evil"), padding.PKCS1v15(), hashes.SHA1()
        )


def test_key_string_and_domain_with_scheme(make_storage, private_key):
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    storage = make_storage(
        cloud_front_domain="https://cdn.example.com/",
        cloud_front_key_id=KEY_ID,
        cloud_front_key_string=pem,
    )
    url = storage.download_url(package())
    assert url.startswith(f"https://cdn.example.com/{storage.key_for(package())}?Expires=")
    expires = int(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["Expires"])
    assert abs(expires - (time.time() + 86400)) < 5  # the default lifetime


def test_without_a_key_urls_are_plain(make_storage):
    storage = make_storage(cloud_front_domain="dxyz.cloudfront.net", prefix="pkgs/")
    assert storage.redirect_urls is True
    assert storage.download_url(package()) == (
        f"https://dxyz.cloudfront.net/{storage.key_for(package())}"
    )
    assert storage.key_for(package()).startswith("pkgs/")


def test_storage_is_the_s3_storage(make_storage):
    storage = make_storage(cloud_front_domain="dxyz.cloudfront.net")
    storage.upload(package(), io.BytesIO(b"through s3"))
    [listed] = storage.list()
    assert listed.name == "my-pkg"
    with storage.open(listed) as handle:
        assert handle.read() == b"through s3"
