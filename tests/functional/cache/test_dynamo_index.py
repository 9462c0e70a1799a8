"""DynamoDB's ``name-index`` lags writes (no consistent reads on a global index): a project's
files are checked against its summary row, read consistently, and the index asked again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pypicloud.cache import dynamo
from pypicloud.cache.dynamo import DynamoCache
from pypicloud.models import Package
from tests.fixtures.caches import dynamo_client
from tests.functional.conftest import auth, upload

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


class LaggingIndex:
    """A boto3 client whose first ``stale`` queries of ``name-index`` answer as the index
    did before: without the files in ``unseen``, with the records in ``ghosts``."""

    def __init__(self, client: Any, stale: int) -> None:
        self.client = client
        self.stale = stale
        self.queries = 0
        self.unseen: set[str] = set()
        self.ghosts: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_paginator(self, method: str) -> Any:
        real = self.client.get_paginator(method)
        if method != "query":
            return real
        lagging = self

        class Paginator:
            def paginate(self, **kwargs: Any) -> Any:
                lagging.queries += 1
                pages = list(real.paginate(**kwargs))
                if lagging.queries > lagging.stale:
                    return pages
                items = [i for p in pages for i in p.get("Items", [])]
                items = [i for i in items if i["filename"]["S"] not in lagging.unseen]
                return [{"Items": items + lagging.ghosts}]

        return Paginator()


@pytest.fixture
def client(moto_endpoint):
    return dynamo_client(moto_endpoint)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(dynamo, "INDEX_PAUSE", 0.001)


def record(version: str, when: dt.datetime = WHEN) -> Package:
    return Package("pkg", version, f"pkg-{version}.tar.gz", when, None, {"size": 1})


def summary_row(client: Any, namespace: str) -> dict[str, Any]:
    return client.get_item(
        TableName=f"{namespace}PackageSummary", Key={"name": {"S": "pkg"}}, ConsistentRead=True
    )["Item"]


def test_a_file_the_index_has_not_seen_yet_is_on_the_page(client, dynamo_namespace):
    writer = DynamoCache(client, dynamo_namespace)
    writer.add(record("1.0"))
    writer.add(record("2.0", WHEN + dt.timedelta(days=1)))
    lagging = LaggingIndex(dynamo_client(client.meta.endpoint_url), stale=2)
    lagging.unseen = {"pkg-2.0.tar.gz"}
    reader = DynamoCache(lagging, dynamo_namespace)
    assert [p.version for p in reader.all("pkg")] == ["2.0", "1.0"]
    assert lagging.queries == 3  # two stale answers, then the index caught up


def test_a_file_deleted_but_still_in_the_index_is_not_on_the_page(client, dynamo_namespace):
    writer = DynamoCache(client, dynamo_namespace)
    one, two = record("1.0"), record("2.0")
    writer.add(one)
    writer.add(two)
    ghost = client.get_item(
        TableName=f"{dynamo_namespace}DynamoPackage", Key={"filename": {"S": two.filename}}
    )["Item"]
    writer.delete(two)
    lagging = LaggingIndex(dynamo_client(client.meta.endpoint_url), stale=1)
    lagging.ghosts = [ghost]
    assert DynamoCache(lagging, dynamo_namespace).all("pkg") == [one]
    assert lagging.queries == 2


def test_an_index_lagging_past_the_last_try_is_served_as_it_is(client, dynamo_namespace):
    writer = DynamoCache(client, dynamo_namespace)
    writer.add(record("1.0"))
    writer.add(record("2.0"))
    lagging = LaggingIndex(dynamo_client(client.meta.endpoint_url), stale=100)
    lagging.unseen = {"pkg-2.0.tar.gz"}
    assert [p.version for p in DynamoCache(lagging, dynamo_namespace).all("pkg")] == ["1.0"]
    assert lagging.queries == dynamo.INDEX_TRIES  # bounded


def test_the_summary_row_counts_the_files(client, dynamo_namespace):
    cache = DynamoCache(client, dynamo_namespace)
    cache.add(record("1.0"))
    cache.save(record("2.0"))
    assert summary_row(client, dynamo_namespace)["count"] == {"N": "2"}
    cache.save(record("2.0"))  # replaced in place: still two
    cache.delete(record("3.0"))  # unknown: nothing to count
    assert summary_row(client, dynamo_namespace)["count"] == {"N": "2"}
    cache.delete(record("2.0"))
    assert summary_row(client, dynamo_namespace)["count"] == {"N": "1"}
    cache.reload_from_storage([record("1.0"), record("2.0"), record("3.0")])
    assert summary_row(client, dynamo_namespace)["count"] == {"N": "3"}


def test_the_page_of_another_server_shows_an_upload_its_index_has_not_seen(
    make_app, moto_endpoint, dynamo_namespace
):
    host, port = moto_endpoint.removeprefix("http://").split(":")
    settings = {
        "pypi.db": "dynamo",
        "db.url": None,
        "db.host": host,
        "db.port": port,
        "db.namespace": dynamo_namespace,
        "db.aws_access_key_id": "testing",
        "db.aws_secret_access_key": "testing",
        "db.serial_cache_ms": "0",  # the second server sees the first's serial at once
    }
    first, second = make_app(**settings), make_app(**settings)
    upload(first, "gamma", "1.0")
    assert "gamma-1.0" in second.get("/simple/gamma/", headers=auth("bob")).text
    cache = second.app.registry.services.packages.cache
    lagging = LaggingIndex(cache.client, stale=1)
    cache.client = lagging
    upload(first, "gamma", "2.0")
    lagging.unseen = {"gamma-2.0-py3-none-any.whl"}
    page = second.get("/simple/gamma/", headers=auth("bob")).text
    assert "gamma-1.0" in page and "gamma-2.0" in page
    assert lagging.queries == 2
