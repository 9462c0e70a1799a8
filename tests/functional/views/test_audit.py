"""Each audited action performed through the app, then found in GET /admin/audit.

The package database is SQLite and PostgreSQL (the ``pypicloud_audit`` table), Redis
(a sorted set) and DynamoDB (a table of days).
"""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.dists import wheel_bytes, wheel_name
from tests.functional.cache.test_app_backends import (  # noqa: F401 (fixtures)
    dynamo_db_settings,
    redis_db_settings,
)
from tests.functional.conftest import auth, upload
from tests.functional.views.test_accounts import PW, register
from tests.functional.views.test_web import sign_in

ADDRESS = "203.0.113.7"  # what waitress puts in REMOTE_ADDR (the client, via trusted_proxy)
FORGED = "198.51.100.99"  # an X-Forwarded-For a client sends itself: never recorded
WHEEL = wheel_name("alpha", "1.0")

SQL_ACCESS = {
    "pypi.auth": "sql",
    "auth.scheme": "sha256_crypt",
    "auth.rounds": "1000",
    "pypi.default_write": "authenticated",
    "pypi.allow_overwrite": "true",
    **{f"user.{u}": None for u in ("alice", "bob", "carol", "dave")},
    **{k: None for k in ("group.devs", "auth.admins")},
    **{
        k: None
        for k in (
            "package.carols-pkg.user.carol",
            "package.secret.user.bob",
            "package.secret.user.dave",
        )
    },
}


@pytest.fixture(params=["sqlite", "postgresql"])
def audited(request, make_app, tmp_path):
    """An app with a writable access backend, its package database on ``param``."""
    db = (
        request.getfixturevalue("postgresql_url")
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    access_db = f"sqlite:///{tmp_path / 'access.sqlite'}"
    app = make_app(**{**SQL_ACCESS, "auth.db.url": access_db, "db.url": db})
    app.extra_environ = {"REMOTE_ADDR": ADDRESS, "HTTP_X_FORWARDED_FOR": FORGED}
    return app


def entries(app, **params):
    query = {"limit": "1000", **params}
    return app.get("/admin/audit", params=query, headers=auth("root", PW)).json["entries"]


def find(found, action, **fields):
    """The one entry of ``action`` whose fields match."""
    hits = [e for e in found if e["action"] == action and all(e[k] == v for k, v in fields.items())]
    assert len(hits) == 1, (action, fields, found)
    return hits[0]


def test_every_state_change_is_recorded(audited):
    app = audited
    root = auth("root", PW)
    register(app, "root")
    app.post_json("/admin/register", {"allow": True}, headers=root)
    register(app, "newbie")
    app.post("/admin/user/newbie/approve", headers=root)
    app.put_json("/admin/user/carl", {"password": PW}, headers=root)
    app.post_json("/admin/user/carl/admin", {"admin": True}, headers=root)
    app.put("/admin/group/team", headers=root)
    app.put("/admin/user/carl/group/team", headers=root)
    app.delete("/admin/user/carl/group/team", headers=root)
    app.put("/admin/package/alpha/user/newbie/write", headers=root)
    app.delete("/admin/package/alpha/user/newbie/write", headers=root)
    new_pw = PW + "-changed"
    app.post_json(
        "/api/user/password", {"old_password": PW, "new_password": new_pw}, headers=auth("carl", PW)
    )
    token = app.post_json("/api/tokens", {"scope": "upload"}, headers=root).json
    upload(app, "alpha", "1.0", user="__token__", password=token["token"])
    changed = wheel_bytes("alpha", "1.0", summary="v2")
    upload(app, "alpha", "1.0", user="root", password=PW, content=changed)
    url = f"/api/package/alpha/{WHEEL}"
    app.patch_json(url, {"yanked": True, "reason": "broken"}, headers=root)
    app.patch_json(url, {"yanked": False}, headers=root)
    app.delete(url, headers=root)
    app.delete(f"/api/tokens/{token['id']}", headers=root)
    app.get("/simple/", headers=auth("root", "wrong-password"), status=401)
    app.get("/simple/", headers=auth("__token__", "pypi-not-a-token"), status=401)
    app.post("/admin/rebuild", headers=root)
    app.delete("/admin/group/team", headers=root)
    app.delete("/admin/user/carl", headers=root)

    found = entries(app)
    find(found, "user.register", target="root", actor="anonymous", detail="first admin")
    find(found, "registration.open", actor="root")
    find(found, "user.register", target="newbie", detail="pending approval")
    find(found, "user.approve", target="newbie", actor="root")
    find(found, "user.create", target="carl", actor="root")
    find(found, "user.admin", target="carl", detail="admin")
    find(found, "group.create", target="team")
    find(found, "group.add_member", target="carl", detail="group team")
    find(found, "group.remove_member", target="carl", detail="group team")
    find(found, "permission.grant", project="alpha", target="user:newbie", detail="write: now rw")
    find(found, "permission.revoke", project="alpha", target="user:newbie", detail="write: now r")
    find(found, "user.password", target="carl", actor="carl")
    find(found, "token.create", target=token["id"], detail="of root, scope upload")
    uploaded = find(found, "upload", project="alpha", target=WHEEL)
    assert uploaded["actor"] == "root" and uploaded["token_id"] == token["id"]
    find(found, "overwrite", project="alpha", target=WHEEL, actor="root", token_id=None)
    find(found, "yank", project="alpha", target=WHEEL, detail="broken")
    find(found, "unyank", project="alpha", target=WHEEL)
    find(found, "delete", project="alpha", target=WHEEL, actor="root")
    find(found, "token.revoke", target=token["id"], detail="of root")
    find(found, "login.failed", target="root", actor="root")
    find(found, "login.failed", target="__token__", detail="token")
    find(found, "rebuild", actor="root", detail="0 files")
    find(found, "group.delete", target="team")
    find(found, "user.delete", target="carl")
    find(found, "rebuild", actor="system", address=None)  # the start-up rebuild
    assert {e["address"] for e in found if e["actor"] != "system"} == {ADDRESS}
    assert all(e["when"].endswith("Z") for e in found)
    assert [e["when"] for e in found] == sorted((e["when"] for e in found), reverse=True)
    text = json.dumps(found)
    for secret in (PW, new_pw, token["token"], "wrong-password", "pypi-not-a-token"):
        assert secret not in text


def test_queries_filter_and_refuse_bad_input(audited):
    app = audited
    register(app, "root")
    upload(app, "Alpha", "1.0", user="root", password=PW)
    upload(app, "beta", "1.0", user="root", password=PW)
    assert [e["target"] for e in entries(app, project="ALPHA")] == [WHEEL]
    assert [e["project"] for e in entries(app, action="upload")] == ["beta", "alpha"]
    assert len(entries(app, action="upload", limit="1")) == 1
    assert len(entries(app, user="root")) == 2
    assert entries(app, user="nobody") == []
    assert entries(app, since="2999-01-01") == []
    assert len(entries(app, since="2000-01-01T00:00:00Z")) == 4  # with the start-up rebuild
    root = auth("root", PW)
    for bad in ({"since": "yesterday"}, {"limit": "0"}, {"limit": "5000"}, {"user": "x" * 300}):
        app.get("/admin/audit", params=bad, headers=root, status=400)
    app.get("/admin/audit", status=401)
    register(app, "plain", status=403)  # registration closed: an admin creates the user
    app.put_json("/admin/user/plain", {"password": PW}, headers=root)
    app.get("/admin/audit", headers=auth("plain", PW), status=403)
    assert app.get("/admin/audit", headers=root).json["stored"] is True


def test_the_admin_page_shows_the_latest_entries(audited):
    app = audited
    register(app, "root")
    upload(app, "alpha", "1.0", user="root", password=PW)
    page = app.get("/manage", headers=auth("root", PW)).text
    assert "Audit log" in page
    assert WHEEL in page and ADDRESS in page


def test_redis_keeps_the_audit_log(make_app, redis_db_settings):  # noqa: F811
    app = make_app(**redis_db_settings)
    app.extra_environ = {"REMOTE_ADDR": ADDRESS}
    upload(app, "alpha", "1.0")
    app.delete(f"/api/package/alpha/{WHEEL}", headers=auth("bob"))
    found = app.get("/admin/audit", headers=auth("alice")).json
    assert found["stored"] is True
    assert [(e["action"], e["actor"], e["address"]) for e in found["entries"]] == [
        ("delete", "bob", ADDRESS),
        ("upload", "bob", ADDRESS),
        ("rebuild", "system", None),  # at start-up
    ]
    only = app.get("/admin/audit", params={"action": "upload"}, headers=auth("alice")).json
    assert [e["target"] for e in only["entries"]] == [WHEEL]


def test_dynamo_keeps_the_audit_log(make_app, dynamo_db_settings):  # noqa: F811
    app = make_app(**dynamo_db_settings)
    app.extra_environ = {"REMOTE_ADDR": ADDRESS}
    upload(app, "alpha", "1.0")
    app.delete(f"/api/package/alpha/{WHEEL}", headers=auth("bob"))
    found = app.get("/admin/audit", headers=auth("alice")).json
    assert found["stored"] is True
    assert [(e["action"], e["actor"], e["address"]) for e in found["entries"]] == [
        ("delete", "bob", ADDRESS),
        ("upload", "bob", ADDRESS),
        ("rebuild", "system", None),  # at start-up
    ]
    only = app.get("/admin/audit", params={"action": "upload"}, headers=auth("alice")).json
    assert [e["target"] for e in only["entries"]] == [WHEEL]


def test_digest_only_detail(audited):
    """An upload's entry names the file's sha256, the fact that identifies what was put."""
    app = audited
    register(app, "root")
    content = wheel_bytes("alpha", "1.0")
    upload(app, "alpha", "1.0", user="root", password=PW, content=content)
    [entry] = entries(app, action="upload")
    assert entry["detail"] == f"sha256 {hashlib.sha256(content).hexdigest()}"


def test_web_ui_changes_are_recorded_as_the_signed_in_user(make_app):
    app = make_app()
    app.extra_environ = {"REMOTE_ADDR": ADDRESS}
    upload(app, "alpha", "1.0")
    app.post("/acct/login", {"username": "bob", "password": "not-his"}, status=403)
    csrf = sign_in(app, "bob")
    form = {"csrf_token": csrf, "version": "1.0", "action": "yank", "reason": "bad"}
    app.post("/project/alpha/yank", form, status=303)
    app.reset()
    found = app.get("/admin/audit", headers=auth("alice")).json["entries"]
    assert [(e["action"], e["actor"], e["detail"]) for e in found[:3]] == [
        ("yank", "bob", "bad"),
        ("login.failed", "bob", None),
        ("upload", "bob", f"sha256 {found[2]['detail'].split()[-1]}"),
    ]
    assert {e["address"] for e in found[:3]} == {ADDRESS}
