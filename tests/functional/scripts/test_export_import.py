"""ppc-export / ppc-import: the acl.json.gz layout, between real SQL access databases."""

from __future__ import annotations

import gzip
import json

from pypicloud import wsgi_app
from pypicloud.tokens import token_digest
from tests.fixtures.access import FAST_HASH
from tests.functional.access import world


def export(ppc, ini, path) -> dict:
    result = ppc("export", ini, "-o", path)
    assert result.returncode == 0, result.stderr
    return json.loads(gzip.decompress(path.read_bytes()))


def test_export_holds_the_world_in_the_original_layout(
    ppc, make_ini, tmp_path, sql_sqlite_access_settings, sqlite_access_opener
):
    backend = sqlite_access_opener()
    backend.create_user("eve", FAST_HASH, pending=True)
    backend.set_allow_register(True)
    ini = make_ini(settings=sql_sqlite_access_settings)
    data = export(ppc, ini, tmp_path / "acl.json.gz")
    assert data["allow_register"] is True
    assert {(u["username"], u["admin"], u["password"]) for u in data["users"]} == {
        (name, name in world.ADMINS, FAST_HASH) for name in world.USERS
    }
    assert data["pending_users"] == [{"username": "eve", "password": FAST_HASH}]
    assert data["groups"] == {"devs": ["bob"]}
    assert data["packages"] == {
        "users": {
            "carols-pkg": {"carol": ["read", "write"]},
            "secret": {"bob": ["read", "write"], "dave": ["read"]},
        },
        "groups": {},
    }


def test_export_to_stdout_is_the_same_gzipped_json(ppc, make_ini, sql_sqlite_access_settings):
    result = ppc("export", make_ini(settings=sql_sqlite_access_settings), text=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(gzip.decompress(result.stdout))["groups"] == {"devs": ["bob"]}


def test_round_trip_from_sqlite_into_postgresql_twice(
    ppc,
    make_ini,
    tmp_path,
    sql_sqlite_access_settings,
    sqlite_access_opener,
    postgresql_access_opener,
    postgresql_url,
):
    sqlite_access_opener().create_user("eve", FAST_HASH, pending=True)
    source = make_ini("source", settings=sql_sqlite_access_settings)
    exported = export(ppc, source, tmp_path / "acl.json.gz")

    target = make_ini("target", **{"pypi.auth": "sql", "auth.db.url": postgresql_url})
    first = ppc("import", target, "-i", tmp_path / "acl.json.gz")
    assert first.returncode == 0, first.stderr
    assert "4 users created" in first.stderr and "1 pending users created" in first.stderr

    backend = postgresql_access_opener()
    version = backend.version()
    assert backend.verify_user("carol", world.PASSWORD)
    second = ppc("import", target, input=(tmp_path / "acl.json.gz").read_bytes(), text=False)
    assert second.returncode == 0, second.stderr
    assert second.stderr.decode().strip() == "imported: nothing to change"
    assert backend.version() == version
    assert export(ppc, target, tmp_path / "again.json.gz") == exported


ORIGINAL = {
    "allow_register": True,
    "users": [
        {"username": "root", "admin": True, "password": FAST_HASH, "groups": ["ops"]},
        {"username": "joe", "admin": False, "password": FAST_HASH, "groups": []},
    ],
    "pending_users": [{"username": "newbie", "password": FAST_HASH}],
    "groups": {"ops": ["root", "joe"]},
    "packages": {
        "users": {"My_Package": {"joe": ["read"]}},
        "groups": {"My_Package": {"ops": ["read", "write"], "everyone": ["read"]}},
    },
}


def test_a_file_the_original_wrote_imports(
    ppc, make_ini, tmp_path, sqlite_url, sqlite_access_opener
):
    (tmp_path / "acl.json.gz").write_bytes(gzip.compress(json.dumps(ORIGINAL).encode()))
    ini = make_ini(**{"pypi.auth": "sql", "auth.db.url": sqlite_url})
    result = ppc("import", ini, "-i", tmp_path / "acl.json.gz")
    assert result.returncode == 0, result.stderr

    backend = sqlite_access_opener()
    assert {(u.username, u.admin, u.groups) for u in backend.users()} == {
        ("root", True, frozenset({"ops"})),
        ("joe", False, frozenset({"ops"})),
    }
    assert backend.verify_user("joe", world.PASSWORD)
    assert backend.pending_users() == ["newbie"]
    assert backend.allow_register() is True
    assert backend.grants() == {"my-package": {"user:joe": "r", "group:ops": "rw", "everyone": "r"}}


def test_a_file_that_is_not_json_fails_with_one_line(ppc, make_ini, tmp_path, sqlite_url):
    (tmp_path / "bad.gz").write_bytes(b"not json")
    ini = make_ini(**{"pypi.auth": "sql", "auth.db.url": sqlite_url})
    result = ppc("import", ini, "-i", tmp_path / "bad.gz")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_a_read_only_backend_is_refused(ppc, make_ini):
    result = ppc("export", make_ini(**{"pypi.auth": "config"}))
    assert result.returncode == 1 and "read-only" in result.stderr


def test_a_bad_setting_fails_as_the_server_does(ppc, make_ini):
    result = ppc("export", make_ini(**{"pypi.auth": "sql", "auth.db.url": "x", "auth.nope": "1"}))
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1].startswith("error: pypicloud cannot start: setting")
    )


def test_round_trip_into_aws_secrets_manager(
    ppc, make_ini, tmp_path, sql_sqlite_access_settings, sqlite_access_opener, moto_endpoint,
    secrets_client,
):  # fmt: skip
    from tests.fixtures.aws_secrets import secret_settings, unique_secret

    sqlite_access_opener().create_user("eve", FAST_HASH, pending=True)
    exported = export(
        ppc, make_ini("source", settings=sql_sqlite_access_settings), tmp_path / "a.gz"
    )
    secret_id = unique_secret()
    secrets_client.create_secret(Name=secret_id, SecretString="{}")
    target = make_ini("target", settings=secret_settings(moto_endpoint, secret_id))
    for _ in range(2):
        result = ppc("import", target, "-i", tmp_path / "a.gz")
        assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "imported: nothing to change"
    assert export(ppc, target, tmp_path / "b.gz") == exported


def test_tokens_move_by_digest_and_still_work_after_import(
    ppc, make_ini, tmp_path, sql_sqlite_access_settings, sqlite_url, postgresql_url
):
    import datetime as dt

    import sqlalchemy as sa
    from webtest import TestApp

    from pypicloud import make_config
    from pypicloud.access.sql_tokens import SQLTokenStore
    from tests.functional.conftest import auth

    source_store = SQLTokenStore(sa.create_engine(sqlite_url))
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    secret, carols = source_store.create(
        "carol", projects=["Carols_Pkg"], upload=True, expires=expires, description="ci"
    )
    source_store.create("bob")
    _, ghost = source_store.create("ghost")
    source = make_ini("source", settings=sql_sqlite_access_settings)
    exported = export(ppc, source, tmp_path / "acl.json.gz")
    by_id = {t["id"]: t for t in exported["tokens"]}
    assert by_id[carols.token_id]["digest"] == token_digest(secret)
    assert by_id[carols.token_id]["scope"] == "upload"
    assert by_id[carols.token_id]["projects"] == ["carols-pkg"]
    assert secret not in json.dumps(exported)

    target = make_ini("target", **{"pypi.auth": "sql", "auth.db.url": postgresql_url})
    first = ppc("import", target, "-i", tmp_path / "acl.json.gz")
    assert first.returncode == 0, first.stderr
    assert "2 tokens restored" in first.stderr
    assert f"warning: token {ghost.token_id} skipped: no user 'ghost' here" in first.stderr
    target_store = SQLTokenStore(sa.create_engine(postgresql_url))
    version = target_store.version()
    second = ppc("import", target, "-i", tmp_path / "acl.json.gz")
    assert second.returncode == 0, second.stderr
    assert "restored" not in second.stderr and "1 tokens skipped" in second.stderr
    assert target_store.version() == version
    moved = [t for t in exported["tokens"] if t["username"] != "ghost"]
    assert export(ppc, target, tmp_path / "again.json.gz")["tokens"] == moved

    settings = {
        "pypi.storage": "file",
        "storage.dir": str(tmp_path / "target" / "packages"),
        "db.url": f"sqlite:///{tmp_path / 'target' / 'db.sqlite'}",
        "pypi.auth": "sql",
        "auth.db.url": postgresql_url,
        "pypi.default_read": "authenticated",
    }
    app = TestApp(wsgi_app(make_config(settings, environ={})))
    assert app.get("/simple/", headers=auth("__token__", secret)).status_int == 200
    app.get("/simple/", headers=auth("__token__", secret + "x"), status=401)
