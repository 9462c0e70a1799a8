"""The web UI's admin page on a writable (SQL) access backend, and its refusals."""

from __future__ import annotations

import pytest

from tests.functional.conftest import PASSWORD, auth, upload
from tests.functional.views.test_web import sign_in


@pytest.fixture
def sql_app(make_app, tmp_path):
    app = make_app(
        **{
            "pypi.auth": "sql",
            "auth.db.url": f"sqlite:///{tmp_path / 'access.sqlite'}",
            "auth.scheme": "sha256_crypt",
            "auth.rounds": "1000",
            "pypi.default_write": "authenticated",
            **{f"user.{u}": None for u in ("alice", "bob", "carol", "dave")},
        }
    )
    app.put_json("/api/user/root", {"password": PASSWORD})  # the first user is an admin
    return app


def act(app, csrf: str, action: str, status: int = 303, **fields: str):
    return app.post(
        "/manage/action", {"csrf_token": csrf, "action": action, **fields}, status=status
    )


def test_admin_manages_users_groups_and_grants(sql_app):
    csrf = sign_in(sql_app, "root")
    assert "Admin" in sql_app.get("/").text
    act(sql_app, csrf, "create_user", username="eve", password="a-long-password")
    act(sql_app, csrf, "create_group", group="devs")
    act(sql_app, csrf, "join", username="eve", group="devs", member="1")
    act(sql_app, csrf, "admin", username="eve", admin="1")
    page = sql_app.get("/manage").text
    assert "eve" in page and "Remove admin from eve" in page and "Remove eve from devs" in page
    act(sql_app, csrf, "register", allow="1")
    assert "Registration is open" in sql_app.get("/manage").text
    upload(sql_app, "private-pkg", "1.0", user="root", password=PASSWORD)
    done = act(
        sql_app,
        csrf,
        "grant",
        project="private-pkg",
        kind="group",
        name="devs",
        permission="write",
        grant="1",
    )
    assert "project=private-pkg" in done.location
    assert "group devs" in sql_app.get(done.location).text
    started = sql_app.get(act(sql_app, csrf, "rebuild").location).text
    assert "Rebuild started." in started or "A rebuild is already running." in started
    rebuilder = sql_app.app.registry.services.packages.rebuilder
    rebuilder.wait(timeout=30)
    assert "Last rebuild: 1 files, finished" in sql_app.get("/manage").text
    act(sql_app, csrf, "delete_user", username="eve")
    users = sql_app.get("/manage").text.split('id="users-title"')[1]  # not the audit log
    assert ">eve<" not in users
    assert act(sql_app, csrf, "delete_user", username="eve", status=404)
    act(sql_app, csrf, "nonsense", status=400)


def test_refusals(sql_app):
    sign_in(sql_app, "root")
    sql_app.post("/manage/action", {"action": "create_group", "group": "x"}, status=400)
    assert ">x<" not in sql_app.get("/manage").text
    sql_app.put_json("/admin/user/plain", {"password": PASSWORD}, headers=auth("root", PASSWORD))
    csrf = sign_in(sql_app, "plain")
    assert 'href="/manage"' not in sql_app.get("/").text
    sql_app.get("/manage", status=403)
    act(sql_app, csrf, "create_group", status=403, group="x")
    sql_app.reset()
    sql_app.get("/manage", status=401)


def test_read_only_backend_says_so(app):
    sign_in(app, "alice")
    assert "read-only" in app.get("/manage").text
