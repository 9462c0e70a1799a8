"""A small, tested schema versioning mechanism for our SQL tables.

Each component (``access``, ``tokens``...) has an ordered list of migration steps; the
number applied is kept in ``pypicloud_schema``. At start-up the missing steps run in order,
so a later release changes its tables in place. Steps must be idempotent (a step that
creates tables creates only what is missing), because two processes may start at once and
MySQL commits DDL immediately; the version row only ever moves forward.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

log = logging.getLogger(__name__)

Step = Callable[[Connection], None]

_metadata = MetaData()
versions = Table(
    "pypicloud_schema",
    _metadata,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)


def create_all(engine: Engine, metadata: MetaData, attempts: int = 5) -> None:
    """Create the missing tables, tolerating other processes creating them at once.

    The losers of that race see their CREATE fail (or, on PostgreSQL, collide in the
    catalog); the tables then exist, so trying again finds nothing left to do.
    """
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine)
            return
        except DatabaseError:
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)


def current_version(engine: Engine, component: str) -> int:
    create_all(engine, _metadata)
    with engine.connect() as conn:
        found = conn.execute(
            select(versions.c.version).where(versions.c.component == component)
        ).scalar()
    return int(found or 0)


def migrate(engine: Engine, component: str, steps: Sequence[Step], attempts: int = 5) -> int:
    """Apply the steps not applied yet; return the version the schema is at.

    Servers starting together on MySQL can deadlock recording the version (InnoDB's gap
    locks on the missing row): the loser starts over, finding the steps applied."""
    for attempt in range(1, attempts + 1):
        try:
            return _migrate_once(engine, component, steps)
        except OperationalError:
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _migrate_once(engine: Engine, component: str, steps: Sequence[Step]) -> int:
    version = current_version(engine, component)
    if version > len(steps):
        raise RuntimeError(
            f"the {component} tables are at version {version}, newer than this release "
            f"knows ({len(steps)}): upgrade pypicloud"
        )
    for number, step in enumerate(steps[version:], start=version + 1):
        with engine.begin() as conn:
            step(conn)
            _record(conn, component, number)
        log.info("%s schema migrated to version %d", component, number)
    return len(steps)


def _record(conn: Connection, component: str, number: int) -> None:
    where = versions.c.component == component
    moved = conn.execute(
        update(versions).where(where, versions.c.version < number).values(version=number)
    )
    if moved.rowcount:
        return
    exists = conn.execute(select(versions.c.version).where(where)).scalar()
    if exists is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(versions).values(component=component, version=number))
        except IntegrityError:
            pass  # another process recorded it meanwhile
