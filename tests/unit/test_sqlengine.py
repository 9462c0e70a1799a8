"""Engine options from ``<prefix>*`` settings: what reaches SQLAlchemy, and errors naming keys.

Creating an engine does not connect, so these need no database server.
"""

from __future__ import annotations

import pytest
from sqlalchemy import pool

from pypicloud.settings import ConfigError
from pypicloud.sqlengine import engine_for_url

PG = "postgresql+psycopg://pypi@127.0.0.1:1/pypi"


def test_pool_options_reach_the_engine_as_their_types():
    engine = engine_for_url(
        PG,
        {
            "db.pool_size": "7",
            "db.max_overflow": "2",
            "db.pool_recycle": "60",
            "db.pool_pre_ping": "false",
            "db.echo": "true",
        },
        "db.",
    )
    assert engine.pool.size() == 7
    assert engine.pool._max_overflow == 2
    assert engine.pool._recycle == 60
    assert engine.pool._pre_ping is False
    assert engine.echo is True


def test_our_defaults_hold_without_options():
    engine = engine_for_url(PG)
    assert engine.pool._pre_ping is True and engine.pool._recycle == 3600


def test_poolclass_by_name():
    engine = engine_for_url(PG, {"db.poolclass": "NullPool"}, "db.")
    assert isinstance(engine.pool, pool.NullPool)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"db.pool_size": "many"}, "db.pool_size"),
        ({"db.pool_size": "3", "db.pool_recylce": "60"}, "db.pool_recylce"),
        ({"db.poolclass": "Jacuzzi"}, "db.poolclass"),
        ({"db.poolclass": "create_engine"}, "db.poolclass"),
        ({"db.echo": "loud"}, "db.echo"),
    ],
)
def test_a_bad_option_names_its_key(options, key):
    with pytest.raises(ConfigError) as error:
        engine_for_url(PG, options, "db.")
    assert error.value.key == key
    assert "pypi@" not in str(error.value) or key == "db.url"


def test_sqlite_takes_echo_but_no_pool_options(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert engine_for_url(url, {"db.echo": "true"}, "db.").echo is True
    with pytest.raises(ConfigError) as error:
        engine_for_url(url, {"db.echo": "true", "db.pool_size": "3"}, "db.")
    assert error.value.key == "db.pool_size"
    with pytest.raises(ConfigError) as error:
        engine_for_url(url, {"db.connect_args.timeout": "3"}, "db.")
    assert error.value.key == "db.connect_args.timeout"


def test_a_sqlite_file_hands_out_its_last_used_connection_first(tmp_path):
    """The connection that wrote last keeps a valid page cache (see sqlite_engine)."""
    engine = engine_for_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert engine.pool._pool.use_lifo is True  # type: ignore[attr-defined]
    with engine.connect() as first:
        first_raw = first.connection.dbapi_connection
        with engine.connect():
            pass
    with engine.connect() as again:
        assert again.connection.dbapi_connection is first_raw


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_opens_without_pool_options(url):
    engine = engine_for_url(url)
    assert isinstance(engine.pool, pool.SingletonThreadPool)


def test_a_bad_url_is_not_blamed_on_an_option():
    with pytest.raises(Exception) as error:
        engine_for_url("nosuchdialect://x", {"db.pool_size": "3"}, "db.")
    assert not isinstance(error.value, ConfigError)  # the caller words it, naming db.url


def test_every_db_key_the_server_reads_is_kept_from_the_engine():
    """A ``db.*`` setting read elsewhere must not be passed to SQLAlchemy as an option."""
    import re
    from pathlib import Path

    import pypicloud
    from pypicloud.cache.sql import NOT_ENGINE_OPTIONS

    source = Path(pypicloud.__file__).parent
    read = {
        key
        for path in source.rglob("*.py")
        for key in re.findall(r'"(db\.[a-z_]+)"', path.read_text())
    }
    assert read - {"db.sqlite"} <= NOT_ENGINE_OPTIONS  # db.sqlite: the default file's name
