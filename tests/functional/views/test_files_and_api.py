"""Downloads, PyPI's JSON API, the REST API, admin and health."""

from __future__ import annotations

import hashlib

import pytest

from tests.dists import sdist_name, wheel_bytes, wheel_name
from tests.functional.conftest import PASSWORD, auth, upload

WHEEL = wheel_name("alpha", "1.0")
URL = f"/api/package/alpha/{WHEEL}"


@pytest.fixture
def filled(app):
    upload(app, "alpha", "1.0", content=wheel_bytes("alpha", "1.0", requires_dist=("beta>=1",)))
    upload(app, "alpha", "1.0", kind="sdist")
    upload(app, "alpha", "2.0b1")
    upload(app, "secret", "1.0")
    return app


class TestDownloads:
    def test_full_download_with_headers(self, filled):
        body = wheel_bytes("alpha", "1.0", requires_dist=("beta>=1",))
        response = filled.get(URL, headers=auth("carol"))
        assert response.body == body
        assert response.content_length == len(body)
        assert response.content_type == "application/zip"
        assert response.etag == hashlib.sha256(body).hexdigest()
        assert response.last_modified is not None
        assert response.headers["Accept-Ranges"] == "bytes"

    def test_head(self, filled):
        response = filled.head(URL, headers=auth("carol"))
        assert response.body == b""
        assert response.content_length > 0

    def test_range(self, filled):
        body = filled.get(URL, headers=auth("carol")).body
        partial = filled.get(URL, headers={**auth("carol"), "Range": "bytes=10-19"}, status=206)
        assert partial.body == body[10:20]
        assert partial.headers["Content-Range"] == f"bytes 10-19/{len(body)}"

    def test_conditional(self, filled):
        etag = filled.get(URL, headers=auth("carol")).etag
        filled.get(URL, headers={**auth("carol"), "If-None-Match": f'"{etag}"'}, status=304)

    def test_permissions(self, filled):
        filled.get(URL, status=401)
        filled.get(
            f"/api/package/secret/{wheel_name('secret', '1.0')}", headers=auth("carol"), status=404
        )

    def test_name_in_url_must_match(self, filled):
        filled.get(f"/api/package/secret/{WHEEL}", headers=auth("bob"), status=404)
        filled.get("/api/package/alpha/alpha-9.9.tar.gz", headers=auth("bob"), status=404)

    def test_missing_metadata_for_sdist_is_404(self, filled):
        filled.get(
            f"/api/package/alpha/{sdist_name('alpha', '1.0')}.metadata",
            headers=auth("bob"),
            status=404,
        )

    def test_file_gone_from_storage_is_404(self, filled, tmp_path):
        (tmp_path / "packages" / "alpha" / "1.0" / WHEEL).unlink()
        filled.get(URL, headers=auth("bob"), status=404)


class TestPypiJson:
    def test_project(self, filled):
        data = filled.get("/pypi/alpha/json", headers=auth("bob")).json
        info = data["info"]
        assert info["name"] == "alpha"
        assert info["version"] == "1.0"  # the newest final release, not 2.0b1
        assert info["summary"] == "A test package"
        assert info["description"] == "Long *description*."
        assert info["description_content_type"] == "text/markdown"
        assert info["requires_dist"] == ["beta>=1"]
        assert info["author"] == "Test Author"
        assert info["license"] == "MIT"
        assert info["classifiers"] == ["Programming Language :: Python :: 3"]
        assert info["project_urls"] == {"Homepage": "https://example.invalid/home"}
        assert sorted(data["releases"]) == ["1.0", "2.0b1"]
        assert {f["packagetype"] for f in data["urls"]} == {"bdist_wheel", "sdist"}
        wheel = next(f for f in data["urls"] if f["packagetype"] == "bdist_wheel")
        assert (
            wheel["digests"]["sha256"]
            == hashlib.sha256(wheel_bytes("alpha", "1.0", requires_dist=("beta>=1",))).hexdigest()
        )
        assert wheel["url"] == "http://localhost" + URL
        assert wheel["yanked"] is False
        assert wheel["upload_time_iso_8601"].endswith("Z")

    def test_version(self, filled):
        data = filled.get("/pypi/alpha/2.0b1/json", headers=auth("bob")).json
        assert data["info"]["version"] == "2.0b1"
        assert [f["filename"] for f in data["urls"]] == [wheel_name("alpha", "2.0b1")]
        filled.get("/pypi/alpha/3.0/json", headers=auth("bob"), status=404)

    def test_permissions(self, filled):
        filled.get("/pypi/secret/json", headers=auth("carol"), status=404)
        filled.get("/pypi/alpha/json", status=401)


class TestRestApi:
    def test_list_projects_hides_private_ones(self, filled):
        assert filled.get("/api/package/", headers=auth("carol")).json == {"packages": ["alpha"]}
        assert "secret" in filled.get("/api/package/", headers=auth("bob")).json["packages"]

    def test_list_files(self, filled):
        files = filled.get("/api/package/alpha/", headers=auth("bob")).json["packages"]
        assert {f["filename"] for f in files} == {
            WHEEL,
            sdist_name("alpha", "1.0"),
            wheel_name("alpha", "2.0b1"),
        }
        assert all(f["uploader"] == "bob" for f in files)

    def test_delete(self, filled, tmp_path):
        filled.delete(URL, headers=auth("carol"), status=403)
        filled.delete(URL, headers=auth("bob"))
        filled.get(URL, headers=auth("bob"), status=404)
        assert not (tmp_path / "packages" / "alpha" / "1.0" / WHEEL).exists()
        assert WHEEL not in filled.get("/simple/alpha/", headers=auth("bob")).text
        filled.delete(URL, headers=auth("bob"), status=404)

    def test_delete_disabled(self, make_app):
        app = make_app(**{"pypi.allow_delete": "false"})
        upload(app, "alpha", "1.0")
        app.delete(URL, headers=auth("alice"), status=403)

    def test_delete_groups_decide_who_may_delete(self, make_app):
        app = make_app(**{"pypi.allow_delete_groups": "devs", "package.carols-pkg.user.bob": "rw"})
        upload(app, "carols-pkg", "1.0")  # carol may write carols-pkg, but is not in devs
        url = f"/api/package/carols-pkg/{wheel_name('carols-pkg', '1.0')}"
        response = app.delete(url, headers=auth("carol"), status=403)
        assert "pypi.allow_delete" in response.json["error"]
        app.delete(url, headers=auth("bob"))

    def test_overwrite_groups_decide_who_may_overwrite(self, make_app):
        app = make_app(
            **{"pypi.allow_overwrite_groups": "devs", "package.carols-pkg.user.bob": "rw"}
        )
        upload(app, "carols-pkg", "1.0", user="carol")
        changed = wheel_bytes("carols-pkg", "1.0", summary="changed")
        upload(app, "carols-pkg", "1.0", user="carol", content=changed, status=409)
        upload(app, "carols-pkg", "1.0", user="bob", content=changed)
        files = app.get("/api/package/carols-pkg/", headers=auth("bob")).json["packages"]
        assert files[0]["summary"] == "changed"

    def test_release_yank_and_unyank(self, filled):
        """PyPI yanks releases: every file of the version, in one request."""
        url = "/api/package/alpha/1.0/"
        filled.patch_json(url, {"yanked": True}, headers=auth("carol"), status=403)
        filled.patch_json(
            "/api/package/alpha/9.9/", {"yanked": True}, headers=auth("bob"), status=404
        )
        data = filled.patch_json(url, {"yanked": True, "reason": "broken"}, headers=auth("bob"))
        assert sorted(f["filename"] for f in data.json["packages"]) == sorted(
            [sdist_name("alpha", "1.0"), WHEEL]
        )
        files = filled.get("/api/package/alpha/", headers=auth("bob")).json["packages"]
        state = {f["filename"]: (f["yanked"], f["yanked_reason"]) for f in files}
        assert state == {
            WHEEL: (True, "broken"),
            sdist_name("alpha", "1.0"): (True, "broken"),
            wheel_name("alpha", "2.0b1"): (False, None),
        }
        page = filled.get("/simple/alpha/", headers=auth("bob")).text
        assert page.count('data-yanked="broken"') == 2
        assert filled.get(url, headers=auth("carol")).json["packages"][0]["yanked"] is True
        filled.patch_json(url, {"yanked": False}, headers=auth("bob"))
        files = filled.get("/api/package/alpha/", headers=auth("bob")).json["packages"]
        assert all(f["yanked"] is False and f["yanked_reason"] is None for f in files)

    def test_upload_through_the_api(self, app):
        content = wheel_bytes("gamma", "1.0")
        app.post(
            "/api/package/gamma/" + wheel_name("gamma", "1.0"),
            params={"version": "1.0"},
            upload_files=[("content", wheel_name("gamma", "1.0"), content)],
            headers=auth("bob"),
        )
        assert app.get("/simple/gamma/", headers=auth("bob")).status_int == 200

    def test_yank_needs_write_and_valid_body(self, filled):
        filled.patch_json(URL, {"yanked": True}, headers=auth("carol"), status=403)
        filled.patch_json(URL, {"yanked": "yes"}, headers=auth("bob"), status=400)
        data = filled.patch_json(URL, {"yanked": True, "reason": "bad"}, headers=auth("bob")).json
        assert data["yanked"] is True and data["yanked_reason"] == "bad"
        data = filled.patch_json(URL, {"yanked": True}, headers=auth("bob")).json
        assert data["yanked"] is True and data["yanked_reason"] is None
        data = filled.patch_json(URL, {"yanked": False}, headers=auth("bob")).json
        assert data["yanked"] is False and data["yanked_reason"] is None

    def test_yank_survives_a_rebuild(self, filled):
        filled.patch_json(URL, {"yanked": True, "reason": "bad"}, headers=auth("bob"))
        filled.post("/admin/rebuild", headers=auth("alice"))
        files = filled.get("/api/package/alpha/", headers=auth("bob")).json["packages"]
        assert next(f for f in files if f["filename"] == WHEEL)["yanked_reason"] == "bad"


class TestAdmin:
    def test_rebuild_is_admin_only(self, filled):
        filled.post("/admin/rebuild", headers=auth("bob"), status=403)
        filled.post("/admin/rebuild", status=401)
        assert filled.post("/admin/rebuild", headers=auth("alice")).json == {"packages": 4}

    def test_rebuild_by_get_is_for_scripts_not_browsers(self, filled):
        """The original answered GET too; a cookie (a browser, which a page can make send a
        GET) must POST with the CSRF token instead."""
        assert filled.get("/admin/rebuild", headers=auth("alice")).json == {"packages": 4}
        filled.post_json("/acct/login", {"username": "alice", "password": PASSWORD})
        filled.get("/admin/rebuild", status=405)

    def test_rebuild_picks_up_files_added_to_storage(self, filled, tmp_path):
        target = tmp_path / "packages" / "delta" / "3.0"
        target.mkdir(parents=True)
        (target / wheel_name("delta", "3.0")).write_bytes(wheel_bytes("delta", "3.0"))
        filled.get("/simple/delta/", headers=auth("bob"), status=404)
        filled.post("/admin/rebuild", headers=auth("alice"))
        assert wheel_name("delta", "3.0") in filled.get("/simple/delta/", headers=auth("bob"))

    def test_health(self, app):
        data = app.get("/health").json
        assert data["storage"]["ok"] and data["cache"]["ok"]

    def test_landing_page(self, app):
        assert "pip install --index-url http://localhost/simple/" in app.get("/").text
