"""The DynamoDB backend reads and writes the original pypicloud's two tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pypicloud.cache import AlreadyCached
from pypicloud.cache.dynamo import DynamoCache
from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from tests.fixtures.caches import dynamo_client

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=dt.UTC)


@pytest.fixture
def client(moto_endpoint):
    return dynamo_client(moto_endpoint)


def fill_as_the_original(client, namespace: str) -> None:
    """Items as pypicloud 1.3 (flywheel) wrote them: epoch numbers, a map for ``data``."""
    DynamoCache(client, namespace)  # the original created the same two tables
    for version, when, summary in (("1.0", "1700000000.5", None), ("2.0", "1700000100.25", "Two")):
        item = {
            "filename": {"S": f"demo_pkg-{version}.tar.gz"},
            "name": {"S": "demo-pkg"},
            "version": {"S": version},
            "last_modified": {"N": when},
            "data": {"M": {"hash_sha256": {"S": "ab" * 32}, "uploader": {"S": "alice"}}},
        }
        if summary:
            item["summary"] = {"S": summary}
        client.put_item(TableName=f"{namespace}DynamoPackage", Item=item)
    client.put_item(
        TableName=f"{namespace}PackageSummary",
        Item={
            "name": {"S": "demo-pkg"},
            "summary": {"S": "Two"},
            "last_modified": {"N": "1700000100.25"},
        },
    )


def test_tables_filled_by_the_original_are_served_as_is(client, dynamo_namespace):
    fill_as_the_original(client, dynamo_namespace)
    cache = DynamoCache(client, dynamo_namespace)
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
    with pytest.raises(AlreadyCached):
        cache.add(oldest)
    cache.delete(newest)
    [row] = cache.summary()
    assert (row.summary, row.stable) == (None, "1.0")


def test_what_the_backend_writes_has_the_original_layout(client, dynamo_namespace):
    cache = DynamoCache(client, dynamo_namespace)
    data = {"hash_sha256": "cd" * 32, "yanked": True, "size": 12}
    cache.add(Package("Demo_Pkg", "1.0", "Demo_Pkg-1.0.tar.gz", WHEN, None, data))
    table = f"{dynamo_namespace}DynamoPackage"
    item = client.get_item(TableName=table, Key={"filename": {"S": "Demo_Pkg-1.0.tar.gz"}})
    assert item["Item"] == {
        "filename": {"S": "Demo_Pkg-1.0.tar.gz"},
        "name": {"S": "demo-pkg"},
        "version": {"S": "1.0"},
        "last_modified": {"N": "1704164645.250000"},
        "data": {
            "M": {"hash_sha256": {"S": "cd" * 32}, "yanked": {"BOOL": True}, "size": {"N": "12"}}
        },
    }
    described = client.describe_table(TableName=table)["Table"]
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["name-index"]
    summary = client.get_item(
        TableName=f"{dynamo_namespace}PackageSummary", Key={"name": {"S": "demo-pkg"}}
    )["Item"]
    assert Decimal(summary["last_modified"]["N"]) == Decimal("1704164645.25")
    assert "summary" not in summary
    assert cache.serial() == 1


def test_tablenames_override_and_settings(moto_endpoint, dynamo_namespace):
    host, port = moto_endpoint.removeprefix("http://").split(":")
    settings = {
        "db.host": host,
        "db.port": port,
        "db.namespace": dynamo_namespace,
        "db.tablenames": "pkgs sums",
        "db.aws_access_key_id": "testing",
        "db.aws_secret_access_key": "testing",
    }
    cache = DynamoCache.from_settings(Settings(settings, environ={}))
    assert (cache.packages, cache.summaries) == (
        f"{dynamo_namespace}pkgs",
        f"{dynamo_namespace}sums",
    )
    assert cache.check_health() == (True, "")
    with pytest.raises(ConfigError, match="db.tablenames"):
        DynamoCache.from_settings(Settings({**settings, "db.tablenames": "one"}, environ={}))
    with pytest.raises(ConfigError, match="db.region_name"):
        DynamoCache.from_settings(Settings({}, environ={}))


def test_writers_wait_while_a_reload_holds_the_lock(client, dynamo_namespace):
    import threading
    import time

    cache = DynamoCache(client, dynamo_namespace)
    record = Package("pkg", "1.0", "pkg-1.0.tar.gz", WHEN)
    owner = cache._lock()
    writer = threading.Thread(target=lambda: cache.save(record))
    writer.start()
    time.sleep(0.5)
    assert cache.fetch(record.filename) is None
    cache._unlock(owner)
    writer.join(timeout=30)
    assert cache.fetch(record.filename) == record


def test_change_items_note_each_write_and_a_reload_drops_them(client, dynamo_namespace):
    cache = DynamoCache(client, dynamo_namespace)
    table = f"{dynamo_namespace}PypicloudChanges"
    record = Package("pkg", "1.0", "pkg-1.0.tar.gz", WHEN)
    cache.add(record)
    cache.delete(Package("pkg", "2.0", "pkg-2.0.tar.gz", WHEN))
    items = {i["filename"]["S"]: i for i in client.scan(TableName=table)["Items"]}
    assert {f: i["deleted"]["BOOL"] for f, i in items.items()} == {
        "pkg-1.0.tar.gz": False,
        "pkg-2.0.tar.gz": True,
    }
    assert cache.reload_from_storage([record]) == 1
    assert client.scan(TableName=table)["Items"] == []
    assert cache.serial() == 3  # two writes and the reload; the generation is not the serial


def test_a_reload_keeps_the_change_items_of_a_listing_begun_after_its_own(client, dynamo_namespace):
    reloader, writer = DynamoCache(client, dynamo_namespace), DynamoCache(client, dynamo_namespace)
    record = Package("pkg", "1.0", "pkg-1.0.tar.gz", WHEN)

    def listing():
        writer._begin_listing()  # a second rebuild begins listing storage
        writer.save(record)
        yield from ()

    assert reloader.reload_from_storage(listing()) == 1  # the write survives the first
    table = f"{dynamo_namespace}PypicloudChanges"
    assert [i["filename"]["S"] for i in client.scan(TableName=table)["Items"]] == [
        record.filename
    ]  # and the second still sees it
