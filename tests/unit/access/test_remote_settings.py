"""Reading the remote backend's settings: the original's keys and defaults, bad values named."""

from __future__ import annotations

import pytest

from pypicloud.access import BACKENDS, backend_from_settings
from pypicloud.access.remote import URI_DEFAULTS, RemoteAccess, RemoteConfig
from pypicloud.settings import ConfigError, Settings

SERVER = "http://auth.example.com"


def config(**raw: str) -> RemoteConfig:
    return RemoteConfig.from_settings(Settings({"auth.backend_server": SERVER, **raw}, environ={}))


def test_defaults_are_the_originals():
    found = config()
    assert found.server == SERVER and found.auth is None
    assert found.cache_time == 300 and found.timeout == 5.0
    assert found.uris == URI_DEFAULTS
    assert found.uris["verify"] == "/verify"
    assert found.uris["user_package_permissions"] == "/user_package_permissions"
    assert found.uris["all_permissions"] is None


def test_every_key():
    uris = {f"auth.uri.{name}": f"/api/{name}" for name in URI_DEFAULTS}
    found = config(
        **{"auth.user": "svc", "auth.password": "pw", "auth.remote.cache_time": "0"},
        **{"auth.remote.timeout": "0.5"},
        **uris,
    )
    assert found.auth == ("svc", "pw")
    assert found.cache_time == 0 and found.timeout == 0.5
    assert found.uris == {name: f"/api/{name}" for name in URI_DEFAULTS}


def test_a_user_without_a_password_sends_an_empty_one():
    assert config(**{"auth.user": "svc"}).auth == ("svc", "")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("auth.backend_server", "", "is required"),
        ("auth.backend_server", "ftp://x", "not an http(s) URL"),
        ("auth.backend_server", "auth.example.com", "not an http(s) URL"),
        ("auth.password", "pw", "needs auth.user"),
        ("auth.uri.verify", "verify", "starting with /"),
        ("auth.uri.all_permissions", "http://x/all", "starting with /"),
        ("auth.remote.cache_time", "-1", "at least 0"),
        ("auth.remote.cache_time", "soon", "whole number"),
        ("auth.remote.timeout", "0", "more than 0"),
        ("auth.remote.timeout", "fast", "number of seconds"),
    ],
)
def test_bad_settings_name_the_key(key, value, message):
    with pytest.raises(ConfigError) as raised:
        config(**{key: value})
    assert raised.value.key == key and message in str(raised.value)


@pytest.mark.parametrize(
    "name",
    [
        "remote",
        "pypicloud.access.RemoteAccessBackend",
        "pypicloud.access.remote.RemoteAccessBackend",
    ],
)
def test_the_short_name_and_the_originals_dotted_names(name):
    assert name in BACKENDS
    settings = Settings({"pypi.auth": name, "auth.backend_server": SERVER}, environ={})
    assert isinstance(backend_from_settings(settings), RemoteAccess)
