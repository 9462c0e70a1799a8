"""ppc-export / ppc-import: the acl.json.gz layout, between real SQL access databases."""

from __future__ import annotations

import datetime as dt
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


PUBLISHING = {"pypi.trusted_publishing": "true"}
CLAIMS = {"repository": "octo/widget", "workflow_ref": "octo/widget/.github/w.yml@main"}


def publisher_store(url):
    import sqlalchemy as sa

    from pypicloud.oidc.store import SQLPublisherStore

    return SQLPublisherStore(sa.create_engine(url))


def add_publishers(url):
    """Two publishers, made long ago: a copy made now that lost its time shows."""
    from pypicloud.oidc.store import publishers

    store = publisher_store(url)
    store.add("widget", "https://issuer.example", "pypicloud", CLAIMS, "release CI")
    store.add("other", "https://ci.example", "ci", {"sub": "project:other"}, "")
    with store.engine.begin() as conn:
        conn.execute(publishers.update().values(created=dt.datetime(2024, 5, 1, 12, 30, 5)))
    return store


def test_publishers_round_trip_into_a_fresh_database_twice(
    ppc, make_ini, tmp_path, sql_sqlite_access_settings, sqlite_url, postgresql_url
):
    source = add_publishers(sqlite_url)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert source.use_once("https://issuer.example", "jti-1", later)
    ini = make_ini("source", settings={**sql_sqlite_access_settings, **PUBLISHING})
    result = ppc("export", ini, "-o", tmp_path / "acl.json.gz")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith(", 2 publishers")
    exported = json.loads(gzip.decompress((tmp_path / "acl.json.gz").read_bytes()))
    assert exported["publishers"] == [p.as_json() for p in source.list()]
    assert "jti" not in json.dumps(exported)  # the replay table stays behind

    target = make_ini("target", **{"pypi.auth": "sql", "auth.db.url": postgresql_url}, **PUBLISHING)
    first = ppc("import", target, "-i", tmp_path / "acl.json.gz")
    assert first.returncode == 0, first.stderr
    assert "2 publishers restored" in first.stderr
    copied = publisher_store(postgresql_url)
    assert copied.list() == source.list()  # same ids, claims, audience, created time...
    assert copied.use_once("https://issuer.example", "jti-1", later)
    second = ppc("import", target, "-i", tmp_path / "acl.json.gz")
    assert second.returncode == 0, second.stderr
    assert second.stderr.strip() == "imported: nothing to change"
    assert copied.list() == source.list()
    assert export(ppc, target, tmp_path / "again.json.gz") == exported


def test_a_changed_publisher_is_corrected_not_duplicated(
    ppc, make_ini, tmp_path, sql_sqlite_access_settings, sqlite_url
):
    widget = add_publishers(sqlite_url).list("widget")[0]
    ini = make_ini(settings={**sql_sqlite_access_settings, **PUBLISHING})
    data = export(ppc, ini, tmp_path / "acl.json.gz")
    [entry] = [p for p in data["publishers"] if p["id"] == widget.publisher_id]
    entry["claims"]["environment"] = "release"
    (tmp_path / "edited.json").write_text(json.dumps(data))
    result = ppc("import", ini, "-i", tmp_path / "edited.json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "imported: 1 publishers updated"
    store = publisher_store(sqlite_url)
    assert len(store.list()) == 2
    assert store.get(widget.publisher_id).claims == {**CLAIMS, "environment": "release"}
    assert store.get(widget.publisher_id).created == widget.created


def test_an_old_file_without_publishers_leaves_them_alone(
    ppc, make_ini, tmp_path, sqlite_url, sqlite_access_opener
):
    before = add_publishers(sqlite_url).list()
    (tmp_path / "acl.json.gz").write_bytes(gzip.compress(json.dumps(ORIGINAL).encode()))
    ini = make_ini(**{"pypi.auth": "sql", "auth.db.url": sqlite_url}, **PUBLISHING)
    result = ppc("import", ini, "-i", tmp_path / "acl.json.gz")
    assert result.returncode == 0, result.stderr
    assert "publishers" not in result.stderr and "2 users created" in result.stderr
    assert publisher_store(sqlite_url).list() == before
    assert {u.username for u in sqlite_access_opener().users()} == {"root", "joe"}


def test_publishers_where_trusted_publishing_is_off(
    ppc, make_ini, tmp_path, sql_sqlite_access_settings, sqlite_url, postgresql_url,
    postgresql_access_opener,
):  # fmt: skip
    add_publishers(sqlite_url)
    off = make_ini("off", settings=sql_sqlite_access_settings)
    result = ppc("export", off, "-o", tmp_path / "off.json.gz")
    assert result.returncode == 0 and result.stderr.strip().endswith(", 0 publishers")
    assert json.loads(gzip.decompress((tmp_path / "off.json.gz").read_bytes()))["publishers"] == []

    on = make_ini("on", settings={**sql_sqlite_access_settings, **PUBLISHING})
    export(ppc, on, tmp_path / "acl.json.gz")
    target = make_ini("target", **{"pypi.auth": "sql", "auth.db.url": postgresql_url})
    refused = ppc("import", target, "-i", tmp_path / "acl.json.gz")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1:] == [
        "error: the file has 2 trusted publishers, but trusted publishing is off here "
        "(set pypi.trusted_publishing = true to import them): nothing imported"
    ]
    assert postgresql_access_opener().users() == []  # no half import


def test_a_bad_publisher_refuses_the_whole_file(
    ppc, make_ini, tmp_path, sql_sqlite_access_settings, sqlite_url, postgresql_url,
    postgresql_access_opener,
):  # fmt: skip
    data = export(ppc, make_ini(settings=sql_sqlite_access_settings), tmp_path / "acl.json.gz")
    data["publishers"] = [
        {"id": "abc", "project": "widget", "issuer": "http://127.0.0.1:9", "claims": {"a": "b"}}
    ]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    target = make_ini("target", **{"pypi.auth": "sql", "auth.db.url": postgresql_url}, **PUBLISHING)
    refused = ppc("import", target, "-i", tmp_path / "bad.json")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1:] == [
        f"error: {tmp_path / 'bad.json'}: publishers[0]: issuer must be an https URL "
        "(pypi.oidc_allow_http is off)"
    ]
    assert postgresql_access_opener().users() == []
    assert publisher_store(postgresql_url).list() == []
