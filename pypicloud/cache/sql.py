"""The SQL package database (SQLite by default; PostgreSQL and MySQL through db.url).

The ``packages`` table has the original pypicloud's shape, so a database it wrote is used as
is. Tables of ours sit beside it: a one-row change counter, the core-metadata bytes and the
locks that let one process of a deployment at a time rebuild the database, and the project
statuses (PEP 792), which a rebuild from storage leaves alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator, TypeEngine

from pypicloud import sqlcounter
from pypicloud.cache.base import (
    AlreadyCached,
    Cache,
    CacheDefaults,
    ProjectSummary,
    summarize,
)
from pypicloud.extras import install_hint
from pypicloud.models import Package
from pypicloud.schema import Step, create_all, migrate
from pypicloud.settings import ConfigError, Settings
from pypicloud.sqlcounter import counter_table
from pypicloud.sqlengine import begin_write, engine_for_url, engine_options
from pypicloud.versions import newest_first

#: ``db.*`` keys that are not engine options: read elsewhere, or another backend's (which,
#: left unread, then fail start-up as unknown). Every other ``db.*`` key goes to SQLAlchemy.
NOT_ENGINE_OPTIONS = frozenset(
    {
        "db.url",
        "db.reload_on_start",
        "db.graceful_reload",
        "db.serial_cache_ms",
        "db.clustered",
        "db.redis_prefix",
        "db.region_name",
        "db.host",
        "db.port",
        "db.secure",
        "db.namespace",
        "db.tablenames",
        "db.aws_access_key_id",
        "db.aws_secret_access_key",
    }
)

metadata = MetaData()


class ExactName(TypeDecorator[str]):
    """A name column compared byte for byte: MySQL's default collations fold case and
    accents, which would make two distinct filenames one key. Other databases compare
    exactly already. (A type decorator, not ``with_variant``: SQLAlchemy's MySQL dialect
    is imported only where it is the database, not in every process.)"""

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects import mysql

            exact = mysql.VARCHAR(self.length, charset="utf8mb4", collation=EXACT_COLLATION)
            return dialect.type_descriptor(exact)
        return dialect.type_descriptor(String(self.length))


def _exact(length: int) -> Any:
    return ExactName(length)


EXACT_COLLATION = "utf8mb4_bin"

packages = Table(
    "packages",
    metadata,
    Column("filename", _exact(255), primary_key=True),
    Column("name", _exact(255), index=True, nullable=False),
    Column("version", String(1000), nullable=False),
    Column("last_modified", DateTime(), index=True, nullable=False),
    Column("summary", Text()),
    Column("data", Text()),
)

serial_table = counter_table("pypicloud_serial", metadata)

core_metadata_table = Table(
    "pypicloud_core_metadata",
    metadata,
    Column("filename", _exact(255), primary_key=True),
    Column("content", LargeBinary(16 * 1024 * 1024), nullable=False),
)

locks_table = Table(
    "pypicloud_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),  # wall clock: shared by every host
)

# The serial of the last write to each filename (and whether it deleted it): a rebuild keeps
# what any process wrote after it began instead of what its older listing of storage says.
changes_table = Table(
    "pypicloud_changes",
    metadata,
    Column("filename", _exact(255), primary_key=True),
    Column("serial", BigInteger, index=True, nullable=False),
    Column("deleted", Boolean, nullable=False),
)

# Small shared facts, such as the rebuild's progress, that every process shows.
state_table = Table(
    "pypicloud_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
)


#: Names ``project_statuses`` asks for by name (SQLite's oldest bound is 999 parameters).
STATUS_CHUNK = 500

# PEP 792 project statuses (pypicloud.status): a row only for a project not active.
status_table = Table(
    "pypicloud_project_status",
    metadata,
    Column("name", _exact(255), primary_key=True),
    Column("value", Text(), nullable=False),
)


# Statements of the hot paths, built once: building one per call cost three to five times
# what executing it did on SQLite (coercions, cache keys). Values go as bound parameters.
_FETCH = select(packages).where(packages.c.filename == bindparam("key"))
_CORE_METADATA = select(core_metadata_table.c.content).where(
    core_metadata_table.c.filename == bindparam("key")
)
_STATUS = select(status_table.c.value).where(status_table.c.name == bindparam("key"))
_DELETE_PACKAGE = delete(packages).where(packages.c.filename == bindparam("key"))
_INSERT_PACKAGE = insert(packages)
_DELETE_CORE_METADATA = delete(core_metadata_table).where(
    core_metadata_table.c.filename == bindparam("key")
)
_INSERT_CORE_METADATA = insert(core_metadata_table)
_SERIAL_VALUE = select(serial_table.c.value)
_DELETE_CHANGE = delete(changes_table).where(changes_table.c.filename == bindparam("key"))
_INSERT_CHANGE = insert(changes_table)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _shown(url: str) -> str:
    """The URL for an error message: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC)


def _row_to_package(row: Any) -> Package:
    try:
        data = json.loads(row.data) if row.data else {}
    except ValueError:
        data = {}
    return Package(
        name=row.name,
        version=row.version,
        filename=row.filename,
        last_modified=_aware(row.last_modified),
        summary=row.summary,
        data=data if isinstance(data, dict) else {},
    )


def _package_to_row(package: Package) -> dict[str, Any]:
    return {
        "filename": package.filename,
        "name": package.name,
        "version": package.version,
        "last_modified": _naive_utc(package.last_modified),
        "summary": package.summary,
        "data": json.dumps(package.data, sort_keys=True),
    }


class SQLCache(CacheDefaults):
    """Package records in a relational database, shared by every thread of the process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_schema(engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLCache:
        url = settings.str("db.url")
        if url is None:
            directory = os.path.join(settings.here, "data")
            os.makedirs(directory, exist_ok=True)
            url = "sqlite:///" + os.path.join(directory, "db.sqlite")
        options = engine_options(settings, "db.", NOT_ENGINE_OPTIONS)
        try:
            engine = make_engine(url, options)
        except ConfigError:
            raise  # an engine option, named
        except ImportError as exc:  # the URL's driver is not installed
            problem = f"cannot open {_shown(url)!r}: {exc}{install_hint(exc)}"
            raise ConfigError("db.url", problem) from exc
        except (SQLAlchemyError, ValueError) as exc:
            raise ConfigError("db.url", f"cannot open {_shown(url)!r}: {exc}") from exc
        try:
            return cls(engine)
        except (SQLAlchemyError, ValueError) as exc:  # connecting: the URL or connect_args
            engine.dispose()
            given = f" (with {', '.join(sorted(options))})" if options else ""
            problem = f"cannot open {_shown(url)!r}{given}: {exc}"
            raise ConfigError("db.url", problem) from exc

    # -- reading -----------------------------------------------------------------------

    def fetch(self, filename: str) -> Package | None:
        with self.engine.connect() as conn:
            row = conn.execute(_FETCH, {"key": filename}).first()
        return _row_to_package(row) if row else None

    def all(self, name: str) -> list[Package]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(packages).where(packages.c.name == name)).all()
        return newest_first([_row_to_package(row) for row in rows])

    def all_packages(self) -> list[Package]:
        with self.engine.connect() as conn:
            return [_row_to_package(row) for row in conn.execute(select(packages))]

    def distinct(self) -> list[str]:
        with self.engine.connect() as conn:
            names = conn.execute(select(packages.c.name).distinct()).scalars().all()
        return sorted(names)

    def summary(self) -> list[ProjectSummary]:
        """Faster than the default: reads neither the data column nor any JSON."""
        columns = (
            packages.c.name,
            packages.c.version,
            packages.c.filename,
            packages.c.last_modified,
            packages.c.summary,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns)).all()
        return summarize(
            Package(row.name, row.version, row.filename, _aware(row.last_modified), row.summary)
            for row in rows
        )

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(packages.c.filename).limit(1)).first() is None

    def serial(self) -> int:
        return sqlcounter.read(self.engine, serial_table)

    def core_metadata(self, filename: str) -> bytes | None:
        with self.engine.connect() as conn:
            return conn.execute(_CORE_METADATA, {"key": filename}).scalar()

    # -- writing -----------------------------------------------------------------------

    def _writing(self, *, bump: bool = True) -> AbstractContextManager[Connection]:
        """A write transaction that first locks the one serial row (see sqlcounter)."""
        return sqlcounter.changing(self.engine, serial_table, bump=bump)

    def add(self, package: Package) -> None:
        try:
            with self._writing() as conn:
                conn.execute(insert(packages).values(**_package_to_row(package)))
                _note_change(conn, package.filename, deleted=False)
        except IntegrityError:
            raise AlreadyCached(package.filename) from None

    def save(self, package: Package) -> None:
        with self._writing() as conn:
            _replace_record(conn, package)

    def save_core_metadata(self, filename: str, content: bytes) -> None:
        with self._writing(bump=False) as conn:  # a fill: no page changes
            _replace_core_metadata(conn, filename, content)

    def save_uploaded(self, package: Package, core_metadata: bytes) -> None:
        """One transaction, not two: each commit of a write is an fsync and a turn of the
        database's one write lock, which concurrent uploads queue for."""
        with self._writing() as conn:
            _replace_core_metadata(conn, package.filename, core_metadata)
            _replace_record(conn, package)

    def delete(self, package: Package) -> None:
        with self._writing() as conn:
            conn.execute(delete(packages).where(packages.c.filename == package.filename))
            conn.execute(
                delete(core_metadata_table).where(
                    core_metadata_table.c.filename == package.filename
                )
            )
            _note_change(conn, package.filename, deleted=True)

    def clear_all(self) -> None:
        """Faster than the default: no list of core-metadata filenames to keep."""
        with self._writing() as conn:
            conn.execute(delete(packages))
            conn.execute(delete(core_metadata_table))
            conn.execute(delete(changes_table))

    def try_lock(self, name: str, owner: str, seconds: float) -> bool:
        """INSERT, else take over an expired (or our own) row with one conditional UPDATE.

        The primary key lets exactly one of two racing inserts win. Each statement is its
        own transaction: InnoDB's gap lock from an UPDATE that matched nothing would
        otherwise deadlock two racers' inserts."""
        now = int(time.time() * 1000)
        expires = now + int(seconds * 1000)
        lock = locks_table.c
        try:
            with begin_write(self.engine) as conn:
                conn.execute(insert(locks_table).values(name=name, owner=owner, expires_ms=expires))
            return True
        except IntegrityError:
            pass
        with begin_write(self.engine) as conn:
            taken = conn.execute(
                update(locks_table)
                .where(lock.name == name, or_(lock.owner == owner, lock.expires_ms < now))
                .values(owner=owner, expires_ms=expires)
            ).rowcount
        return bool(taken)

    def unlock(self, name: str, owner: str) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                delete(locks_table).where(locks_table.c.name == name, locks_table.c.owner == owner)
            )

    def save_state(self, name: str, value: str) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(delete(state_table).where(state_table.c.name == name))
            conn.execute(insert(state_table).values(name=name, value=value))

    def state(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            query = select(state_table.c.value).where(state_table.c.name == name)
            return conn.execute(query).scalar()

    def project_status(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(_STATUS, {"key": name}).scalar()

    def project_statuses(self, names: Iterable[str]) -> dict[str, str]:
        """The table holds a row only for a project that is not active (a few): for more
        than STATUS_CHUNK names it is read whole, else the names are asked for."""
        wanted = set(names)
        query = select(status_table.c.name, status_table.c.value)
        if len(wanted) <= STATUS_CHUNK:
            query = query.where(status_table.c.name.in_(sorted(wanted)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {row.name: row.value for row in rows if row.name in wanted}

    def save_project_status(self, name: str, value: str | None) -> None:
        with self._writing() as conn:
            conn.execute(delete(status_table).where(status_table.c.name == name))
            if value is not None:
                conn.execute(insert(status_table).values(name=name, value=value))

    def reload_from_storage(self, stored: Iterable[Package], graceful: bool = False) -> int:
        """One transaction: readers see the old records until it commits (graceful or not).

        Records any process wrote after the listing began are kept as they are now (and a
        file deleted meanwhile stays deleted): the listing may have passed them already."""
        began = self.serial()  # before the first file is listed
        rows = [_package_to_row(p) for p in stored]
        with self._writing() as conn:
            changed = set(
                conn.execute(
                    select(changes_table.c.filename).where(changes_table.c.serial > began)
                ).scalars()
            )
            rows = [row for row in rows if row["filename"] not in changed]
            if changed:
                conn.execute(delete(packages).where(packages.c.filename.not_in(changed)))
            else:
                conn.execute(delete(packages))
            if rows:
                conn.execute(insert(packages), rows)
            # Core metadata of files that vanished from storage goes too.
            kept = {row["filename"] for row in rows} | changed
            known = conn.execute(select(core_metadata_table.c.filename)).scalars().all()
            gone = [f for f in known if f not in kept]
            if gone:
                conn.execute(
                    delete(core_metadata_table).where(core_metadata_table.c.filename.in_(gone))
                )
            # What was written before the listing began, storage has: forget it.
            conn.execute(delete(changes_table).where(changes_table.c.serial <= began))
            return int(conn.execute(select(func.count()).select_from(packages)).scalar_one())


def _replace_record(conn: Connection, package: Package) -> None:
    conn.execute(_DELETE_PACKAGE, {"key": package.filename})
    conn.execute(_INSERT_PACKAGE, _package_to_row(package))
    _note_change(conn, package.filename, deleted=False)


def _replace_core_metadata(conn: Connection, filename: str, content: bytes) -> None:
    conn.execute(_DELETE_CORE_METADATA, {"key": filename})
    conn.execute(_INSERT_CORE_METADATA, {"filename": filename, "content": content})


def _note_change(conn: Connection, filename: str, *, deleted: bool) -> None:
    """Remember this write's serial (the counter row is ours until commit: see _writing)."""
    serial = conn.execute(_SERIAL_VALUE).scalar_one()
    conn.execute(_DELETE_CHANGE, {"key": filename})
    conn.execute(_INSERT_CHANGE, {"filename": filename, "serial": serial, "deleted": deleted})


def create_schema(engine: Engine) -> None:
    """Create what is missing, tolerating other servers starting on the same database, then
    migrate older tables (the original pypicloud's ``packages`` first of all) in place."""
    create_all(engine, metadata)
    with begin_write(engine) as conn:
        sqlcounter.ensure_row(conn, serial_table)
    migrate(engine, "packages", MIGRATIONS)


def _original_tables(conn: Connection) -> None:
    """Version 1: the original's ``packages`` plus our serial, core-metadata, lock, change
    and state tables. create_all made whatever was missing; nothing else to do."""
    metadata.create_all(conn, checkfirst=True)


def _exact_names_on_mysql(conn: Connection) -> None:
    """Version 2: name and filename columns made by the original (or an older release) with
    the server's default collation compare exactly, as the primary key must. Only columns
    not exact yet are altered: MySQL commits DDL at once, so servers starting together on a
    fresh database must find nothing to do here."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return
    exact = f"CHARACTER SET utf8mb4 COLLATE {EXACT_COLLATION} NOT NULL"
    columns = {
        "packages": ("filename", "name"),
        "pypicloud_core_metadata": ("filename",),
        "pypicloud_changes": ("filename",),
    }
    for table, names in columns.items():
        inexact = [name for name in names if _collation(conn, table, name) != EXACT_COLLATION]
        if inexact:
            changes = ", ".join(f"MODIFY {name} VARCHAR(255) {exact}" for name in inexact)
            conn.execute(text(f"ALTER TABLE {table} {changes}"))


def _collation(conn: Connection, table: str, column: str) -> str | None:
    query = text(
        "SELECT collation_name FROM information_schema.columns WHERE table_schema = DATABASE()"
        " AND table_name = :table AND column_name = :column"
    )
    return conn.execute(query, {"table": table, "column": column}).scalar()


def _project_status_table(conn: Connection) -> None:
    """Version 3: the project status table (PEP 792), created where it is missing. The
    original pypicloud never reads it, so a rollback leaves it unused and harmless."""
    status_table.create(conn, checkfirst=True)


MIGRATIONS: list[Step] = [_original_tables, _exact_names_on_mysql, _project_status_table]


def make_engine(url: str, options: dict[str, Any] | None = None) -> Engine:
    """One engine per process (see pypicloud.sqlengine); ``options`` keyed ``db.*``."""
    return engine_for_url(url, options, prefix="db.")


if TYPE_CHECKING:
    _conforms: type[Cache] = SQLCache  # mypy checks the class against the Protocol here
