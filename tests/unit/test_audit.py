"""The audit log's parts: the acting user, queries, retention on SQL, Redis and DynamoDB."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select

from pypicloud.audit import (
    Actor,
    AuditOptions,
    AuditQuery,
    NullAuditLog,
    acting,
    current_actor,
)
from pypicloud.audit_sql import SQLAuditLog, audit_table
from pypicloud.schema import current_version
from pypicloud.sqlengine import engine_for_url

OLD = dt.datetime(2020, 1, 1)


def test_the_actor_comes_from_the_context_and_is_lazy():
    assert current_actor() == Actor("system")
    calls = []

    def resolve():
        calls.append(1)
        return Actor("alice", "tok1", "203.0.113.7")

    with acting(resolve):
        assert calls == []
        assert current_actor() == Actor("alice", "tok1", "203.0.113.7")
    assert current_actor() == Actor("system")


def test_an_actor_that_cannot_be_told_is_system(caplog):
    def broken():
        raise RuntimeError("no identity")

    with acting(broken):
        assert current_actor().name == "system"
    assert "could not tell who acts" in caplog.text


def test_query_from_params():
    query = AuditQuery.from_params(
        {"since": "2026-01-02", "user": " bob ", "project": "My_Pkg", "limit": "7", "action": ""}
    )
    assert query == AuditQuery(
        since=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), user="bob", project="my-pkg", limit=7
    )
    assert AuditQuery.from_params({}).limit == 100
    for bad in ({"since": "soon"}, {"limit": "-1"}, {"limit": "1001"}, {"action": "x" * 256}):
        with pytest.raises(ValueError):
            AuditQuery.from_params(bad)


def test_null_log_keeps_nothing():
    log = NullAuditLog()
    log.record("upload", project="p")
    assert log.query(AuditQuery()) == [] and log.stored is False


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    else:
        url = request.getfixturevalue(f"{request.param}_url")
    engine = engine_for_url(url)
    yield engine
    engine.dispose()


def test_sql_log_records_queries_and_prunes(engine):
    log = SQLAuditLog(engine, AuditOptions(retention_days=30))
    assert current_version(engine, "audit") == 1
    SQLAuditLog(engine)  # a second process starting on the same database
    log.record("upload", project="alpha", target="alpha-1.0.tar.gz", actor=Actor("bob"))
    with acting(lambda: Actor("alice", address="192.0.2.1")):
        log.record("delete", project="alpha", target="alpha-1.0.tar.gz", detail="x" * 5000)
    with engine.begin() as conn:
        conn.execute(insert(audit_table).values(at=OLD, actor="old", action="upload"))
    newest, upload, old = log.query(AuditQuery())
    assert (newest.action, newest.actor, newest.address) == ("delete", "alice", "192.0.2.1")
    assert len(newest.detail or "") == 2000
    assert newest.when.tzinfo is dt.UTC and upload.actor == "bob" and old.actor == "old"
    assert [e.actor for e in log.query(AuditQuery(user="bob"))] == ["bob"]
    assert [e.action for e in log.query(AuditQuery(action="delete", project="alpha"))] == ["delete"]
    assert log.query(AuditQuery(since=dt.datetime(2021, 1, 1, tzinfo=dt.UTC), limit=1)) == [newest]
    assert log.prune() == 1
    assert [e.actor for e in log.query(AuditQuery())] == ["alice", "bob"]


def test_sql_log_prunes_on_write_and_keeps_forever_at_zero(tmp_path):
    engine = engine_for_url(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    forever = SQLAuditLog(engine, AuditOptions(retention_days=0))
    with engine.begin() as conn:
        conn.execute(insert(audit_table).values(at=OLD, actor="old", action="upload"))
    forever.record("upload")
    assert forever.prune() == 0
    pruning = SQLAuditLog(engine, AuditOptions(retention_days=1))
    pruning.record("delete")  # the first write of a process prunes
    with engine.connect() as conn:
        assert conn.execute(select(audit_table.c.actor)).scalars().all() == ["system", "system"]


def test_a_failing_store_never_fails_the_change(tmp_path, caplog):
    engine = engine_for_url(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    log = SQLAuditLog(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE pypicloud_audit")
    log.record("upload", target="f.whl")
    assert "could not record upload of f.whl" in caplog.text


def test_redis_log_records_queries_and_prunes(redis_url, redis_prefix):
    import redis

    from pypicloud.audit_redis import RedisAuditLog

    client = redis.Redis.from_url(redis_url)
    log = RedisAuditLog(client, redis_prefix, AuditOptions(retention_days=30))
    client.zadd(log.key, {'{"actor":"old","action":"upload"}': OLD.timestamp()})
    for n in range(3):
        log.record("upload", project="alpha", target=f"f{n}", actor=Actor("bob"))
        log.record("upload", project="alpha", target=f"f{n}", actor=Actor("bob"))  # twice
    assert [e.target for e in log.query(AuditQuery(limit=3))] == ["f2", "f2", "f1"]
    assert len(log.query(AuditQuery(user="bob"))) == 6
    assert log.query(AuditQuery(user="old")) == []  # pruned by the writes
    client.zadd(log.key, {'{"actor":"old","action":"upload"}': OLD.timestamp()})
    assert log.prune() == 1
    client.close()


def _dynamo_item(when: dt.datetime, actor: str, **fields: str) -> dict:
    from pypicloud.audit_dynamo import _at, _day

    item = {"day": {"S": _day(when)}, "at": {"S": f"{_at(when)}#0"}, "actor": {"S": actor}}
    return item | {name: {"S": value} for name, value in fields.items()}


def test_dynamo_log_records_queries_and_prunes(moto_endpoint, dynamo_namespace):
    from pypicloud.audit_dynamo import DynamoAuditLog
    from tests.fixtures.caches import dynamo_client

    client = dynamo_client(moto_endpoint)
    log = DynamoAuditLog(client, dynamo_namespace, AuditOptions(retention_days=30))
    ttl = client.describe_time_to_live(TableName=log.table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires")
    old = _dynamo_item(OLD.replace(tzinfo=dt.UTC), "old", action="upload")
    client.put_item(TableName=log.table, Item=old)
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    client.put_item(
        TableName=log.table, Item=_dynamo_item(yesterday, "eve", action="delete", project="beta")
    )
    for n in range(3):
        log.record("upload", project="alpha", target=f"f{n}", actor=Actor("bob", "t1", "::1"))
        log.record("upload", project="alpha", target=f"f{n}", actor=Actor("bob"))  # twice
    assert [e.target for e in log.query(AuditQuery(limit=3))] == ["f2", "f2", "f1"]
    assert len(log.query(AuditQuery(user="bob"))) == 6
    assert [e.actor for e in log.query(AuditQuery(project="beta"))] == ["eve"]
    assert [e.actor for e in log.query(AuditQuery(action="delete"))] == ["eve"]
    assert log.query(AuditQuery())[-1].actor == "eve"  # newest first, across days
    assert len(log.query(AuditQuery(since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))) == 6
    latest, before = log.query(AuditQuery(limit=2))
    assert (latest.token_id, latest.address, before.token_id, before.address) == (
        (None, None, "t1", "::1")
    )
    items = client.scan(TableName=log.table)["Items"]
    assert "old" not in {item["actor"]["S"] for item in items}  # pruned by the first write
    expires = {int(item["expires"]["N"]) for item in items if "expires" in item}
    month = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).timestamp()
    assert len(expires) >= 1 and all(abs(e - month) < 120 for e in expires)
    client.put_item(TableName=log.table, Item=old)
    assert log.prune() == 1


def test_dynamo_log_keeps_forever_at_zero(moto_endpoint, dynamo_namespace):
    from pypicloud.audit_dynamo import DynamoAuditLog
    from tests.fixtures.caches import dynamo_client

    client = dynamo_client(moto_endpoint)
    forever = DynamoAuditLog(client, dynamo_namespace, AuditOptions(retention_days=0))
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=300)
    client.put_item(TableName=forever.table, Item=_dynamo_item(long_ago, "old", action="x"))
    forever.record("upload")
    assert forever.prune() == 0
    assert [e.actor for e in forever.query(AuditQuery())] == ["system", "old"]
    assert all("expires" not in item for item in client.scan(TableName=forever.table)["Items"])


def test_a_failing_dynamo_store_never_fails_the_change(moto_endpoint, dynamo_namespace, caplog):
    from pypicloud.audit_dynamo import DynamoAuditLog
    from tests.fixtures.caches import dynamo_client

    client = dynamo_client(moto_endpoint)
    log = DynamoAuditLog(client, dynamo_namespace)
    client.delete_table(TableName=log.table)
    log.record("upload", target="f.whl")
    assert "could not record upload of f.whl" in caplog.text


def test_a_dynamo_query_skips_the_empty_days(moto_endpoint, dynamo_namespace):
    """The walk over the retention asks only for the days that hold entries (and today)."""
    from pypicloud.audit_dynamo import DynamoAuditLog
    from tests.fixtures.caches import dynamo_client

    client = dynamo_client(moto_endpoint)
    log = DynamoAuditLog(client, dynamo_namespace, AuditOptions(retention_days=365))
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=200)
    client.put_item(TableName=log.table, Item=_dynamo_item(earlier, "old", action="x"))
    log.record("upload")
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb.Query", lambda **kw: calls.append("q"))
    assert [e.actor for e in log.query(AuditQuery())] == ["system", "old"]
    assert len(calls) <= 3  # today, yesterday, and the day 200 days ago; not 366


def test_a_prune_runs_at_most_once_per_period_and_its_errors_are_logged(caplog):
    from pypicloud.audit import PruneSchedule

    calls: list[int] = []

    def prune() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("store down")
        return 0

    schedule = PruneSchedule(prune, (OSError,), every=3600.0)
    schedule.maybe_prune()
    schedule.maybe_prune()
    assert calls == [1]
    schedule = PruneSchedule(prune, (OSError,), every=0.0)
    schedule.maybe_prune()  # raises inside, logged
    assert len(calls) == 2
    assert "could not delete old audit entries" in caplog.text
