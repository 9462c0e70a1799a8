"""A one-row change counter in a SQL database: the serial every server process reads.

Writers bump it FIRST in their transaction, which takes the row's lock before any other:
writers then queue in one order and never deadlock each other (InnoDB's gap locks otherwise
do, for two inserts of new keys), and readers see a new value exactly when the change
commits.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select, Update

from pypicloud.sqlengine import begin_write


def counter_table(name: str, metadata: MetaData) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("value", BigInteger, nullable=False),
    )


def ensure_row(conn: Connection, table: Table) -> None:
    """Insert the one row unless it exists (another process may insert it meanwhile)."""
    if conn.execute(select(table.c.value)).first() is None:
        with contextlib.suppress(IntegrityError), conn.begin_nested():
            conn.execute(insert(table).values(id=1, value=0))


def read(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(_value_of(table)).scalar_one())


@contextlib.contextmanager
def changing(engine: Engine, table: Table, *, bump: bool = True) -> Iterator[Connection]:
    """A write transaction that locks (and, unless ``bump`` is false, moves) the counter."""
    with begin_write(engine) as conn:
        conn.execute(_moving(table, 1 if bump else 0))
        yield conn


# Built once per table: a statement built per call cost more than running it on SQLite.
@functools.cache
def _value_of(table: Table) -> Select[Any]:
    return select(table.c.value)


@functools.cache
def _moving(table: Table, step: int) -> Update:
    return update(table).values(value=table.c.value + step)
