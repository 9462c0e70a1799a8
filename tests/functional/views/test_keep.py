"""PUT/DELETE /api/package/<name>/<version>/keep: who may mark a release to keep, what the
project's JSON shows, and that a private project's releases stay hidden."""

from __future__ import annotations

import pytest

from tests.dists import sdist_name, wheel_name
from tests.functional.conftest import auth, upload
from tests.functional.views.test_web import sign_in


@pytest.fixture
def filled(app):
    upload(app, "alpha", "1.0")
    upload(app, "alpha", "1.0", kind="sdist")
    upload(app, "alpha", "2.0")
    upload(app, "carols-pkg", "1.0", user="carol")
    upload(app, "secret", "1.0")
    return app


def keeps(app, name="alpha", user="bob") -> dict[str, bool]:
    files = app.get(f"/api/package/{name}/", headers=auth(user)).json["packages"]
    return {p["filename"]: p["keep"] for p in files}


def test_owner_marks_every_file_of_a_release_and_clears_it(filled):
    assert set(keeps(filled).values()) == {False}
    answer = filled.put("/api/package/alpha/1.0/keep", headers=auth("bob")).json
    assert sorted(p["filename"] for p in answer["packages"]) == sorted(
        [wheel_name("alpha", "1.0"), sdist_name("alpha", "1.0")]
    )
    assert keeps(filled) == {
        wheel_name("alpha", "1.0"): True,
        sdist_name("alpha", "1.0"): True,
        wheel_name("alpha", "2.0"): False,
    }
    filled.put("/api/package/alpha/1.0/keep", headers=auth("bob"))  # again: no change
    filled.delete("/api/package/Alpha/1.0.0/keep", headers=auth("bob"))  # PEP 440 equal
    assert set(keeps(filled).values()) == {False}


def test_admins_and_project_owners_may_others_may_not(filled):
    filled.put("/api/package/alpha/2.0/keep", headers=auth("alice"))  # admin
    filled.put("/api/package/carols-pkg/1.0/keep", headers=auth("carol"))  # her project
    assert keeps(filled)[wheel_name("alpha", "2.0")] is True
    filled.delete("/api/package/alpha/2.0/keep", headers=auth("carol"), status=403)  # reader
    filled.put("/api/package/alpha/2.0/keep", status=401)
    filled.put("/api/package/alpha/2.0/keep", headers=auth("carol", "wrong"), status=401)
    assert keeps(filled)[wheel_name("alpha", "2.0")] is True


def test_a_private_project_is_not_revealed(filled):
    existing = filled.put("/api/package/secret/1.0/keep", headers=auth("carol"), status="*")
    missing = filled.put("/api/package/secret/9.9/keep", headers=auth("carol"), status="*")
    # A refused write answers the same whether the release (or the project) exists or not.
    assert existing.status_int == missing.status_int == 403
    assert existing.body == missing.body
    nosuch = filled.put("/api/package/nosuch/1.0/keep", headers=auth("carol"), status=403)
    assert nosuch.json == {"error": "You may not write to nosuch"}
    filled.put("/api/package/secret/1.0/keep", headers=auth("dave"), status=403)  # reads it
    filled.put("/api/package/secret/1.0/keep", headers=auth("bob"))


def test_unknown_releases_and_methods(filled):
    filled.put("/api/package/alpha/9.9/keep", headers=auth("bob"), status=404)
    filled.put(f"/api/package/alpha/{'9' * 101}/keep", headers=auth("bob"), status=404)
    filled.post("/api/package/alpha/1.0/keep", headers=auth("bob"), status=404)


def test_a_session_needs_its_csrf_token(filled):
    csrf = sign_in(filled, "bob")
    filled.put("/api/package/alpha/1.0/keep", status=400)
    filled.put("/api/package/alpha/1.0/keep", headers={"X-CSRF-Token": csrf})
    assert keeps(filled)[wheel_name("alpha", "1.0")] is True


def test_marks_are_audited(filled):
    filled.put("/api/package/alpha/1.0/keep", headers=auth("bob"))
    filled.delete("/api/package/alpha/1.0/keep", headers=auth("alice"))
    entries = filled.get("/admin/audit", headers=auth("alice")).json["entries"]
    marks = [(e["action"], e["actor"], e["target"]) for e in entries if "keep" in e["action"]]
    assert ("keep", "bob", wheel_name("alpha", "1.0")) in marks
    assert ("unkeep", "alice", sdist_name("alpha", "1.0")) in marks
