"""The Redis backend reads and writes the original pypicloud's key layout, byte for byte."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pypicloud.cache import AlreadyCached
from pypicloud.cache.redis_cache import RedisCache
from pypicloud.models import Package

redis = pytest.importorskip("redis")

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.fixture
def client(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def fill_as_the_original(client, p: str) -> None:
    """Keys exactly as pypicloud 1.3 wrote them for one project with two files."""
    for version, when, summary in (("1.0", 1700000000.5, ""), ("2.0", 1700000100.25, "Two")):
        filename = f"demo_pkg-{version}.tar.gz"
        client.hset(
            f"{p}package:{filename}",
            mapping={
                "name": "demo-pkg",
                "version": version,
                "filename": filename,
                "last_modified": str(when),
                "summary": summary,
                "hash_sha256": json.dumps("ab" * 32),
                "uploader": json.dumps("alice"),
            },
        )
        client.sadd(f"{p}set:demo-pkg", filename)
    client.sadd(f"{p}set", "demo-pkg")
    client.hset(
        f"{p}summary:demo-pkg",
        mapping={"name": "demo-pkg", "summary": "Two", "last_modified": "1700000100.25"},
    )


def test_a_redis_filled_by_the_original_is_served_as_is(client, redis_url, redis_prefix):
    fill_as_the_original(client, redis_prefix)
    cache = RedisCache(redis.Redis.from_url(redis_url), redis_prefix)
    assert cache.distinct() == ["demo-pkg"]
    newest, oldest = cache.all("demo-pkg")
    assert newest == Package(
        "demo-pkg",
        "2.0",
        "demo_pkg-2.0.tar.gz",
        dt.datetime.fromtimestamp(1700000100.25, dt.UTC),
        "Two",
        {"hash_sha256": "ab" * 32, "uploader": "alice"},
    )
    assert oldest.summary is None
    [row] = cache.summary()
    assert (row.name, row.summary, row.stable) == ("demo-pkg", "Two", "2.0")
    assert cache.serial() == 0  # no serial key yet: the original had none
    with pytest.raises(AlreadyCached):
        cache.add(oldest)
    cache.delete(newest)
    assert client.hgetall(f"{redis_prefix}summary:demo-pkg")["summary"] == ""
    assert client.smembers(f"{redis_prefix}set:demo-pkg") == {"demo_pkg-1.0.tar.gz"}


def test_what_the_backend_writes_has_the_original_layout(client, redis_url, redis_prefix):
    cache = RedisCache(redis.Redis.from_url(redis_url), redis_prefix)
    package = Package(
        "Demo_Pkg", "1.0", "Demo_Pkg-1.0.tar.gz", WHEN, None, {"hash_sha256": "cd" * 32}
    )
    cache.add(package)
    cache.save_core_metadata(package.filename, b"Name: Demo_Pkg")
    p = redis_prefix
    assert client.hgetall(f"{p}package:Demo_Pkg-1.0.tar.gz") == {
        "name": "demo-pkg",
        "version": "1.0",
        "filename": "Demo_Pkg-1.0.tar.gz",
        "last_modified": str(WHEN.timestamp()),
        "summary": "",
        "hash_sha256": '"' + "cd" * 32 + '"',
    }
    assert client.smembers(f"{p}set") == {"demo-pkg"}
    assert client.smembers(f"{p}set:demo-pkg") == {"Demo_Pkg-1.0.tar.gz"}
    assert client.hgetall(f"{p}summary:demo-pkg") == {
        "name": "demo-pkg",
        "summary": "",
        "last_modified": str(WHEN.timestamp()),
    }
    assert client.get(f"{p}core_metadata:Demo_Pkg-1.0.tar.gz") == "Name: Demo_Pkg"
    assert client.get(f"{p}serial") == "1"
    # Ours: the serial of each file's last write, which a rebuild running meanwhile keeps.
    assert client.zrange(f"{p}changes", 0, -1, withscores=True) == [("Demo_Pkg-1.0.tar.gz", 1)]
    cache.delete(package)
    assert sorted(client.keys(f"{p}*")) == [f"{p}changes", f"{p}serial"]
    assert client.zscore(f"{p}changes", "Demo_Pkg-1.0.tar.gz") == 2  # a delete is noted too


def test_every_write_is_one_transaction(client, redis_url, redis_prefix, monkeypatch):
    """A write that fails before EXEC leaves nothing behind: its commands were only queued."""
    cache = RedisCache(redis.Redis.from_url(redis_url), redis_prefix)

    def explode(*args, **kwargs):
        raise RuntimeError("crash between commands")

    monkeypatch.setattr(cache, "_queue_summary", explode)
    with pytest.raises(RuntimeError):
        cache.add(Package("pkg", "1.0", "pkg-1.0.tar.gz", WHEN))
    assert client.keys(f"{redis_prefix}*") == []


def test_from_settings(redis_url):
    from pypicloud.settings import ConfigError, Settings

    cache = RedisCache.from_settings(
        Settings({"db.url": redis_url, "db.redis_prefix": "x:"}, environ={})
    )
    assert cache.prefix == "x:" and not cache.clustered
    assert cache.check_health() == (True, "")
    with pytest.raises(ConfigError, match="db.url"):
        RedisCache.from_settings(Settings({"db.url": "http://nope"}, environ={}))
