"""API tokens in a SQL database: the sql access database, or the package database.

Only each token's sha256 is stored (a token carries 256 random bits, so a fast hash is
enough, and verifying costs one indexed lookup). ``last_used`` is written at most once a
minute per token, so pip's request per file does not become a write per file.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from sqlalchemy import (
    Boolean,
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

from pypicloud import sqlcounter
from pypicloud.schema import create_all, migrate
from pypicloud.sqlcounter import counter_table
from pypicloud.sqlengine import begin_write
from pypicloud.tokens import ApiToken, MutableTokenStore, new_secret, new_token_id, token_digest

LAST_USED_PRECISION = dt.timedelta(minutes=1)

metadata = MetaData()
tokens = Table(
    "pypicloud_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("username", String(255), nullable=False, index=True),
    Column("projects", Text()),  # JSON list of normalized names; NULL means every project
    Column("upload", Boolean(), nullable=False),
    Column("description", Text()),
    Column("created", DateTime(), nullable=False),
    Column("expires", DateTime()),
    Column("last_used", DateTime()),
)
serial = counter_table("pypicloud_token_serial", metadata)


def _create_tables(conn: Connection) -> None:
    metadata.create_all(conn)
    sqlcounter.ensure_row(conn, serial)


MIGRATIONS = [_create_tables]


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None else None


def _token(row: Any) -> ApiToken:
    projects = json.loads(row.projects) if row.projects else None
    return ApiToken(
        token_id=row.token_id,
        username=row.username,
        projects=frozenset(projects) if projects is not None else None,
        upload=bool(row.upload),
        expires=_aware(row.expires),
        description=row.description or "",
        created=_aware(row.created),
        last_used=_aware(row.last_used),
    )


class SQLTokenStore:
    """Tokens in one database, shared by every request thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_all(engine, metadata)
        migrate(engine, "tokens", MIGRATIONS)

    def verify_token(self, secret: str) -> ApiToken | None:
        digest = token_digest(secret)
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.digest == digest)).first()
        if row is None:
            return None
        token = _token(row)
        now = dt.datetime.now(dt.UTC)
        if token.last_used is None or now - token.last_used >= LAST_USED_PRECISION:
            with begin_write(self.engine) as conn:
                conn.execute(
                    update(tokens)
                    .where(tokens.c.token_id == token.token_id)
                    .values(last_used=_naive(now))
                )
        return token

    def version(self) -> int:
        return sqlcounter.read(self.engine, serial)

    def create(
        self,
        username: str,
        *,
        projects: Iterable[str] | None = None,
        upload: bool = False,
        expires: dt.datetime | None = None,
        description: str = "",
    ) -> tuple[str, ApiToken]:
        secret = new_secret()
        names = sorted({canonicalize_name(p) for p in projects}) if projects is not None else None
        values = {
            "token_id": new_token_id(),
            "digest": token_digest(secret),
            "username": username,
            "projects": json.dumps(names) if names is not None else None,
            "upload": upload,
            "description": description,
            "created": _naive(dt.datetime.now(dt.UTC)),
            "expires": _naive(expires),
            "last_used": None,
        }
        with sqlcounter.changing(self.engine, serial) as conn:
            conn.execute(insert(tokens).values(**values))
            row = conn.execute(select(tokens).where(tokens.c.token_id == values["token_id"]))
            return secret, _token(row.one())

    def list(self, username: str | None = None) -> list[ApiToken]:
        query = select(tokens).order_by(tokens.c.created, tokens.c.token_id)
        if username is not None:
            query = query.where(tokens.c.username == username)
        with self.engine.connect() as conn:
            return [_token(row) for row in conn.execute(query)]

    def get(self, token_id: str) -> ApiToken | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.token_id == token_id)).first()
        return _token(row) if row else None

    def revoke(self, token_id: str) -> bool:
        with sqlcounter.changing(self.engine, serial) as conn:
            done = conn.execute(delete(tokens).where(tokens.c.token_id == token_id)).rowcount
        return bool(done)

    def revoke_all(self, username: str) -> int:
        with sqlcounter.changing(self.engine, serial) as conn:
            done = conn.execute(delete(tokens).where(tokens.c.username == username)).rowcount
        return int(done or 0)

    def hashed(self) -> builtins.list[tuple[ApiToken, str]]:
        query = select(tokens).order_by(tokens.c.created, tokens.c.token_id)
        with self.engine.connect() as conn:
            return [(_token(row), row.digest) for row in conn.execute(query)]

    def restore(self, token: ApiToken, digest: str) -> bool:
        here = (tokens.c.token_id == token.token_id) | (tokens.c.digest == digest)
        with self.engine.connect() as conn:
            if conn.execute(select(tokens.c.token_id).where(here)).first() is not None:
                return False
        projects = sorted(token.projects) if token.projects is not None else None
        with sqlcounter.changing(self.engine, serial) as conn:
            conn.execute(
                insert(tokens).values(
                    token_id=token.token_id,
                    digest=digest,
                    username=token.username,
                    projects=json.dumps(projects) if projects is not None else None,
                    upload=token.upload,
                    description=token.description,
                    created=_naive(token.created or dt.datetime.now(dt.UTC)),
                    expires=_naive(token.expires),
                    last_used=_naive(token.last_used),
                )
            )
        return True


if TYPE_CHECKING:
    _conforms: type[MutableTokenStore] = SQLTokenStore
