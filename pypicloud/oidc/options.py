"""The ``pypi.trusted_publishing`` and ``pypi.oidc_*`` settings."""

from __future__ import annotations

import dataclasses

from pypicloud.settings import ConfigError, Settings

DEFAULT_AUDIENCE = "pypicloud"
DEFAULT_TOKEN_LIFETIME = 900
MAX_TOKEN_LIFETIME = 6 * 3600
DEFAULT_LEEWAY = 30
MAX_LEEWAY = 300
DEFAULT_FETCH_TIMEOUT = 5
MAX_FETCH_TIMEOUT = 60
DEFAULT_KEYS_CACHE_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class PublishingOptions:
    enabled: bool = False
    audience: str = DEFAULT_AUDIENCE
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    leeway: int = DEFAULT_LEEWAY
    fetch_timeout: int = DEFAULT_FETCH_TIMEOUT
    keys_cache_seconds: int = DEFAULT_KEYS_CACHE_SECONDS
    allow_http: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PublishingOptions:
        audience = settings.str("pypi.oidc_audience", DEFAULT_AUDIENCE) or DEFAULT_AUDIENCE
        if len(audience) > 255 or any(c.isspace() for c in audience):
            raise ConfigError("pypi.oidc_audience", "must be one word of at most 255 characters")
        return cls(
            enabled=settings.bool("pypi.trusted_publishing", False),
            audience=audience,
            token_lifetime=_bounded(
                settings, "pypi.oidc_token_lifetime", DEFAULT_TOKEN_LIFETIME, 60, MAX_TOKEN_LIFETIME
            ),
            leeway=_bounded(settings, "pypi.oidc_leeway", DEFAULT_LEEWAY, 0, MAX_LEEWAY),
            fetch_timeout=_bounded(
                settings, "pypi.oidc_fetch_timeout", DEFAULT_FETCH_TIMEOUT, 1, MAX_FETCH_TIMEOUT
            ),
            keys_cache_seconds=_bounded(
                settings, "pypi.oidc_keys_cache_seconds", DEFAULT_KEYS_CACHE_SECONDS, 0, 86400
            ),
            allow_http=settings.bool("pypi.oidc_allow_http", False),
        )


def _bounded(settings: Settings, key: str, default: int, minimum: int, maximum: int) -> int:
    value = settings.int(key, default, minimum=minimum)
    value = default if value is None else value
    if value > maximum:
        raise ConfigError(key, f"must be at most {maximum}, got {value}")
    return value
