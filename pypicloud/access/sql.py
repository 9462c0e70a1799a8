"""Access in a SQL database (``pypi.auth = sql``): users, groups and grants that change live.

The tables are the original pypicloud's (``pypicloud_users``, ``pypicloud_groups``,
``pypicloud_user_groups``, ``pypicloud_user_permissions``, ``pypicloud_group_permissions``,
``pypicloud_keyvals``), so a database it wrote is used as is, and it can read ours back.
Beside them one table of ours counts changes: every write bumps it in the same transaction,
so every server process sees a change at its next version check (``auth.recheck_seconds``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
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
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from pypicloud import sqlcounter
from pypicloud.access.base import (
    RESERVED_GROUPS,
    Grants,
    Mode,
    MutableAccess,
    UserFacts,
    group_principal,
    user_principal,
)
from pypicloud.access.passwords import dummy_verify, verify_password
from pypicloud.schema import create_all, migrate
from pypicloud.settings import Settings
from pypicloud.sqlcounter import counter_table
from pypicloud.sqlengine import engine_from_settings

metadata = MetaData()
NAME = String(255)

users = Table(
    "pypicloud_users",
    metadata,
    Column("username", NAME, primary_key=True),
    Column("password", Text(), nullable=False),
    Column("admin", Boolean(), nullable=False),
    Column("pending", Boolean(), nullable=False),
)
groups = Table("pypicloud_groups", metadata, Column("name", NAME, primary_key=True))
memberships = Table(
    "pypicloud_user_groups",
    metadata,
    Column(
        "username",
        NAME,
        ForeignKey("pypicloud_users.username", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "group", NAME, ForeignKey("pypicloud_groups.name", ondelete="CASCADE"), primary_key=True
    ),
)
user_grants = Table(
    "pypicloud_user_permissions",
    metadata,
    Column("package", NAME, primary_key=True),
    Column(
        "username",
        NAME,
        ForeignKey("pypicloud_users.username", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("read", Boolean()),
    Column("write", Boolean()),
)
group_grants = Table(
    "pypicloud_group_permissions",
    metadata,
    Column("package", NAME, primary_key=True),
    # No foreign key: "everyone" and "authenticated" are grantable without a group row.
    Column("groupname", NAME, primary_key=True),
    Column("read", Boolean()),
    Column("write", Boolean()),
)
keyvals = Table(
    "pypicloud_keyvals",
    metadata,
    Column("key", NAME, primary_key=True),
    Column("value", Text()),
)
serial = counter_table("pypicloud_access_serial", metadata)


def _create_tables(conn: Connection) -> None:
    """Version 1: the original's tables where missing, and our change counter."""
    metadata.create_all(conn)
    sqlcounter.ensure_row(conn, serial)


MIGRATIONS = [_create_tables]


def _mode(read: Any, write: Any) -> Mode | None:
    if write:
        return "rw"  # the original allowed write without read; writing implies reading here
    return "r" if read else None


class SQLAccess:
    """A MutableAccess over one SQLAlchemy engine, shared by every request thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_all(engine, metadata)  # the tables first: concurrent start-ups race here
        migrate(engine, "access", MIGRATIONS)

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLAccess:
        url = settings.str("auth.db.url") or settings.str("db.url")
        if url is None:
            directory = os.path.join(settings.here, "data")
            os.makedirs(directory, exist_ok=True)
            url = "sqlite:///" + os.path.join(directory, "db.sqlite")
        return cls(engine_from_settings(settings, "auth.db.", url))

    # -- facts -------------------------------------------------------------------------

    def verify_user(self, username: str, password: str) -> bool:
        with self.engine.connect() as conn:
            hashed = conn.execute(
                select(users.c.password).where(
                    users.c.username == username, users.c.pending.is_(False)
                )
            ).scalar()
        if hashed is None:
            dummy_verify()  # same cost as a real check: timing must not reveal user names
            return False
        return verify_password(password, hashed)

    def user(self, username: str) -> UserFacts | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users.c.admin, users.c.pending).where(users.c.username == username)
            ).first()
            if row is None or row.pending:
                return None
            names = conn.execute(
                select(memberships.c.group).where(memberships.c.username == username)
            ).scalars()
            return UserFacts(username, frozenset(names), bool(row.admin))

    def grants(self) -> Grants:
        result: dict[str, dict[str, Mode]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(user_grants)):
                mode = _mode(row.read, row.write)
                if mode:
                    project = result.setdefault(canonicalize_name(row.package), {})
                    project[user_principal(row.username)] = mode
            for row in conn.execute(select(group_grants)):
                mode = _mode(row.read, row.write)
                if mode:
                    project = result.setdefault(canonicalize_name(row.package), {})
                    project[group_principal(row.groupname)] = mode
        return result

    def version(self) -> int:
        return sqlcounter.read(self.engine, serial)

    def check_health(self) -> tuple[bool, str]:
        try:
            self.version()
        except SQLAlchemyError as exc:
            return False, f"access database: {exc.__class__.__name__}"
        return True, ""

    # -- listing -----------------------------------------------------------------------

    def users(self) -> list[UserFacts]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(users.c.username, users.c.admin)
                .where(users.c.pending.is_(False))
                .order_by(users.c.username)
            ).all()
            member_rows = conn.execute(select(memberships)).all()
        by_user: dict[str, set[str]] = {}
        for member in member_rows:
            by_user.setdefault(member.username, set()).add(member.group)
        return [
            UserFacts(row.username, frozenset(by_user.get(row.username, ())), bool(row.admin))
            for row in rows
        ]

    def groups(self) -> dict[str, frozenset[str]]:
        with self.engine.connect() as conn:
            names = conn.execute(select(groups.c.name)).scalars().all()
            member_rows = conn.execute(select(memberships)).all()
        found: dict[str, set[str]] = {name: set() for name in names}
        for member in member_rows:
            found.setdefault(member.group, set()).add(member.username)
        return {name: frozenset(found[name]) for name in sorted(found)}

    def pending_users(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(users.c.username)
                    .where(users.c.pending.is_(True))
                    .order_by(users.c.username)
                ).scalars()
            )

    def password_hash(self, username: str) -> str | None:
        """The stored hash (for the ACL export); None for an unknown user."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(users.c.password).where(users.c.username == username)
            ).scalar()

    def allow_register(self) -> bool:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(keyvals.c.value).where(keyvals.c.key == "allow_register")
            ).scalar()
        return value == "true"

    # -- changes -----------------------------------------------------------------------

    def _changing(self) -> AbstractContextManager[Connection]:
        """A write transaction that moves the change counter (locked first)."""
        return sqlcounter.changing(self.engine, serial)

    def _require_user(self, conn: Connection, username: str) -> None:
        found = conn.execute(select(users.c.username).where(users.c.username == username))
        if found.first() is None:
            raise KeyError(username)

    def _require_group(self, conn: Connection, group: str) -> None:
        found = conn.execute(select(groups.c.name).where(groups.c.name == group))
        if found.first() is None:
            raise KeyError(group)

    def create_user(
        self, username: str, password_hash: str, *, admin: bool = False, pending: bool = False
    ) -> None:
        try:
            with self._changing() as conn:
                conn.execute(
                    insert(users).values(
                        username=username, password=password_hash, admin=admin, pending=pending
                    )
                )
        except IntegrityError:
            raise ValueError(f"user {username!r} exists") from None

    def delete_user(self, username: str) -> None:
        with self._changing() as conn:
            self._require_user(conn, username)
            # Explicit, not ON DELETE CASCADE: SQLite enforces foreign keys only when asked.
            conn.execute(delete(memberships).where(memberships.c.username == username))
            conn.execute(delete(user_grants).where(user_grants.c.username == username))
            conn.execute(delete(users).where(users.c.username == username))

    def _update_user(self, username: str, **values: Any) -> None:
        with self._changing() as conn:
            done = conn.execute(update(users).where(users.c.username == username).values(**values))
            if not done.rowcount:
                raise KeyError(username)

    def set_password(self, username: str, password_hash: str) -> None:
        self._update_user(username, password=password_hash)

    def set_admin(self, username: str, admin: bool) -> None:
        self._update_user(username, admin=admin)

    def approve_user(self, username: str) -> None:
        self._update_user(username, pending=False)

    def create_group(self, group: str) -> None:
        if group in RESERVED_GROUPS:
            raise ValueError(f"{group!r} is a reserved name")
        try:
            with self._changing() as conn:
                conn.execute(insert(groups).values(name=group))
        except IntegrityError:
            raise ValueError(f"group {group!r} exists") from None

    def delete_group(self, group: str) -> None:
        with self._changing() as conn:
            self._require_group(conn, group)
            conn.execute(delete(memberships).where(memberships.c.group == group))
            conn.execute(delete(group_grants).where(group_grants.c.groupname == group))
            conn.execute(delete(groups).where(groups.c.name == group))

    def add_member(self, group: str, username: str) -> None:
        with self._changing() as conn:
            self._require_user(conn, username)
            self._require_group(conn, group)
            where = (memberships.c.group == group) & (memberships.c.username == username)
            if conn.execute(select(memberships.c.group).where(where)).first() is None:
                conn.execute(insert(memberships).values(group=group, username=username))

    def remove_member(self, group: str, username: str) -> None:
        with self._changing() as conn:
            conn.execute(
                delete(memberships).where(
                    memberships.c.group == group, memberships.c.username == username
                )
            )

    def set_grant(self, project: str, principal: str, mode: Mode | None) -> None:
        project = canonicalize_name(project)
        kind, _, name = principal.partition(":")
        if principal in RESERVED_GROUPS:
            table, column, name = group_grants, group_grants.c.groupname, principal
        elif kind == "user" and name:
            table, column = user_grants, user_grants.c.username
        elif kind == "group" and name:
            table, column = group_grants, group_grants.c.groupname
        else:
            raise ValueError(f"not a grantable principal: {principal!r}")
        with self._changing() as conn:
            if table is user_grants:
                self._require_user(conn, name)
            elif principal not in RESERVED_GROUPS:
                self._require_group(conn, name)
            where = (table.c.package.in_(_spellings(conn, table, project))) & (column == name)
            conn.execute(delete(table).where(where))
            if mode is not None:
                values = {"package": project, column.name: name}
                conn.execute(insert(table).values(read=True, write=mode == "rw", **values))

    def set_allow_register(self, allow: bool) -> None:
        with self._changing() as conn:
            conn.execute(delete(keyvals).where(keyvals.c.key == "allow_register"))
            if allow:
                conn.execute(insert(keyvals).values(key="allow_register", value="true"))


def _spellings(conn: Connection, table: Table, project: str) -> Iterable[str]:
    """Every stored spelling of a project (the original stored names as they came)."""
    names = conn.execute(select(table.c.package).distinct()).scalars()
    return [name for name in names if canonicalize_name(name) == project] or [project]


if TYPE_CHECKING:
    _conforms: type[MutableAccess] = SQLAccess
