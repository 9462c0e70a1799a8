"""Reading the Secrets Manager backend's settings (no AWS call is made at start-up)."""

from __future__ import annotations

import pytest

from pypicloud.access import BACKENDS, backend_from_settings
from pypicloud.access.aws_secrets_manager import AWSSecretsManagerAccess
from pypicloud.settings import ConfigError, Settings

BASE = {"pypi.auth": "aws_secrets_manager", "auth.secret_id": "pypi/acl"}


def backend(**raw: str) -> AWSSecretsManagerAccess:
    settings = Settings({**BASE, "auth.region_name": "eu-west-1", **raw}, environ={})
    found = backend_from_settings(settings)
    assert isinstance(found, AWSSecretsManagerAccess)
    return found


def test_every_key():
    found = backend(
        **{
            "auth.kms_key_id": "alias/pypi",
            "auth.aws_access_key_id": "AKIDEXAMPLE",
            "auth.aws_secret_access_key": "secret",
            "auth.aws_session_token": "token",
            "auth.endpoint_url": "http://127.0.0.1:5000",
        }
    )
    assert found.secret_id == "pypi/acl" and found.kms_key_id == "alias/pypi"
    assert found.client.meta.region_name == "eu-west-1"
    assert found.client.meta.endpoint_url == "http://127.0.0.1:5000"
    credentials = found.client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        "AKIDEXAMPLE",
        "secret",
        "token",
    )


def test_the_kms_key_is_optional():
    assert backend().kms_key_id is None


@pytest.mark.parametrize(
    "key, raw, message",
    [
        ("auth.secret_id", {"auth.secret_id": ""}, "is required"),
        ("auth.aws_secret_access_key", {"auth.aws_access_key_id": "AKID"}, "other half"),
        ("auth.aws_access_key_id", {"auth.aws_secret_access_key": "s"}, "other half"),
        ("auth.endpoint_url", {"auth.endpoint_url": "localhost:5000"}, "http(s) URL"),
        ("auth.profile_name", {"auth.profile_name": "no-such-profile-here"}, "not be found"),
    ],
)
def test_bad_settings_name_the_key(key, raw, message):
    with pytest.raises(ConfigError) as raised:
        backend(**raw)
    assert raised.value.key == key and message in str(raised.value)


def test_a_region_is_required(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError) as raised:
        backend_from_settings(Settings(BASE, environ={}))
    assert raised.value.key == "auth.region_name"


@pytest.mark.parametrize(
    "name",
    [
        "aws_secrets_manager",
        "pypicloud.access.AWSSecretsManagerAccessBackend",
        "pypicloud.access.aws_secrets_manager.AWSSecretsManagerAccessBackend",
    ],
)
def test_the_short_name_and_the_originals_dotted_names(name):
    assert name in BACKENDS
    assert isinstance(backend(**{"pypi.auth": name}), AWSSecretsManagerAccess)
