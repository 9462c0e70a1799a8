"""The audit log in the SQL package database: the ``pypicloud_audit`` table.

Every instance of a deployment writes to the same table, so one query shows what happened
anywhere. The table is versioned with pypicloud/schema.py (component ``audit``) so a later
release can change it in place. Old entries are deleted on write, at most once an hour per
process, so no separate job is needed to honour ``pypi.audit_retention_days``.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from pypicloud.audit import (
    Actor,
    AuditEntry,
    AuditOptions,
    AuditQuery,
    PruneSchedule,
    current_actor,
    now_utc,
)
from pypicloud.schema import migrate
from pypicloud.sqlengine import begin_write

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds, per process

metadata = MetaData()

audit_table = Table(
    "pypicloud_audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(), nullable=False, index=True),  # naive UTC
    Column("actor", String(255), nullable=False, index=True),
    Column("token_id", String(64)),
    Column("address", String(64)),
    Column("action", String(64), nullable=False, index=True),
    Column("project", String(255), index=True),
    Column("target", String(255)),
    Column("detail", Text()),
)

#: Built once: building the statement per entry cost more than running it on SQLite.
_INSERT_ENTRY = insert(audit_table)


def _create_table(conn: Connection) -> None:
    """Step 1: the table (create_all only creates what is missing)."""
    metadata.create_all(conn)


STEPS = [_create_table]


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


def _naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


class SQLAuditLog:
    """Entries in ``pypicloud_audit``; thread-safe (one engine, a transaction per entry)."""

    stored = True

    def __init__(self, engine: Engine, options: AuditOptions | None = None) -> None:
        self.engine = engine
        self.options = options or AuditOptions()
        migrate(engine, "audit", STEPS)
        self._schedule = PruneSchedule(self.prune, (SQLAlchemyError,), PRUNE_EVERY)

    def record(
        self,
        action: str,
        *,
        project: str | None = None,
        target: str | None = None,
        detail: str | None = None,
        actor: Actor | None = None,
    ) -> None:
        who = actor or current_actor()
        row = {
            "at": _naive(now_utc()),
            "actor": _clip(who.name, 255) or "",
            "token_id": _clip(who.token_id, 64),
            "address": _clip(who.address, 64),
            "action": action[:64],
            "project": _clip(project, 255),
            "target": _clip(target, 255),
            "detail": _clip(detail, 2000),
        }
        try:
            with begin_write(self.engine) as conn:
                conn.execute(_INSERT_ENTRY, row)
        except SQLAlchemyError:
            log.exception("could not record %s of %s in the audit log", action, target or project)
            return
        self._schedule.maybe_prune()

    def prune(self, now: dt.datetime | None = None) -> int:
        """Delete the entries older than the retention; how many went."""
        cutoff = self.options.cutoff(now or now_utc())
        if cutoff is None:
            return 0
        with begin_write(self.engine) as conn:
            return conn.execute(
                delete(audit_table).where(audit_table.c.at < _naive(cutoff))
            ).rowcount

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        c = audit_table.c
        statement = select(audit_table).order_by(c.at.desc(), c.id.desc()).limit(query.limit)
        if query.since is not None:
            statement = statement.where(c.at >= _naive(query.since))
        if query.user is not None:
            statement = statement.where(c.actor == query.user)
        if query.project is not None:
            statement = statement.where(c.project == query.project)
        if query.action is not None:
            statement = statement.where(c.action == query.action)
        with self.engine.connect() as conn:
            rows = conn.execute(statement).all()
        return [
            AuditEntry(
                when=row.at.replace(tzinfo=dt.UTC),
                actor=row.actor,
                action=row.action,
                project=row.project,
                target=row.target,
                detail=row.detail,
                token_id=row.token_id,
                address=row.address,
            )
            for row in rows
        ]
