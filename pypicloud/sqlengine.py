"""SQLAlchemy engines from ``<prefix>url`` and ``<prefix>*`` settings, one per process.

SQLite gets WAL and a busy timeout so concurrent writers wait instead of failing; other
databases get pre-ping and recycling so a restarted server or a proxy's idle timeout is
survived. Extra ``<prefix>*`` keys go to ``sqlalchemy.engine_from_config`` (``pool_size``...).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pypicloud.settings import ConfigError, Settings

DRIVER_EXTRAS = {"psycopg": "postgres", "pymysql": "mysql"}


def engine_for_url(url: str) -> Engine:
    """The engine for a URL with our defaults and no other options."""
    if url.startswith("sqlite"):
        return sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600)


def sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def engine_from_settings(settings: Settings, prefix: str, url: str) -> Engine:
    """The engine for ``url`` with every other ``<prefix>*`` setting as an engine option."""
    options = {
        key: settings.get(key) for key in settings.keys_with_prefix(prefix) if key != prefix + "url"
    }
    try:
        if url.startswith("sqlite"):
            if options:
                raise ConfigError(sorted(options)[0], "SQLite takes no engine options here")
            return sqlite_engine(url)
        config = {"url": url, "pool_pre_ping": True, "pool_recycle": 3600}
        config.update({key[len(prefix) :]: value for key, value in options.items()})
        return engine_from_config(config, prefix="")
    except ModuleNotFoundError as exc:
        extra = DRIVER_EXTRAS.get((exc.name or "").split(".")[0])
        hint = f"; install it with: pip install 'pypicloud[{extra}]'" if extra else ""
        raise ConfigError(prefix + "url", f"cannot open {url!r}: {exc}{hint}") from None
    except (ArgumentError, SQLAlchemyError, ImportError, ValueError, TypeError) as exc:
        raise ConfigError(prefix + "url", f"cannot open {url!r}: {exc}") from None
