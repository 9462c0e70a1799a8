"""Publishers and used token ids on SQLite, PostgreSQL and MariaDB (real servers)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from pypicloud.oidc.store import SQLPublisherStore


@pytest.fixture(params=["sqlite_url", "postgresql_url", "mysql_url"])
def engines(request):
    """Two engines on one database: two server processes sharing it."""
    url = request.getfixturevalue(request.param)
    first, second = sa.create_engine(url), sa.create_engine(url)
    yield first, second
    first.dispose()
    second.dispose()


def test_publishers_are_kept_and_found_by_issuer(engines):
    store = SQLPublisherStore(engines[0])
    other = SQLPublisherStore(engines[1])  # a second process: tables already there
    claims = {"repository": "octo/widget", "workflow_ref": "octo/widget/.github/w.yml@main"}
    added = store.add("widget", "https://issuer.example", "pypicloud", claims, "CI")
    store.add("other", "https://elsewhere.example", "pypicloud", {"sub": "x"}, "")
    assert other.get(added.publisher_id) == added
    assert added.claims == claims and added.created is not None
    assert [p.project for p in other.of_issuer("https://issuer.example")] == ["widget"]
    assert other.of_issuer("https://issuer.example/") == []  # exact match only
    assert [p.project for p in other.list("widget")] == ["widget"]
    assert len(other.list()) == 2
    assert other.remove(added.publisher_id) and not store.remove(added.publisher_id)
    assert store.get(added.publisher_id) is None
    tables = set(sa.inspect(engines[0]).get_table_names())
    assert {"pypicloud_oidc_publishers", "pypicloud_oidc_used_jti"} <= tables


def test_a_token_id_is_used_once_across_processes(engines):
    first, second = SQLPublisherStore(engines[0]), SQLPublisherStore(engines[1])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert first.use_once("https://issuer.example", "jti-1", later)
    assert not second.use_once("https://issuer.example", "jti-1", later)
    assert second.use_once("https://other.example", "jti-1", later)  # ids are per issuer
    # Once its token has expired, an id is forgotten (the token itself is refused anyway).
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert first.use_once("https://issuer.example", "jti-2", past)
    assert second.use_once("https://issuer.example", "jti-2", later)


def test_restore_keeps_ids_and_times_and_corrects_in_one_transaction(engines):
    import dataclasses

    from pypicloud.oidc.publishers import Publisher

    store = SQLPublisherStore(engines[0])
    created = dt.datetime(2024, 5, 1, 12, 30, 5, tzinfo=dt.UTC)
    widget = Publisher("a1", "widget", "https://i.example", "ci", {"sub": "x"}, "CI", created)
    undated = Publisher("b2", "other", "https://i.example", "ci", {"sub": "y"})
    assert store.restore([widget, undated]) == (["a1", "b2"], [])
    assert store.get("a1") == widget
    assert store.get("b2").created is not None
    assert store.restore([widget, undated]) == ([], [])  # undated: keeps its time
    changed = dataclasses.replace(widget, claims={"sub": "z"}, created=None)
    assert store.restore([changed]) == ([], ["a1"])
    assert store.get("a1") == dataclasses.replace(changed, created=created)
    # A failure part-way writes nothing of the batch.
    broken = Publisher("c3", "third", "https://i.example", "ci", {"sub": object()})
    fresh = Publisher("d4", "fourth", "https://i.example", "ci", {"sub": "w"})
    with pytest.raises(TypeError):
        store.restore([fresh, broken])
    assert store.get("d4") is None and len(store.list()) == 2
