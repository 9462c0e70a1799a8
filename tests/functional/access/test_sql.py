"""The sql access backend on a database the original pypicloud wrote, and its settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from passlib.hash import sha256_crypt

from pypicloud.access.sql import SQLAccess
from pypicloud.schema import current_version
from pypicloud.settings import ConfigError, Settings

ORIGINAL_SCHEMA = [
    "CREATE TABLE pypicloud_users (username VARCHAR(255) PRIMARY KEY, password TEXT NOT NULL,"
    " admin BOOLEAN NOT NULL, pending BOOLEAN NOT NULL)",
    "CREATE TABLE pypicloud_groups (name VARCHAR(255) PRIMARY KEY)",
    "CREATE TABLE pypicloud_user_groups (username VARCHAR(255) REFERENCES"
    " pypicloud_users(username) ON DELETE CASCADE, {group} VARCHAR(255) REFERENCES"
    " pypicloud_groups(name) ON DELETE CASCADE, PRIMARY KEY (username, {group}))",
    "CREATE TABLE pypicloud_user_permissions (package VARCHAR(255), username VARCHAR(255)"
    " REFERENCES pypicloud_users(username) ON DELETE CASCADE, {read} BOOLEAN, {write} BOOLEAN,"
    " PRIMARY KEY (package, username))",
    "CREATE TABLE pypicloud_group_permissions (package VARCHAR(255), groupname VARCHAR(255)"
    " REFERENCES pypicloud_groups(name) ON DELETE CASCADE, {read} BOOLEAN, {write} BOOLEAN,"
    " PRIMARY KEY (package, groupname))",
    "CREATE TABLE pypicloud_keyvals ({key} VARCHAR(255) PRIMARY KEY, value TEXT)",
]


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def original_database(request) -> str:
    url = request.getfixturevalue(f"{request.param}_url")
    engine = sa.create_engine(url)
    quote = engine.dialect.identifier_preparer.quote
    names = {word: quote(word) for word in ("group", "read", "write", "key")}
    hashed = sha256_crypt.using(rounds=1000).hash("old-password")
    with engine.begin() as conn:
        for statement in ORIGINAL_SCHEMA:
            conn.execute(sa.text(statement.format(**names)))
        conn.execute(
            sa.text("INSERT INTO pypicloud_users VALUES (:u, :p, :a, :pe)"),
            [
                {"u": "olduser", "p": hashed, "a": True, "pe": False},
                {"u": "waiting", "p": hashed, "a": False, "pe": True},
            ],
        )
        conn.execute(sa.text("INSERT INTO pypicloud_groups VALUES ('oldgroup')"))
        conn.execute(sa.text("INSERT INTO pypicloud_user_groups VALUES ('olduser', 'oldgroup')"))
        conn.execute(
            sa.text("INSERT INTO pypicloud_user_permissions VALUES ('My_Pkg', 'olduser', :r, :w)"),
            {"r": False, "w": True},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pypicloud_group_permissions VALUES ('Other.Pkg', 'oldgroup', :r, :w)"
            ),
            {"r": True, "w": False},
        )
        conn.execute(sa.text("INSERT INTO pypicloud_keyvals VALUES ('allow_register', 'true')"))
    engine.dispose()
    return url


def test_an_original_database_is_used_as_is(original_database):
    engine = sa.create_engine(original_database)
    backend = SQLAccess(engine)
    assert backend.verify_user("olduser", "old-password")
    assert backend.user("olduser").groups == {"oldgroup"} and backend.user("olduser").admin
    assert backend.pending_users() == ["waiting"]
    assert backend.grants() == {
        "my-pkg": {"user:olduser": "rw"},  # the original's write-only grant: write implies read
        "other-pkg": {"group:oldgroup": "r"},
    }
    assert backend.allow_register()
    assert current_version(engine, "access") == 1
    # Changes keep the original's spelling readable by it: one row per grant, same columns.
    backend.set_grant("my-pkg", "user:olduser", "r")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT package, username FROM pypicloud_user_permissions"))
        assert [tuple(r) for r in rows] == [("my-pkg", "olduser")]
    SQLAccess(engine)  # a second start migrates nothing and loses nothing
    assert backend.verify_user("olduser", "old-password")
    engine.dispose()


def test_settings(tmp_path):
    raw = {"auth.db.url": f"sqlite:///{tmp_path / 'access.sqlite'}"}
    backend = SQLAccess.from_settings(Settings(raw, environ={}, here=str(tmp_path)))
    assert backend.version() == 0
    with pytest.raises(ConfigError, match="auth.db.url"):
        SQLAccess.from_settings(Settings({"auth.db.url": "nosuch://x"}, environ={}))
    with pytest.raises(ConfigError, match="auth.db.pool_size"):
        SQLAccess.from_settings(
            Settings({"auth.db.url": "sqlite://", "auth.db.pool_size": "3"}, environ={})
        )


def test_default_database_is_the_package_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    backend = SQLAccess.from_settings(Settings({"db.url": url}, environ={}))
    assert str(backend.engine.url) == url
