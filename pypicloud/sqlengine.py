"""SQLAlchemy engines from ``<prefix>url`` and ``<prefix>*`` settings, one per process.

SQLite gets WAL and a busy timeout so concurrent writers wait instead of failing; other
databases get pre-ping and recycling so a restarted server or a proxy's idle timeout is
survived. Extra ``<prefix>*`` keys are engine options for ``sqlalchemy.engine_from_config``
(``pool_size``, ``pool_recycle``, ``echo``...), plus two an ini file cannot spell otherwise:
``<prefix>poolclass`` (a class name of ``sqlalchemy.pool``) and ``<prefix>connect_args.<arg>``
(one keyword argument of the driver's ``connect``). A bad option stops start-up naming its key.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import engine_from_config, event, pool
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pypicloud.settings import FALSE, TRUE, ConfigError, Settings

DRIVER_EXTRAS = {"psycopg": "postgres", "pymysql": "mysql"}
SERVER_DEFAULTS = {"pool_pre_ping": True, "pool_recycle": 3600}
#: Page cache per SQLite connection, in KB (SQLite's default is 2,000 KB, kept by each of
#: the pool's connections; the database file is in the OS's page cache anyway).
SQLITE_CACHE_KB = 512
#: What SQLite's engine takes here: it has one file and our own pool settings.
SQLITE_OPTIONS = frozenset({"echo", "echo_pool", "hide_parameters"})
CONNECT_ARGS = "connect_args."
# Options whose ini strings SQLAlchemy would pass on uncoerced ("false" being true).
FLAGS = frozenset(
    {"pool_pre_ping", "pool_use_lifo", "echo_pool", "hide_parameters", "enable_from_linting"}
)
NUMBERS = {
    "pool_size": int,
    "max_overflow": int,
    "pool_recycle": int,
    "pool_timeout": float,
    "query_cache_size": int,
    "insertmanyvalues_page_size": int,
}
_OPTION_ERRORS = (ArgumentError, SQLAlchemyError, ValueError, TypeError, KeyError)


def engine_options(settings: Settings, prefix: str, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Every ``<prefix>*`` setting but the URL and ``exclude`` (keys other code reads)."""
    skip = {prefix + "url", *exclude}
    return {key: settings.get(key) for key in settings.keys_with_prefix(prefix) if key not in skip}


def engine_for_url(url: str, options: Mapping[str, Any] | None = None, prefix: str = "") -> Engine:
    """The engine for a URL with our defaults and ``options`` (keys with ``prefix``).

    A URL that cannot be opened raises SQLAlchemy's (or the driver's import) error for the
    caller to explain; an option that cannot be used raises ConfigError naming its key."""
    options = dict(options or {})
    if not options:
        return _build(url, {})
    _build(url, {}).dispose()  # the URL alone first: its errors are the caller's to word
    try:
        return _build(url, _strip(options, prefix))
    except (*_OPTION_ERRORS, ConfigError) as exc:
        error: Exception = exc
    for key in sorted(options):  # one at a time, to name the culprit
        try:
            _build(url, _strip({key: options[key]}, prefix)).dispose()
        except (*_OPTION_ERRORS, ConfigError) as exc:
            raise ConfigError(key, _problem(exc)) from None
    raise ConfigError(sorted(options)[0], f"these engine options do not combine: {error}")


def _problem(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return str(exc).split(": ", 1)[-1]
    return f"not a usable engine option: {exc}"


def _strip(options: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {key[len(prefix) :]: value for key, value in options.items()}


def _build(url: str, options: dict[str, Any]) -> Engine:
    connect_args = {
        key[len(CONNECT_ARGS) :]: _literal(value)
        for key, value in options.items()
        if key.startswith(CONNECT_ARGS)
    }
    plain = {k: _typed(k, v) for k, v in options.items() if not k.startswith(CONNECT_ARGS)}
    extra: dict[str, Any] = {}
    if "poolclass" in plain:
        extra["poolclass"] = _pool_class(str(plain.pop("poolclass")))
    if url.startswith("sqlite"):
        refused = sorted(set(plain) - SQLITE_OPTIONS) + sorted(connect_args) + sorted(extra)
        if refused:
            raise ConfigError(refused[0], "SQLite takes no such engine option here")
        return sqlite_engine(url, plain)
    if connect_args:
        extra["connect_args"] = connect_args
    return engine_from_config({"url": url, **SERVER_DEFAULTS, **plain}, prefix="", **extra)


def _typed(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if key in FLAGS or (key == "echo" and text != "debug"):
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if key in NUMBERS:
        try:
            return NUMBERS[key](text)
        except ValueError:
            raise ConfigError(key, f"expected a number, got {value!r}") from None
    return value


def _pool_class(name: str) -> type[pool.Pool]:
    found = getattr(pool, name, None)
    if not (isinstance(found, type) and issubclass(found, pool.Pool)):
        raise ConfigError("poolclass", f"expected a pool class such as NullPool, got {name!r}")
    return found


def _literal(value: Any) -> Any:
    """An ini string as the driver wants it: a whole number or a flag when it is one."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if text.lower() in TRUE - {"1"}:
        return True
    if text.lower() in FALSE - {"0", ""}:
        return False
    return text


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _sqlite_write_lock(engine: Engine) -> threading.RLock:
    database = engine.url.database or ""
    key = os.path.abspath(database) if database and database != ":memory:" else f"{id(engine)}"
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


@contextlib.contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A write transaction; on SQLite, threads of this process take their turn first.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (up
    to 100 ms each), which gave concurrent uploads a 1-2 s p99. A lock per database file
    queues this process's writers and wakes the next one at once; other processes still
    meet SQLite's busy timeout. Server databases need no such queue."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _sqlite_write_lock(engine), engine.begin() as conn:
        yield conn


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return not database or ":memory:" in database or "mode=memory" in url


def sqlite_engine(url: str, options: Mapping[str, Any] | None = None) -> Engine:
    config: dict[str, Any] = {"url": url}
    if not _in_memory(url) and "poolclass" not in (options or {}):
        # Last in, first out: the connection that wrote last goes out next, its page cache
        # still valid (a write through another connection makes SQLite re-read the pages).
        # An in-memory database has one connection per thread, and no such option.
        config["pool_use_lifo"] = True
    config.update(options or {})
    engine = engine_from_config(
        config, prefix="", connect_args={"timeout": 30, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
        cursor.close()

    return engine


def engine_from_settings(
    settings: Settings, prefix: str, url: str, exclude: Iterable[str] = ()
) -> Engine:
    """The engine for ``url`` with every other ``<prefix>*`` setting as an engine option."""
    options = engine_options(settings, prefix, exclude)
    try:
        return engine_for_url(url, options, prefix)
    except ConfigError:
        raise
    except ModuleNotFoundError as exc:
        extra = DRIVER_EXTRAS.get((exc.name or "").split(".")[0])
        hint = f"; install it with: pip install 'pypicloud[{extra}]'" if extra else ""
        raise ConfigError(prefix + "url", f"cannot open {url!r}: {exc}{hint}") from None
    except (ArgumentError, SQLAlchemyError, ImportError, ValueError, TypeError) as exc:
        raise ConfigError(prefix + "url", f"cannot open {url!r}: {exc}") from None
