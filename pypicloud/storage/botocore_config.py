"""The botocore ``Config`` passthrough: ``storage.*`` keys S3 does not read itself.

The original pypicloud handed any other ``storage.*`` key to botocore, so ini files carry
``storage.connect_timeout`` or ``storage.addressing_style``. Values arrive as strings and are
typed here; botocore checks each one, so its complaint names our key.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError

from pypicloud.settings import ConfigError, Settings

# botocore ``Config`` options that need a type other than str; the rest are strings, so
# options added by newer botocore releases pass through without a change here.
_BOOL = "bool"
_INT = "int"
_FLOAT = "float"
_JSON = "json"
CONFIG_TYPES = {
    "connect_timeout": _FLOAT,
    "read_timeout": _FLOAT,
    "max_pool_connections": _INT,
    "request_min_compression_size_bytes": _INT,
    "parameter_validation": _BOOL,
    "inject_host_prefix": _BOOL,
    "endpoint_discovery_enabled": _BOOL,
    "use_dualstack_endpoint": _BOOL,
    "use_fips_endpoint": _BOOL,
    "ignore_configured_endpoint_urls": _BOOL,
    "tcp_keepalive": _BOOL,
    "disable_request_compression": _BOOL,
    "s3_disable_express_session_auth": _BOOL,
    "proxies": _JSON,
    "proxies_config": _JSON,
    "retries": _JSON,
    "client_context_params": _JSON,
}
# Options of ``Config(s3={...})``, written as ``storage.<option>``.
S3_CONFIG_TYPES = {
    "addressing_style": "str",
    "use_accelerate_endpoint": _BOOL,
    "payload_signing_enabled": _BOOL,
    "us_east_1_regional_endpoint": "str",
    "use_arn_region": _BOOL,
    "s3_disable_multiregion_access_points": _BOOL,
}
# Config options we set ourselves or that have a better spelling.
CONFIG_EXCLUDED = {"region_name", "s3"}
# storage.* keys of every backend, checked by storage_from_settings.
SHARED_KEYS = frozenset({"storage.accel_redirect"})


def client_config(settings: Settings, own_keys: frozenset[str]) -> Config:
    """A botocore Config from every ``storage.*`` key that is not one of ``own_keys``.

    Names are ``Config`` options (``storage.connect_timeout``) or its ``s3`` sub-options
    (``storage.addressing_style``). Anything else is a start-up error naming the key.
    """
    top: dict[str, Any] = {}
    s3: dict[str, Any] = {}
    known = set(Config.OPTION_DEFAULTS) - CONFIG_EXCLUDED
    for key in sorted(settings.keys_with_prefix("storage.")):
        if key in own_keys or key in SHARED_KEYS:
            continue
        option = key.removeprefix("storage.")
        if option in known:
            target, kind = top, CONFIG_TYPES.get(option, "str")
        elif option in S3_CONFIG_TYPES:
            target, kind = s3, S3_CONFIG_TYPES[option]
        else:
            raise ConfigError(key, "is neither an S3 storage setting nor a botocore Config option")
        value = _convert(settings, key, kind)
        if value is None:  # an empty value means "botocore's default"
            continue
        target[option] = value
        _check(key, {option: value} if target is top else {"s3": {option: value}})
    if "addressing_style" in s3 and s3["addressing_style"] not in ("auto", "virtual", "path"):
        raise ConfigError("storage.addressing_style", "expected auto, virtual or path")
    if s3:
        top["s3"] = s3
    return Config(**top)


def _convert(settings: Settings, key: str, kind: str) -> Any:
    if kind == _BOOL:
        return None if settings.get(key) in (None, "") else settings.bool(key)
    if kind == _INT:
        return settings.int(key)
    value = settings.get(key)
    if value is None or value == "":
        return None
    if kind == _FLOAT:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected a number, got {value!r}") from None
    if kind == _JSON:
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            parsed = None
        if not isinstance(parsed, dict):
            raise ConfigError(key, f"expected a JSON object, got {value!r}")
        return parsed
    return settings.str(key)


def _check(key: str, options: dict[str, Any]) -> None:
    """Let botocore validate one option, so its complaint names our key."""
    try:
        Config(**options)
    except (BotoCoreError, TypeError, ValueError) as exc:
        raise ConfigError(key, str(exc)) from exc
