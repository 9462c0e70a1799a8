"""The botocore ``Config`` passthrough of ``storage.*`` keys (no network)."""

from __future__ import annotations

import pytest

from pypicloud.settings import ConfigError, Settings
from pypicloud.storage.botocore_config import client_config

OWN = frozenset({"storage.bucket", "storage.prefix"})


def settings(environ: dict[str, str] | None = None, **values) -> Settings:
    raw = {"storage.bucket": "b", **{f"storage.{k}": v for k, v in values.items()}}
    return Settings(raw, environ=environ or {})


def test_values_are_typed_for_config():
    config = client_config(
        settings(
            connect_timeout="7",
            read_timeout="2.5",
            max_pool_connections="5",
            signature_version="s3v4",
            tcp_keepalive="true",
            retries='{"max_attempts": 4, "mode": "standard"}',
        ),
        OWN,
    )
    assert (config.connect_timeout, config.read_timeout) == (7.0, 2.5)
    assert (config.max_pool_connections, config.signature_version) == (5, "s3v4")
    assert config.tcp_keepalive is True
    assert config.retries == {"max_attempts": 4, "mode": "standard"}
    assert config.s3 is None


def test_s3_sub_options_go_under_s3():
    config = client_config(settings(addressing_style="path", payload_signing_enabled="1"), OWN)
    assert config.s3 == {"addressing_style": "path", "payload_signing_enabled": True}


def test_own_keys_are_not_passed_through():
    raw = settings(prefix="p/")
    config = client_config(raw, OWN)
    assert config.s3 is None
    with pytest.raises(ConfigError, match="storage.prefix"):
        raw.check_unused()  # the caller reads its own keys


def test_every_passed_key_is_marked_read():
    raw = settings(connect_timeout="3", addressing_style="virtual", user_agent_extra="ci")
    client_config(raw, OWN)
    raw.mark_read("storage.bucket")
    raw.check_unused()


def test_empty_values_mean_botocores_default():
    config = client_config(settings(connect_timeout="", tcp_keepalive="", retries=""), OWN)
    assert config.connect_timeout == 60
    assert config.tcp_keepalive is None
    assert config.retries is None


def test_environment_reaches_the_passthrough():
    raw = settings(environ={"PPC_STORAGE_CONNECT_TIMEOUT": "9"})
    assert client_config(raw, OWN).connect_timeout == 9


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bogus_thing", "1"),
        ("dir", "/srv/packages"),  # another backend's option
        ("region_name", "eu-west-1"),  # the backend's own spelling, never botocore's
        ("s3", "{}"),
        ("connect_timeout", "abc"),
        ("max_pool_connections", "many"),
        ("tcp_keepalive", "perhaps"),
        ("retries", "5"),
        ("retries", '{"mode": "nonsense"}'),  # refused by botocore itself
        ("addressing_style", "sideways"),
        ("use_accelerate_endpoint", "maybe"),
    ],
)
def test_bad_key_or_value_names_the_key(key, value):
    with pytest.raises(ConfigError) as caught:
        client_config(settings(**{key: value}), OWN)
    assert caught.value.key == f"storage.{key}"
