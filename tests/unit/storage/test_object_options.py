"""The ``storage.*`` options every object store shares (no network)."""

from __future__ import annotations

import pytest

from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.azure_blob import AzureBlobStorage
from pypicloud.storage.cloudfront import CloudFrontS3Storage
from pypicloud.storage.gcs import GoogleCloudStorage
from pypicloud.storage.object_options import (
    V4_MAX_EXPIRE_AFTER,
    ObjectOptions,
    expire_after_from_settings,
)
from pypicloud.storage.s3 import S3Storage

WEEK = 7 * 24 * 3600


def settings(**values) -> Settings:
    return Settings({f"storage.{k}": v for k, v in values.items()}, environ={})


def test_defaults_are_the_original_pypiclouds():
    options = ObjectOptions.from_settings(settings(), max_expire=None)
    assert options == ObjectOptions(
        prefix="", prepend_hash=True, expire_after=86400, redirect_urls=True, public_url=False
    )


def test_values_are_typed():
    raw = settings(prefix="pkgs/", prepend_hash="no", expire_after="60", redirect_urls="off")
    options = ObjectOptions.from_settings(raw, max_expire=None)
    assert (options.prefix, options.prepend_hash) == ("pkgs/", False)
    assert (options.expire_after, options.redirect_urls) == (60, False)
    raw.check_unused()


def test_prefix_is_kept_verbatim():
    assert ObjectOptions.from_settings(settings(prefix="a/b-"), max_expire=None).prefix == "a/b-"


def test_without_a_hash_directory_prepend_hash_is_not_a_key():
    raw = settings(prepend_hash="true")
    options = ObjectOptions.from_settings(raw, max_expire=None, hash_directory=False)
    assert options.prepend_hash is False
    with pytest.raises(ConfigError, match="storage.prepend_hash"):
        raw.check_unused()


def test_public_url_is_read_only_where_it_applies():
    raw = settings(public_url="true")
    assert ObjectOptions.from_settings(raw, max_expire=None, public_url=True).public_url is True
    raw = settings(public_url="true")
    assert ObjectOptions.from_settings(raw, max_expire=None).public_url is False
    with pytest.raises(ConfigError, match="storage.public_url"):
        raw.check_unused()


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_bad_expire_after_names_the_key(value):
    with pytest.raises(ConfigError) as caught:
        expire_after_from_settings(settings(expire_after=value), max_expire=None)
    assert caught.value.key == "storage.expire_after"


def test_expire_after_cap():
    assert expire_after_from_settings(settings(expire_after=str(WEEK)), max_expire=WEEK) == WEEK
    with pytest.raises(ConfigError) as caught:
        expire_after_from_settings(settings(expire_after=str(WEEK + 1)), max_expire=WEEK)
    assert caught.value.key == "storage.expire_after"
    assert str(WEEK) in str(caught.value)
    assert expire_after_from_settings(settings(expire_after="99999999"), max_expire=None)


@pytest.mark.parametrize(
    ("backend", "cap"),
    [
        (S3Storage, WEEK),  # SigV4
        (GoogleCloudStorage, WEEK),  # V4 signed URLs
        (CloudFrontS3Storage, None),  # CloudFront's own signatures
        (AzureBlobStorage, None),  # SAS tokens
    ],
)
def test_each_backend_declares_its_cap(backend, cap):
    assert cap == backend.MAX_EXPIRE_AFTER
    assert V4_MAX_EXPIRE_AFTER == WEEK


def test_s3_refuses_a_url_longer_than_sigv4_allows():
    raw = Settings({"storage.bucket": "b", "storage.expire_after": str(WEEK + 1)}, environ={})
    with pytest.raises(ConfigError) as caught:
        S3Storage.options_from_settings(raw)
    assert caught.value.key == "storage.expire_after"


def test_cloudfront_has_no_such_limit():
    raw = Settings(
        {
            "storage.bucket": "b",
            "storage.cloud_front_domain": "d.net",
            "storage.expire_after": str(WEEK + 1),
        },
        environ={},
    )
    assert CloudFrontS3Storage.options_from_settings(raw)["options"].expire_after == WEEK + 1
