"""Reading the ``storage.*`` settings of the S3 and CloudFront backends (no network)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.cloudfront import CloudFrontS3Storage
from pypicloud.storage.object_options import ObjectOptions
from pypicloud.storage.s3 import S3Storage

BAD_PEM = "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----"
BASE = {"storage.bucket": "my-bucket", "storage.region_name": "eu-west-1"}


def settings(**extra) -> Settings:
    return Settings({**BASE, **{f"storage.{k}": v for k, v in extra.items()}}, environ={})


def build(cls=S3Storage, **extra):
    """A storage from settings without touching the network (no bucket check)."""
    return cls(**cls.options_from_settings(settings(**extra)), create_bucket=False)


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def test_defaults_match_the_original():
    storage = build()
    assert storage.bucket == "my-bucket"
    assert storage.options == ObjectOptions(
        prefix="", prepend_hash=True, expire_after=86400, redirect_urls=True, public_url=False
    )
    assert storage.redirect_urls is True
    assert storage.write_args == {}  # objects private by default, without an ACL header
    assert storage.client.meta.region_name == "eu-west-1"


def test_own_options_are_typed():
    storage = build(
        prefix="packages/",
        prepend_hash="false",
        expire_after="600",
        redirect_urls="no",
        public_url="true",
        object_acl="public-read",
        server_side_encryption="aws:kms",
        sse_kms_key_id="alias/pypi",
        storage_class="STANDARD_IA",
    )
    assert storage.options == ObjectOptions(
        prefix="packages/",
        prepend_hash=False,
        expire_after=600,
        redirect_urls=False,
        public_url=True,
    )
    assert storage.redirect_urls is False
    assert storage.write_args == {
        "ACL": "public-read",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/pypi",
        "StorageClass": "STANDARD_IA",
    }


def test_passthrough_reaches_the_client_config():
    storage = build(
        connect_timeout="7",
        read_timeout="2.5",
        max_pool_connections="5",
        signature_version="s3v4",
        tcp_keepalive="true",
        retries='{"max_attempts": 4, "mode": "standard"}',
        addressing_style="path",
        payload_signing_enabled="true",
    )
    config = storage.client.meta.config
    assert config.connect_timeout == 7
    assert config.read_timeout == 2.5
    assert config.max_pool_connections == 5
    assert config.signature_version == "s3v4"
    assert config.tcp_keepalive is True
    assert config.retries["mode"] == "standard"
    assert config.s3 == {"addressing_style": "path", "payload_signing_enabled": True}
    assert storage.workers == 5  # list() never waits for a pooled connection


def test_default_pool_is_large_enough_for_listing():
    assert build().client.meta.config.max_pool_connections == 32


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bogus_thing", "1"),  # the botocore passthrough's own cases: test_botocore_config
        ("connect_timeout", "abc"),
        ("object_acl", "world-writable"),
        ("server_side_encryption", "rot13"),
        ("storage_class", "CHEAP"),
        ("expire_after", "0"),
        ("prepend_hash", "maybe"),
    ],
)
def test_bad_option_is_a_config_error_naming_the_key(key, value):
    with pytest.raises(ConfigError) as caught:
        S3Storage.options_from_settings(settings(**{key: value}))
    assert caught.value.key == f"storage.{key}"
    assert f"storage.{key}" in str(caught.value)


def test_bucket_is_required():
    with pytest.raises(ConfigError, match="storage.bucket"):
        S3Storage.options_from_settings(Settings({}, environ={}))


def test_half_a_key_pair_is_refused():
    with pytest.raises(ConfigError) as caught:
        S3Storage.options_from_settings(settings(aws_access_key_id="AKIA"))
    assert caught.value.key == "storage.aws_secret_access_key"


def test_session_token_needs_a_key():
    with pytest.raises(ConfigError) as caught:
        S3Storage.options_from_settings(settings(aws_session_token="tok"))
    assert caught.value.key == "storage.aws_session_token"


def test_empty_pool_size_means_ours_not_botocores():
    assert build(max_pool_connections="").client.meta.config.max_pool_connections == 32


def test_kms_key_needs_kms_encryption():
    with pytest.raises(ConfigError) as caught:
        S3Storage.options_from_settings(settings(sse_kms_key_id="alias/x"))
    assert caught.value.key == "storage.sse_kms_key_id"


def test_every_key_is_marked_read():
    raw = settings(
        aws_access_key_id="a",
        aws_secret_access_key="b",
        aws_session_token="c",
        endpoint_url="http://localhost:1",
        connect_timeout="3",
        addressing_style="virtual",
    )
    S3Storage.options_from_settings(raw)
    raw.check_unused()


def test_environment_overrides_reach_the_passthrough():
    raw = Settings(BASE, environ={"PPC_STORAGE_CONNECT_TIMEOUT": "9"})
    storage = S3Storage(**S3Storage.options_from_settings(raw), create_bucket=False)
    assert storage.client.meta.config.connect_timeout == 9


# -- CloudFront ------------------------------------------------------------------------


def test_cloudfront_domain_is_required():
    with pytest.raises(ConfigError) as caught:
        CloudFrontS3Storage.options_from_settings(settings())
    assert caught.value.key == "storage.cloud_front_domain"


def test_cloudfront_domain_gets_a_scheme():
    storage = build(CloudFrontS3Storage, cloud_front_domain="dxyz.cloudfront.net/")
    assert storage.cloud_front_domain == "https://dxyz.cloudfront.net"
    assert storage.signer is None


def test_cloudfront_key_id_without_key():
    with pytest.raises(ConfigError) as caught:
        build(CloudFrontS3Storage, cloud_front_domain="d.net", cloud_front_key_id="APKA1")
    assert caught.value.key == "storage.cloud_front_key_id"


def test_cloudfront_key_without_key_id():
    with pytest.raises(ConfigError) as caught:
        build(CloudFrontS3Storage, cloud_front_domain="d.net", cloud_front_key_string=rsa_pem())
    assert caught.value.key == "storage.cloud_front_key_id"


def test_cloudfront_malformed_key_string():
    with pytest.raises(ConfigError) as caught:
        build(
            CloudFrontS3Storage,
            cloud_front_domain="d.net",
            cloud_front_key_id="APKA1",
            cloud_front_key_string=BAD_PEM,
        )
    assert caught.value.key == "storage.cloud_front_key_string"


def test_cloudfront_missing_key_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        build(
            CloudFrontS3Storage,
            cloud_front_domain="d.net",
            cloud_front_key_id="APKA1",
            cloud_front_key_file=str(tmp_path / "absent.pem"),
        )
    assert caught.value.key == "storage.cloud_front_key_file"


def test_cloudfront_needs_an_rsa_key():
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ConfigError, match="RSA") as caught:
        build(
            CloudFrontS3Storage,
            cloud_front_domain="d.net",
            cloud_front_key_id="APKA1",
            cloud_front_key_string=pem,
        )
    assert caught.value.key == "storage.cloud_front_key_string"


def test_cloudfront_key_string_from_environment_with_escaped_newlines():
    pem = rsa_pem().replace("\n", "\\n")
    raw = Settings(
        {**BASE, "storage.cloud_front_domain": "d.net", "storage.cloud_front_key_id": "APKA1"},
        environ={"PPC_STORAGE_CLOUD_FRONT_KEY_STRING": pem},
    )
    storage = CloudFrontS3Storage(
        **CloudFrontS3Storage.options_from_settings(raw), create_bucket=False
    )
    assert storage.signer is not None
    raw.check_unused()


def test_cloudfront_options_are_not_passed_to_botocore():
    storage = build(CloudFrontS3Storage, cloud_front_domain="d.net", connect_timeout="4")
    assert storage.client.meta.config.connect_timeout == 4
