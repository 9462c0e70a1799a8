"""The web UI through WebTest: what each viewer sees, and every refusal."""

from __future__ import annotations

import re

import pytest

from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import PASSWORD, auth, upload

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
README = (
    "# Hello\n\nSome **bold** text.\n\n<script>alert('x')</script>\n<img src=x onerror=alert(1)>\n"
)


def sign_in(app, user: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; the CSRF token of the new session."""
    app.reset()
    app.post("/acct/login", {"username": user, "password": password}, status=303)
    return CSRF.search(app.get("/account").text).group(1)


@pytest.fixture
def web(app):
    upload(app, "public-pkg", "1.0", content=wheel_bytes("public-pkg", "1.0", summary="Widgets"))
    upload(
        app,
        "public-pkg",
        "2.0rc1",
        content=wheel_bytes("public-pkg", "2.0rc1", summary="Widgets", description=README),
    )
    upload(app, "secret", "1.0", content=wheel_bytes("secret", "1.0", summary="Hidden thing"))
    app.reset()
    return app


class TestHome:
    def test_lists_only_readable_projects(self, web):
        bob = web.get("/", headers=auth("bob")).text
        assert "public-pkg" in bob and "secret" in bob and "2.0rc1" in bob
        carol = web.get("/", headers=auth("carol")).text
        assert "public-pkg" in carol and "secret" not in carol and "Hidden thing" not in carol

    def test_search_hides_private_projects(self, web):
        assert "secret" in web.get("/?q=hidden", headers=auth("dave")).text
        for query in ("secret", "hidden", ""):
            page = web.get("/", {"q": query}, headers=auth("carol")).text
            assert 'href="/project/secret/"' not in page and "Hidden thing" not in page
        assert "public-pkg" in web.get("/?q=widg", headers=auth("carol")).text
        assert "0 projects" in web.get("/?q=nothing-like-it", headers=auth("carol")).text

    def test_scoped_token_sees_only_its_projects(self, web):
        csrf = sign_in(web, "bob")
        made = web.post(
            "/account/tokens", {"csrf_token": csrf, "projects": "secret", "scope": "read"}
        )
        secret = re.search(r'id="secret" readonly size="60" value="([^"]+)"', made.text).group(1)
        web.reset()
        page = web.get("/", headers=auth("__token__", secret)).text
        assert "secret" in page and "public-pkg" not in page

    def test_anonymous_on_a_private_server_sees_no_project(self, web):
        page = web.get("/").text
        assert "public-pkg" not in page and "secret" not in page and "Sign in" in page
        assert "pip install --index-url http://localhost/simple/" in page
        web.get("/project/public-pkg/", status=401)

    def test_anonymous_on_a_public_server(self, make_app):
        app = make_app(**{"pypi.default_read": "everyone"})
        upload(app, "open-pkg", "1.0")
        upload(app, "secret", "1.0")
        app.reset()
        page = app.get("/").text
        assert "open-pkg" in page and "/project/secret/" not in page
        assert "open-pkg" in app.get("/project/open-pkg/").text
        app.get("/project/secret/", status=401)

    def test_install_lines_have_the_user_name_never_a_password(self, web):
        page = web.get("/", headers=auth("carol")).text
        assert "pip install --index-url http://carol@localhost/simple/ PACKAGE" in page
        assert "uv pip install --index-url http://carol@localhost/simple/ PACKAGE" in page
        assert "twine upload --repository-url http://localhost/simple/ -u carol dist/*" in page
        assert "index-url = http://carol@localhost/simple/" in page
        assert PASSWORD not in page

    def test_pagination(self, app):
        for i in range(55):
            upload(app, f"pkg{i:02d}", "1.0")
        first = app.get("/", headers=auth("bob")).text
        assert "pkg00" in first and "pkg54" not in first and "Page 1 of 2" in first
        second = app.get("/?page=2", headers=auth("bob")).text
        assert "pkg54" in second and "pkg00" not in second

    def test_escapes_what_users_supply(self, web):
        page = web.get("/", {"q": "<script>x</script>"}, headers=auth("bob")).text
        assert "<script>x" not in page and "&lt;script&gt;x" in page

    def test_legacy_upload_on_root_still_works(self, app):
        upload(app, "via-root", "1.0", url="/")
        assert "via-root" in app.get("/", headers=auth("bob")).text


class TestProjectPage:
    def test_versions_files_and_metadata(self, web):
        page = web.get("/project/public-pkg/", headers=auth("carol")).text
        assert '<h3 id="v-1">2.0rc1' in page and '<h3 id="v-2">1.0' in page
        assert "pre-release" in page
        assert wheel_name("public-pkg", "2.0rc1") in page and "py3" in page
        assert "Programming Language :: Python :: 3" in page
        assert "https://example.invalid/home" in page and "bob" in page
        assert "pip install --index-url http://carol@localhost/simple/ public-pkg" in page
        assert "Yank" not in page and "Delete" not in page  # carol may not write

    def test_readme_is_rendered_and_sanitized(self, web):
        page = web.get("/project/public-pkg/", headers=auth("bob")).text
        assert "<strong>bold</strong>" in page
        assert "<script>alert" not in page and "onerror" not in page

    def test_private_project_is_a_404_like_a_missing_one(self, web):
        web.get("/project/secret/", headers=auth("carol"), status=404)
        web.get("/project/no-such-thing/", headers=auth("carol"), status=404)
        web.get("/project/Secret/", headers=auth("carol"), status=404)
        assert "Hidden thing" in web.get("/project/secret/", headers=auth("dave")).text

    def test_redirects_to_the_normalized_name(self, web):
        moved = web.get("/project/Public_Pkg/", headers=auth("bob"), status=301)
        assert moved.location.endswith("/project/public-pkg/")
        moved = web.get("/project/public-pkg", headers=auth("bob"), status=301)
        assert moved.location.endswith("/project/public-pkg/")

    def test_yank_and_unyank_a_release(self, web):
        csrf = sign_in(web, "bob")
        form = {"csrf_token": csrf, "version": "1.0", "action": "yank", "reason": "<b>bad</b>"}
        web.post("/project/public-pkg/yank", form, status=303)
        page = web.get("/project/public-pkg/").text
        assert "yanked" in page and "&lt;b&gt;bad&lt;/b&gt;" in page and "Unyank 1.0" in page
        form = {"csrf_token": csrf, "version": "1.0", "action": "unyank"}
        web.post("/project/public-pkg/yank", form, status=303)
        assert "Unyank" not in web.get("/project/public-pkg/").text

    def test_write_actions_need_csrf_and_write_permission(self, web):
        sign_in(web, "bob")
        web.post("/project/public-pkg/yank", {"version": "1.0", "action": "yank"}, status=400)
        filename = wheel_name("public-pkg", "1.0")
        web.post("/project/public-pkg/delete", {"filename": filename}, status=400)
        assert "Unyank" not in web.get("/project/public-pkg/").text
        csrf = sign_in(web, "carol")
        form = {"csrf_token": csrf, "version": "1.0", "action": "yank"}
        web.post("/project/public-pkg/yank", form, status=403)
        web.post("/project/secret/yank", form, status=403)
        web.reset()
        web.post("/project/public-pkg/yank", form, status=401)

    def test_delete_a_file(self, web):
        csrf = sign_in(web, "bob")
        filename = wheel_name("public-pkg", "1.0")
        web.post(
            "/project/public-pkg/delete", {"csrf_token": csrf, "filename": filename}, status=303
        )
        assert filename not in web.get("/project/public-pkg/").text
        web.post(
            "/project/public-pkg/delete", {"csrf_token": csrf, "filename": filename}, status=404
        )

    def test_delete_policy_applies(self, make_app):
        app = make_app(**{"pypi.allow_delete": "false"})
        upload(app, "pkg", "1.0")
        csrf = sign_in(app, "bob")
        assert "Delete" not in app.get("/project/pkg/").text
        form = {"csrf_token": csrf, "filename": wheel_name("pkg", "1.0")}
        app.post("/project/pkg/delete", form, status=403)


class TestUploadForm:
    def test_upload_through_the_form(self, app):
        csrf = sign_in(app, "bob")
        assert "multipart/form-data" in app.get("/upload").text
        content = wheel_bytes("formed", "1.0")
        done = app.post(
            "/upload",
            {"csrf_token": csrf},
            upload_files=[("content", wheel_name("formed", "1.0"), content)],
            status=303,
        )
        assert done.location.endswith("/project/formed/")
        page = app.get("/project/formed/").text
        assert wheel_name("formed", "1.0") in page and "bob" in page

    def test_refusals(self, app):
        content = wheel_bytes("formed", "1.0")
        files = [("content", wheel_name("formed", "1.0"), content)]
        sign_in(app, "bob")
        app.post("/upload", {}, upload_files=files, status=400)  # no CSRF token
        assert app.get("/project/formed/", status=404)
        csrf = sign_in(app, "carol")
        app.post("/upload", {"csrf_token": csrf}, upload_files=files, status=403)
        bad = app.post(
            "/upload", {"csrf_token": csrf}, upload_files=[("content", "x.txt", b"x")], status=400
        )
        assert "Not a distribution" in bad.text
        app.reset()
        app.get("/upload", status=401)


class TestAccount:
    def test_header_and_sign_out(self, app):
        csrf = sign_in(app, "carol")
        page = app.get("/").text
        assert "Sign out" in page and "Account (carol)" in page
        app.post("/acct/logout", {"csrf_token": csrf}, status=302)
        assert "Sign in" in app.get("/").text
        app.get("/account", status=401)

    def test_tokens_shown_once_listed_and_revoked(self, app):
        csrf = sign_in(app, "carol")
        made = app.post(
            "/account/tokens",
            {"csrf_token": csrf, "description": "<ci>", "scope": "upload", "expires_in_days": "30"},
        )
        secret = re.search(r'id="secret" readonly size="60" value="([^"]+)"', made.text).group(1)
        assert made.headers["Cache-Control"] == "no-store"
        listing = app.get("/account").text
        assert secret not in listing and "&lt;ci&gt;" in listing and "read and upload" in listing
        assert app.get("/simple/", headers=auth("__token__", secret)).status_int == 200
        token_id = re.search(r'/account/tokens/([^/"]+)/revoke', listing).group(1)
        app.post(f"/account/tokens/{token_id}/revoke", {}, status=400)  # no CSRF token
        app.post(f"/account/tokens/{token_id}/revoke", {"csrf_token": csrf}, status=303)
        app.get("/simple/", headers=auth("__token__", secret), status=401)
        assert "No tokens yet" in app.get("/account").text

    def test_change_password(self, make_app, tmp_path):
        app = make_app(
            **{
                "pypi.auth": "sql",
                "auth.db.url": f"sqlite:///{tmp_path / 'access.sqlite'}",
                "auth.scheme": "sha256_crypt",
                "auth.rounds": "1000",
                **{f"user.{u}": None for u in ("alice", "bob", "carol", "dave")},
            }
        )
        app.put_json("/api/user/root", {"password": PASSWORD})
        csrf = sign_in(app, "root")
        form = {"csrf_token": csrf, "old_password": "wrong", "new_password": "n3w-passw0rd!"}
        form["confirm_password"] = form["new_password"]
        app.post("/account/password", form, status=403)
        app.post("/account/password", {**form, "confirm_password": "x"}, status=400)
        app.post("/account/password", {**form, "csrf_token": ""}, status=400)
        form["old_password"] = PASSWORD
        app.post("/account/password", form, status=303)
        app.get("/simple/", headers=auth("root", "n3w-passw0rd!"), status=200)
