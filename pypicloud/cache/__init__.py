"""Cache (package database) backends, chosen by ``pypi.db``."""

from __future__ import annotations

from pypicloud.backends import load_backend
from pypicloud.cache.base import AlreadyCached, Cache
from pypicloud.settings import Settings

BACKENDS = {
    "sql": "pypicloud.cache.sql:SQLCache",
    "pypicloud.cache.SQLCache": "pypicloud.cache.sql:SQLCache",
    "pypicloud.cache.sql.SQLCache": "pypicloud.cache.sql:SQLCache",
    "redis": "pypicloud.cache.redis_cache:RedisCache",
    "pypicloud.cache.RedisCache": "pypicloud.cache.redis_cache:RedisCache",
    "pypicloud.cache.redis_cache.RedisCache": "pypicloud.cache.redis_cache:RedisCache",
    "dynamo": "pypicloud.cache.dynamo:DynamoCache",
    "pypicloud.cache.dynamo.DynamoCache": "pypicloud.cache.dynamo:DynamoCache",
}

__all__ = ["AlreadyCached", "Cache", "cache_from_settings"]


def cache_from_settings(settings: Settings) -> Cache:
    cls = load_backend(settings, "pypi.db", BACKENDS, "sql", kind=Cache)
    return cls.from_settings(settings)
