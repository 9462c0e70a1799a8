"""Publishers and used token ids, in the SQL database that keeps the API tokens.

New tables only (``pypicloud_oidc_*``): the original pypicloud's tables are untouched, so
rolling back to it loses trusted publishing and nothing else. A used ``jti`` is kept (as a
digest) until the token it came with has expired, in the database every server process
shares, so a token replayed to another process is refused too.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from pypicloud.oidc.publishers import Publisher
from pypicloud.schema import create_all, migrate
from pypicloud.tokens import new_token_id

metadata = MetaData()
publishers = Table(
    "pypicloud_oidc_publishers",
    metadata,
    Column("publisher_id", String(32), primary_key=True),
    Column("project", String(255), nullable=False, index=True),
    Column("issuer", String(500), nullable=False, index=True),
    Column("audience", String(255), nullable=False),
    Column("claims", Text(), nullable=False),  # JSON object claim -> expected value
    Column("description", Text()),
    Column("created", DateTime(), nullable=False),
)
used_ids = Table(
    "pypicloud_oidc_used_jti",
    metadata,
    Column("digest", String(64), primary_key=True),  # sha256 of issuer NUL jti
    Column("expires", DateTime(), nullable=False, index=True),
)


def _create_tables(conn: Connection) -> None:
    metadata.create_all(conn)


MIGRATIONS = [_create_tables]


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def _publisher(row: Any) -> Publisher:
    return Publisher(
        publisher_id=row.publisher_id,
        project=row.project,
        issuer=row.issuer,
        audience=row.audience,
        claims=json.loads(row.claims),
        description=row.description or "",
        created=row.created.replace(tzinfo=dt.UTC),
    )


def _values(publisher: Publisher) -> dict[str, Any]:
    return {
        "publisher_id": publisher.publisher_id,
        "project": publisher.project,
        "issuer": publisher.issuer,
        "audience": publisher.audience,
        "claims": json.dumps(dict(publisher.claims), sort_keys=True),
        "description": publisher.description,
        "created": _naive(publisher.created or dt.datetime.now(dt.UTC)),
    }


def _as_stored(publisher: Publisher, current: Publisher | None) -> Publisher:
    """The publisher as a row gives it back (whole seconds, UTC), so comparing it with the
    row finds real differences only; no creation time keeps the current one (or now)."""
    created = publisher.created or (current.created if current else None)
    stored = _naive(created or dt.datetime.now(dt.UTC)).replace(tzinfo=dt.UTC)
    return dataclasses.replace(publisher, created=stored)


class SQLPublisherStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_all(engine, metadata)
        migrate(engine, "oidc", MIGRATIONS)

    def add(
        self, project: str, issuer: str, audience: str, claims: dict[str, str], description: str
    ) -> Publisher:
        values = _values(Publisher(new_token_id(), project, issuer, audience, claims, description))
        with self.engine.begin() as conn:
            conn.execute(insert(publishers).values(**values))
            row = conn.execute(
                select(publishers).where(publishers.c.publisher_id == values["publisher_id"])
            ).one()
        return _publisher(row)

    def list(self, project: str | None = None) -> list[Publisher]:
        query = select(publishers).order_by(publishers.c.created, publishers.c.publisher_id)
        if project is not None:
            query = query.where(publishers.c.project == project)
        with self.engine.connect() as conn:
            return [_publisher(row) for row in conn.execute(query)]

    def of_issuer(self, issuer: str) -> builtins.list[Publisher]:
        query = select(publishers).where(publishers.c.issuer == issuer)
        with self.engine.connect() as conn:
            return [_publisher(row) for row in conn.execute(query)]

    def get(self, publisher_id: str) -> Publisher | None:
        query = select(publishers).where(publishers.c.publisher_id == publisher_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _publisher(row) if row else None

    def restore(
        self, incoming: Iterable[Publisher]
    ) -> tuple[builtins.list[str], builtins.list[str]]:
        """Put exported publishers back under their own ids, in one transaction (a file's
        publishers land whole or not at all); one identical to its row is left alone.
        Returns the ids created and the ids updated."""
        created: builtins.list[str] = []
        updated: builtins.list[str] = []
        with self.engine.begin() as conn:
            for publisher in incoming:
                by_id = publishers.c.publisher_id == publisher.publisher_id
                row = conn.execute(select(publishers).where(by_id)).first()
                current = _publisher(row) if row else None
                wanted = _as_stored(publisher, current)
                if current is None:
                    conn.execute(insert(publishers).values(**_values(wanted)))
                    created.append(publisher.publisher_id)
                elif wanted != current:
                    conn.execute(update(publishers).where(by_id).values(**_values(wanted)))
                    updated.append(publisher.publisher_id)
        return created, updated

    def remove(self, publisher_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(publishers).where(publishers.c.publisher_id == publisher_id)
            ).rowcount
        return bool(done)

    def use_once(self, issuer: str, jti: str, expires: dt.datetime) -> bool:
        """Record a token id as used until ``expires``; False when it already was."""
        digest = hashlib.sha256(f"{issuer}\0{jti}".encode()).hexdigest()
        now = _naive(dt.datetime.now(dt.UTC))
        with self.engine.begin() as conn:
            conn.execute(delete(used_ids).where(used_ids.c.expires < now))
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(used_ids).values(digest=digest, expires=_naive(expires)))
        except IntegrityError:
            return False
        return True
