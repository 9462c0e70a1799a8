"""Registration, the admin API and API tokens over the sql access backend (real SQLite)."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from tests.dists import wheel_name
from tests.functional.conftest import auth, upload

PW = "a-long-password"


def sql_settings(tmp_path) -> dict:
    return {
        "pypi.auth": "sql",
        "auth.db.url": f"sqlite:///{tmp_path / 'access.sqlite'}",
        "auth.scheme": "sha256_crypt",
        "auth.rounds": "1000",
        "pypi.default_write": "authenticated",
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


@pytest.fixture
def sql_app(make_app, tmp_path):
    return make_app(**sql_settings(tmp_path))


def register(app, user, status=200, password=PW):
    return app.put_json(f"/api/user/{user}", {"password": password}, status=status)


def test_registration_approval_login_upload(sql_app):
    first = register(sql_app, "root").json
    assert first == {"username": "root", "admin": True, "pending": False}
    register(sql_app, "newbie", status=403)  # registration is closed by default
    sql_app.post_json("/admin/register", {"allow": True}, headers=auth("root", PW))
    assert sql_app.get("/admin/register", headers=auth("root", PW)).json == {"allow": True}
    assert register(sql_app, "newbie").json["pending"] is True
    register(sql_app, "newbie", status=409)
    sql_app.get("/simple/", headers=auth("newbie", PW), status=401)
    assert sql_app.get("/admin/pending_users", headers=auth("root", PW)).json == ["newbie"]
    sql_app.post("/admin/user/newbie/approve", headers=auth("root", PW))
    assert sql_app.get("/admin/pending_users", headers=auth("root", PW)).json == []
    upload(sql_app, "newbies-pkg", "1.0", user="newbie", password=PW)
    assert "newbies-pkg" in sql_app.get("/simple/", headers=auth("newbie", PW)).text


def test_weak_passwords_and_bad_names_are_refused(sql_app):
    register(sql_app, "root", status=400, password="short")
    register(sql_app, "__token__", status=400)
    register(sql_app, "bad name", status=400)


def test_admin_api_in_the_original_shapes(sql_app):
    register(sql_app, "root")
    admin = auth("root", PW)
    sql_app.put_json("/admin/user/bob", {"password": PW}, headers=admin)
    sql_app.put("/admin/group/devs", headers=admin)
    sql_app.put("/admin/group/everyone", headers=admin, status=400)
    sql_app.put("/admin/user/bob/group/devs", headers=admin)
    sql_app.put("/admin/package/Secret_Pkg/user/bob/write", headers=admin)
    sql_app.put("/admin/package/secret-pkg/group/devs/read", headers=admin)
    assert sql_app.get("/admin/user", headers=admin).json == [
        {"username": "bob", "admin": False, "groups": ["devs"]},
        {"username": "root", "admin": True, "groups": []},
    ]
    assert sql_app.get("/admin/user/bob", headers=admin).json == {
        "username": "bob",
        "admin": False,
        "groups": ["devs"],
    }
    assert sql_app.get("/admin/group", headers=admin).json == ["devs"]
    assert sql_app.get("/admin/group/devs", headers=admin).json == {
        "members": ["bob"],
        "packages": [{"package": "secret-pkg", "permissions": ["read"]}],
    }
    assert sql_app.get("/admin/package/secret-pkg", headers=admin).json == {
        "user": [{"username": "bob", "permissions": ["read", "write"]}],
        "group": [{"group": "devs", "permissions": ["read"]}],
    }
    assert sql_app.get("/admin/user/bob/permissions", headers=admin).json == [
        {"package": "secret-pkg", "permissions": ["read", "write"]}
    ]
    sql_app.delete("/admin/package/secret-pkg/user/bob/write", headers=admin)
    assert sql_app.get("/admin/user/bob/permissions", headers=admin).json == [
        {"package": "secret-pkg", "permissions": ["read"]}
    ]
    sql_app.post_json("/admin/user/bob/admin", {"admin": True}, headers=admin)
    assert sql_app.get("/admin/user/bob", headers=admin).json["admin"] is True
    sql_app.get("/admin/user/nobody", headers=admin, status=404)
    sql_app.get("/admin/user", headers=auth("nobody", PW), status=401)


def test_a_revoked_grant_applies_to_the_next_request(sql_app):
    register(sql_app, "root")
    admin = auth("root", PW)
    sql_app.put_json("/admin/user/bob", {"password": PW}, headers=admin)
    sql_app.put_json("/admin/user/carol", {"password": PW}, headers=admin)
    upload(sql_app, "secret", "1.0", user="root", password=PW)
    sql_app.put("/admin/package/secret/user/carol/read", headers=admin)
    sql_app.get("/simple/secret/", headers=auth("carol", PW))
    sql_app.get("/simple/secret/", headers=auth("bob", PW), status=404)
    sql_app.delete("/admin/package/secret/user/carol/read", headers=admin)
    sql_app.put("/admin/package/secret/user/root/read", headers=admin)
    sql_app.get("/simple/secret/", headers=auth("carol", PW), status=404)
    sql_app.delete("/admin/user/carol", headers=admin)
    sql_app.get("/simple/", headers=auth("carol", PW), status=401)


def test_password_change_takes_effect_at_once(sql_app):
    register(sql_app, "root")
    sql_app.get("/simple/", headers=auth("root", PW))  # remembered now
    body = {"old_password": "wrong-password", "new_password": "another-password"}
    sql_app.post_json("/api/user/password", body, headers=auth("root", PW), status=403)
    body["old_password"] = PW
    sql_app.post_json("/api/user/password", body, headers=auth("root", PW))
    sql_app.get("/simple/", headers=auth("root", PW), status=401)
    sql_app.get("/simple/", headers=auth("root", "another-password"))


def test_signup_tokens(sql_app):
    register(sql_app, "root")
    data = sql_app.get("/admin/token/invited", headers=auth("root", PW)).json
    assert data["token_url"].startswith("http://localhost/acct/login?token=")
    bad = {"token": data["token"][:-2] + "xx", "password": PW}
    sql_app.put_json("/acct/tokenRegister", bad, status=403)
    sql_app.put_json("/acct/tokenRegister", {"token": data["token"], "password": PW})
    sql_app.get("/simple/", headers=auth("invited", PW))
    sql_app.put_json("/acct/tokenRegister", {"token": data["token"], "password": PW}, status=409)


def test_acl_export(sql_app):
    register(sql_app, "root")
    admin = auth("root", PW)
    sql_app.put("/admin/group/devs", headers=admin)
    sql_app.put("/admin/user/root/group/devs", headers=admin)
    sql_app.put("/admin/package/pkg/group/devs/write", headers=admin)
    issued = sql_app.post_json("/api/tokens", {"description": "ci"}, headers=admin).json
    response = sql_app.get("/admin/acl.json.gz", headers=admin)
    data = json.loads(gzip.decompress(response.body))
    [token] = data["tokens"]
    assert token["id"] == issued["id"] and token["username"] == "root"
    assert token["digest"] == hashlib.sha256(issued["token"].encode()).hexdigest()
    assert issued["token"] not in gzip.decompress(response.body).decode()
    assert data["allow_register"] is False
    assert data["groups"] == {"devs": ["root"]}
    assert data["packages"] == {"users": {}, "groups": {"pkg": {"devs": ["read", "write"]}}}
    assert data["users"][0]["username"] == "root"
    assert data["users"][0]["password"].startswith("$5$")
    assert data["publishers"] == []  # trusted publishing is off


def test_acl_export_holds_trusted_publishers_for_admins_only(make_app, tmp_path):
    app = make_app(**sql_settings(tmp_path), **{"pypi.trusted_publishing": "true"})
    register(app, "root")
    admin = auth("root", PW)
    definition = {"project": "Widget", "issuer": "https://ci.example", "claims": {"sub": "x"}}
    created = app.post_json("/admin/publishers", definition, headers=admin).json
    response = app.get("/admin/acl.json.gz", headers=admin)
    assert json.loads(gzip.decompress(response.body))["publishers"] == [created]
    app.get("/admin/acl.json.gz", status=401)
    app.put_json("/admin/user/bob", {"password": PW}, headers=admin)
    app.get("/admin/acl.json.gz", headers=auth("bob", PW), status=403)


class TestTokens:
    def make(self, app, user="root", **body):
        return app.post_json("/api/tokens", body, headers=auth(user, PW)).json

    def test_issue_use_list_revoke(self, sql_app):
        register(sql_app, "root")
        upload(sql_app, "alpha", "1.0", user="root", password=PW)
        issued = self.make(sql_app, scope="upload", projects=["Alpha"], description="ci")
        secret = issued.pop("token")
        assert secret.startswith("ppc_") and issued["projects"] == ["alpha"]
        token = auth("__token__", secret)
        sql_app.get("/simple/alpha/", headers=token)
        upload(sql_app, "alpha", "2.0", user="__token__", password=secret)
        upload(sql_app, "beta", "1.0", user="__token__", password=secret, status=403)
        listed = sql_app.get("/api/tokens", headers=auth("root", PW)).json["tokens"]
        assert [t["id"] for t in listed] == [issued["id"]]
        assert listed[0]["last_used"] is not None and "token" not in listed[0]
        sql_app.post_json("/api/tokens", {}, headers=token, status=403)  # no token from a token
        sql_app.delete(f"/api/tokens/{issued['id']}", headers=auth("root", PW))
        sql_app.get("/simple/alpha/", headers=token, status=401)

    def test_read_tokens_and_expiry_validation(self, sql_app):
        register(sql_app, "root")
        upload(sql_app, "alpha", "1.0", user="root", password=PW)
        secret = self.make(sql_app, expires_in_days=1)["token"]
        sql_app.get(
            f"/api/package/alpha/{wheel_name('alpha', '1.0')}", headers=auth("__token__", secret)
        )
        upload(sql_app, "alpha", "2.0", user="__token__", password=secret, status=403)
        for bad in ({"scope": "admin"}, {"expires_in_days": 0}, {"projects": "alpha"}):
            sql_app.post_json("/api/tokens", bad, headers=auth("root", PW), status=400)

    def test_only_the_owner_or_an_admin_revokes(self, sql_app):
        register(sql_app, "root")
        sql_app.put_json("/admin/user/bob", {"password": PW}, headers=auth("root", PW))
        sql_app.put_json("/admin/user/eve", {"password": PW}, headers=auth("root", PW))
        token_id = self.make(sql_app, user="bob")["id"]
        sql_app.delete(f"/api/tokens/{token_id}", headers=auth("eve", PW), status=404)
        everyone = sql_app.get("/admin/tokens", headers=auth("root", PW)).json["tokens"]
        assert [t["id"] for t in everyone] == [token_id]
        sql_app.delete(f"/api/tokens/{token_id}", headers=auth("root", PW))

    def test_deleting_a_user_revokes_their_tokens(self, sql_app):
        register(sql_app, "root")
        sql_app.put_json("/admin/user/bob", {"password": PW}, headers=auth("root", PW))
        secret = self.make(sql_app, user="bob")["token"]
        sql_app.delete("/admin/user/bob", headers=auth("root", PW))
        assert sql_app.get("/admin/tokens", headers=auth("root", PW)).json["tokens"] == []
        sql_app.get("/simple/", headers=auth("__token__", secret), status=401)


def test_tokens_beside_the_package_database_with_config_access(app):
    secret = app.post_json("/api/tokens", {"scope": "read"}, headers=auth("bob")).json["token"]
    app.get("/simple/", headers=auth("__token__", secret))


def test_admin_api_on_a_read_only_backend_says_so(app):
    response = app.put("/admin/group/x", headers=auth("alice"), status=400)
    assert "read-only" in response.json["error"]


def test_cookie_admin_changes_need_the_csrf_token(sql_app):
    register(sql_app, "root")
    login = sql_app.post_json("/acct/login", {"username": "root", "password": PW})
    sql_app.put("/admin/group/devs", status=400)
    sql_app.put("/admin/group/devs", headers={"X-CSRF-Token": login.json["csrf_token"]})
    assert sql_app.get("/admin/group").json == ["devs"]


def test_a_grant_change_shows_in_the_cached_index_at_once(sql_app):
    """The package serial does not move when a grant does: the listing cache must still."""
    register(sql_app, "root")
    admin = auth("root", PW)
    sql_app.put_json("/admin/user/carol", {"password": PW}, headers=admin)
    upload(sql_app, "secret", "1.0", user="root", password=PW)
    sql_app.put("/admin/package/secret/user/root/write", headers=admin)
    first = sql_app.get("/simple/", headers=auth("carol", PW))
    assert "secret" not in first.text
    sql_app.put("/admin/package/secret/user/carol/read", headers=admin)
    second = sql_app.get("/simple/", headers=auth("carol", PW))
    assert "secret" in second.text and second.etag != first.etag
