"""What only the SQL cache has: the original table, engine options, start-up, settings.

The behaviour every cache shares is in test_contract.py.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import sqlalchemy as sa

from pypicloud.cache.base import AlreadyCached, CacheDefaults
from pypicloud.cache.sql import MIGRATIONS, SQLCache, make_engine
from pypicloud.models import Package
from pypicloud.schema import current_version
from pypicloud.settings import ConfigError, Settings

# The original pypicloud's table, as its SQLAlchemy model created it.
ORIGINAL_TABLE = (
    "CREATE TABLE packages (filename VARCHAR(255) NOT NULL PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, version VARCHAR(1000) NOT NULL, "
    "last_modified {datetime} NOT NULL, summary TEXT, data TEXT)"
)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def url(request) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def engine(url):
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_the_original_table_is_used_as_is(engine):
    datetime = "TIMESTAMP WITHOUT TIME ZONE" if engine.dialect.name == "postgresql" else "DATETIME"
    with engine.begin() as conn:
        conn.execute(sa.text(ORIGINAL_TABLE.format(datetime=datetime)))
        conn.execute(sa.text("CREATE INDEX ix_packages_name ON packages (name)"))
        conn.execute(
            sa.text("INSERT INTO packages VALUES (:f, :n, :v, :m, :s, :d)"),
            [
                {
                    "f": "legacy-2.0.tar.gz",
                    "n": "legacy",
                    "v": "2.0",
                    "m": dt.datetime(2020, 1, 2, 3, 4, 5),
                    "s": "From the original",
                    "d": json.dumps({"hash_sha256": "ab" * 32, "hash_md5": "cd" * 16}),
                },
                {
                    "f": "odd-1.0.tar.gz",
                    "n": "odd",
                    "v": "1.0",
                    "m": dt.datetime(2020, 1, 1),
                    "s": None,
                    "d": "not json",
                },
            ],
        )
    before = {c["name"]: str(c["type"]) for c in sa.inspect(engine).get_columns("packages")}
    cache = SQLCache(engine)
    assert cache.fetch("legacy-2.0.tar.gz") == Package(
        "legacy",
        "2.0",
        "legacy-2.0.tar.gz",
        dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "From the original",
        {"hash_sha256": "ab" * 32, "hash_md5": "cd" * 16},
    )
    assert cache.fetch("odd-1.0.tar.gz").data == {}  # unreadable data is no facts, not a crash
    assert cache.serial() == 0
    cache.add(Package("legacy", "3.0", "legacy-3.0.tar.gz"))
    after = {c["name"]: str(c["type"]) for c in sa.inspect(engine).get_columns("packages")}
    if engine.dialect.name == "mysql":  # migrated in place: names compare exactly
        assert after.pop("name") == after.pop("filename") == "VARCHAR(255) COLLATE utf8mb4_bin"
        before.pop("name"), before.pop("filename")
    assert after == before
    assert current_version(engine, "packages") == len(MIGRATIONS)
    SQLCache(engine)  # a second start migrates nothing and loses nothing
    assert len(cache.all("legacy")) == 2


def test_names_differing_in_case_or_accents_are_distinct_on_mysql(mysql_url):
    """MariaDB's default collation folds both: the original's table is migrated too."""
    engine = make_engine(mysql_url)
    with engine.begin() as conn:
        conn.execute(sa.text(ORIGINAL_TABLE.format(datetime="DATETIME")))
        conn.execute(
            sa.text("INSERT INTO packages VALUES ('Cafe-1.0.tar.gz', 'cafe', '1.0', NOW(), '', '')")
        )
    cache = SQLCache(engine)
    for filename, name in [("cafe-1.0.tar.gz", "cafe"), ("Café-1.0.tar.gz", "café")]:
        cache.add(Package(name, "1.0", filename))  # no AlreadyCached: distinct keys
    assert {p.filename for p in cache.all_packages()} == {
        "Cafe-1.0.tar.gz",
        "cafe-1.0.tar.gz",
        "Café-1.0.tar.gz",
    }
    assert cache.fetch("Café-1.0.tar.gz").name == "café"
    assert cache.fetch("CAFE-1.0.tar.gz") is None
    assert cache.distinct() == ["cafe", "café"]
    assert [p.filename for p in cache.all("cafe")] != []
    with pytest.raises(AlreadyCached):
        cache.add(Package("café", "1.0", "Café-1.0.tar.gz"))
    engine.dispose()


def test_a_newer_schema_than_this_release_stops_start_up(sqlite_url):
    engine = make_engine(sqlite_url)
    SQLCache(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE pypicloud_schema SET version = 99 WHERE component = 'packages'")
        )
    with pytest.raises(RuntimeError, match="upgrade pypicloud"):
        SQLCache(engine)
    engine.dispose()


def test_engine_options_reach_the_server(postgresql_url):
    settings = Settings(
        {
            "db.url": postgresql_url,
            "db.pool_size": "3",
            "db.connect_args.application_name": "ppc-test",
            "db.graceful_reload": "true",  # not an engine option: read elsewhere
            "db.reload_on_start": "false",
        },
        environ={},
    )
    cache = SQLCache.from_settings(settings)
    assert cache.engine.pool.size() == 3
    with cache.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_setting('application_name')")).scalar() == (
            "ppc-test"
        )
    cache.engine.dispose()


def test_a_connect_arg_the_server_refuses_stops_start_up(postgresql_url):
    settings = Settings({"db.url": postgresql_url, "db.connect_args.nosuchparam": "1"}, environ={})
    with pytest.raises(ConfigError, match="db.connect_args.nosuchparam"):
        SQLCache.from_settings(settings)


@pytest.mark.parametrize(
    ("key", "value"),
    [("db.pool_size", "lots"), ("db.pool_pre_ping", "maybe"), ("db.pool_sise", "3")],
)
def test_a_bad_engine_option_names_its_key(postgresql_url, key, value):
    settings = Settings({"db.url": postgresql_url, key: value}, environ={})
    with pytest.raises(ConfigError) as error:
        SQLCache.from_settings(settings)
    assert error.value.key == key


def test_another_backends_key_is_no_engine_option_but_unknown(tmp_path):
    settings = Settings(
        {"db.url": f"sqlite:///{tmp_path / 'db.sqlite'}", "db.redis_prefix": "x:"}, environ={}
    )
    SQLCache.from_settings(settings).engine.dispose()
    with pytest.raises(ConfigError, match="db.redis_prefix"):
        settings.check_unused()


def test_two_servers_starting_on_one_empty_database(url):
    engines = [make_engine(url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors: list[Exception] = []

    def start(engine: sa.Engine) -> None:
        barrier.wait()
        try:
            SQLCache(engine)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert SQLCache(engines[0]).serial() == 0
    finally:
        for engine in engines:
            engine.dispose()


def test_summary_query_agrees_with_the_default(engine):
    cache = SQLCache(engine)
    for name, version, summary in [("b", "1.0", "one"), ("b", "2.0", None), ("a", "0.1", "x")]:
        cache.add(Package(name, version, f"{name}-{version}.tar.gz", summary=summary))
    assert cache.summary() == CacheDefaults.summary(cache)


def test_unreachable_database_is_unhealthy(engine):
    cache = SQLCache(engine)
    cache.engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    healthy, message = cache.check_health()
    assert healthy is False
    assert message


def test_sqlite_engine_allows_concurrent_writers(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_server_engines_survive_dropped_connections(url):
    engine = make_engine(url)
    if engine.dialect.name != "sqlite":
        assert engine.pool._pre_ping
        assert engine.pool._recycle == 3600
    engine.dispose()


def test_default_database_is_sqlite_under_here(tmp_path):
    cache = SQLCache.from_settings(Settings({}, environ={}, here=str(tmp_path)))
    assert cache.engine.url.database == str(tmp_path / "data" / "db.sqlite")
    cache.engine.dispose()


def test_an_unusable_url_names_the_key(tmp_path):
    settings = Settings({"db.url": "nosuchdialect://x"}, environ={}, here=str(tmp_path))
    with pytest.raises(ConfigError, match="db.url"):
        SQLCache.from_settings(settings)


def test_an_upload_is_one_write_transaction(url):
    """Its core metadata and its record commit together: one fsync, one turn of the lock."""
    engine = make_engine(url)
    cache = SQLCache(engine)
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(1))
    before = cache.serial()
    cache.save_uploaded(Package("demo", "1.0", "demo-1.0.tar.gz"), b"Metadata-Version: 2.1\n")
    assert len(commits) == 1
    assert cache.core_metadata("demo-1.0.tar.gz") == b"Metadata-Version: 2.1\n"
    assert cache.fetch("demo-1.0.tar.gz") is not None
    assert cache.serial() > before
    engine.dispose()


def test_sqlite_writers_of_one_process_queue_in_python(tmp_path):
    """Threads wait on a lock per database file, not in SQLite's busy handler, which sleeps
    up to 100 ms between tries; engines on one file share the lock."""
    from pypicloud.sqlengine import _sqlite_write_lock, begin_write

    first = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    second = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    other = make_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert _sqlite_write_lock(first) is _sqlite_write_lock(second)
    assert _sqlite_write_lock(first) is not _sqlite_write_lock(other)
    seen: list[bool] = []

    def try_the_lock() -> None:
        lock = _sqlite_write_lock(second)
        free = lock.acquire(blocking=False)
        if free:
            lock.release()
        seen.append(free)

    with begin_write(first) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        thread = threading.Thread(target=try_the_lock)
        thread.start()
        thread.join(10)
    try_the_lock()  # from this thread, after the commit
    assert seen == [False, True]
    for engine in (first, second, other):
        engine.dispose()
