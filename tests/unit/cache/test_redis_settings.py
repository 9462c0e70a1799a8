"""Choosing the Redis backend: the missing extra, the cluster client."""

from __future__ import annotations

import pytest

from pypicloud.cache import cache_from_settings
from pypicloud.settings import ConfigError, Settings
from tests.hide_modules import hide_modules


def test_a_missing_redis_module_names_the_extra(monkeypatch):
    hide_modules(monkeypatch, "redis", "pypicloud.cache.redis_cache")
    with pytest.raises(ConfigError, match=r"pip install 'pypicloud\[redis\]'"):
        cache_from_settings(Settings({"pypi.db": "redis"}, environ={}))


@pytest.mark.parametrize("name", ["redis", "pypicloud.cache.RedisCache"])
def test_clustered_uses_the_cluster_client(monkeypatch, name):
    import redis

    opened: list[str] = []
    monkeypatch.setattr(redis.RedisCluster, "from_url", lambda url: opened.append(url) or url)
    settings = {"pypi.db": name, "db.url": "redis://node:7000/0", "db.clustered": "true"}
    cache = cache_from_settings(Settings(settings, environ={}))
    assert opened == ["redis://node:7000/0"]
    assert cache.clustered  # type: ignore[attr-defined]
