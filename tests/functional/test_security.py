"""The security policy through the app: sessions and CSRF, tokens, the one refusal rule."""

from __future__ import annotations

import pytest

from pypicloud.security import Authenticator, CredentialCache
from pypicloud.tokens import ApiToken
from tests.dists import wheel_name
from tests.fakes import MemoryTokens
from tests.functional.conftest import PASSWORD, auth, upload

WHEEL = wheel_name("alpha", "1.0")
FILE_URL = f"/api/package/alpha/{WHEEL}"


@pytest.fixture
def filled(app):
    upload(app, "alpha", "1.0")
    upload(app, "secret", "1.0")
    return app


def login(app, user: str = "bob", password: str = PASSWORD, status: int = 200):
    return app.post_json("/acct/login", {"username": user, "password": password}, status=status)


class TestSessions:
    def test_login_sets_a_signed_http_only_lax_cookie(self, filled):
        response = login(filled)
        assert response.json["next"] == "http://localhost/"
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("pypicloud_session=")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "secure" not in cookie
        # The cookie now identifies the browser: no Basic header needed.
        assert filled.get("/simple/alpha/").status_int == 200

    def test_the_login_page(self, filled):
        page = filled.get("/acct/login")
        assert '<label for="password">' in page.text
        form = page.forms[0]
        form["username"], form["password"] = "bob", "wrong"
        refused = form.submit(status=403)
        assert "Wrong user name or password" in refused.text and 'value="bob"' in refused.text
        form = refused.forms[0]
        form["password"] = PASSWORD
        assert form.submit(status=303).location == "http://localhost/"
        assert filled.get("/simple/alpha/").status_int == 200

    def test_the_cookie_is_secure_over_tls(self, filled):
        response = filled.post_json(
            "/acct/login",
            {"username": "bob", "password": PASSWORD},
            extra_environ={"wsgi.url_scheme": "https"},
        )
        assert "secure" in response.headers["Set-Cookie"].lower()

    def test_a_wrong_password_signs_nobody_in(self, filled):
        login(filled, password="wrong", status=403)
        filled.get("/simple/alpha/", status=401)

    def test_a_tampered_cookie_is_anonymous(self, filled):
        login(filled)
        value = filled.cookies["pypicloud_session"]
        filled.set_cookie("pypicloud_session", value[:-4] + "AAAA")
        filled.get("/simple/alpha/", status=401)

    def test_logout(self, filled):
        login(filled)
        filled.get("/acct/logout", status=302)
        filled.get("/simple/alpha/", status=401)

    def test_cookie_writes_need_the_csrf_token(self, filled):
        token = login(filled).json["csrf_token"]
        patch = {"yanked": True, "reason": "x"}
        filled.patch_json(FILE_URL, patch, status=400)  # no token: refused, nothing changed
        assert filled.get("/api/package/alpha/").json["packages"][0]["yanked"] is False
        filled.patch_json(FILE_URL, patch, headers={"X-CSRF-Token": "wrong"}, status=400)
        filled.patch_json(FILE_URL, patch, headers={"X-CSRF-Token": token})
        assert filled.get("/api/package/alpha/").json["packages"][0]["yanked"] is True

    def test_basic_writes_need_no_csrf_token(self, filled):
        filled.patch_json(FILE_URL, {"yanked": True}, headers=auth("bob"))

    def test_a_deleted_session_user_is_anonymous(self, filled):
        login(filled)
        access = filled.app.registry.services.access
        access.backend.facts.pop("bob")  # as if an admin deleted bob
        access._principals.clear()
        filled.get("/simple/alpha/", status=401)


@pytest.fixture
def tokens(filled) -> MemoryTokens:
    store = MemoryTokens()
    services = filled.app.registry.services
    authenticator = Authenticator(services.access, store, CredentialCache())
    authenticator.token_version.interval = 0  # see a revocation at once
    services.authenticator = services.security.authenticator = authenticator
    store.add("read-all", ApiToken("t1", "bob"))
    store.add("upload-alpha", ApiToken("t2", "bob", projects=frozenset({"alpha"}), upload=True))
    return store


class TestTokens:
    def test_a_read_token_reads_but_cannot_upload(self, filled, tokens):
        headers = auth("__token__", "read-all")
        filled.get("/simple/alpha/", headers=headers)
        filled.get(FILE_URL, headers=headers)
        response = filled.patch_json(FILE_URL, {"yanked": True}, headers=headers, status=403)
        assert response.json == {"error": "You may not write to alpha"}

    def test_a_project_token_is_limited_to_its_projects(self, filled, tokens):
        headers = auth("__token__", "upload-alpha")
        filled.patch_json(FILE_URL, {"yanked": True}, headers=headers)
        filled.get("/simple/secret/", headers=headers, status=404)
        assert filled.get("/simple/", headers=headers).text.count("<a ") == 1
        filled.post("/admin/rebuild", headers=headers, status=403)

    def test_a_scoped_token_never_gets_its_owners_cached_listing(self, filled, tokens):
        owner = filled.get("/simple/", headers=auth("bob")).text
        assert "alpha" in owner and "secret" in owner
        scoped = filled.get("/simple/", headers=auth("__token__", "upload-alpha")).text
        assert "alpha" in scoped and "secret" not in scoped

    def test_a_revoked_token_is_refused(self, filled, tokens):
        headers = auth("__token__", "read-all")
        filled.get("/simple/alpha/", headers=headers)
        tokens.revoke("read-all")
        filled.get("/simple/alpha/", headers=headers, status=401)

    def test_unknown_tokens_are_anonymous(self, filled, tokens):
        filled.get("/simple/alpha/", headers=auth("__token__", "nope"), status=401)


class TestRefusals:
    def test_anonymous_gets_a_challenge_everywhere(self, filled):
        for url in ("/simple/alpha/", "/pypi/alpha/json", FILE_URL, "/api/package/alpha/"):
            response = filled.get(url, status=401)
            assert response.headers["WWW-Authenticate"] == 'Basic realm="pypi"'

    def test_bad_credentials_say_so(self, filled):
        response = filled.get("/api/package/alpha/", headers=auth("bob", "wrong"), status=401)
        assert response.json == {"error": "Invalid credentials"}

    def test_a_private_project_answers_like_a_missing_one(self, filled):
        for url in ("/simple/{}/", "/pypi/{}/json", "/api/package/{}/"):
            private = filled.get(url.format("secret"), headers=auth("carol"), status=404)
            missing = filled.get(url.format("nothing"), headers=auth("carol"), status=404)
            assert private.body == missing.body
            assert "secret" not in private.text

    def test_admin_only(self, filled):
        response = filled.post("/admin/rebuild", headers=auth("bob"), status=403)
        assert response.json == {"error": "Admins only"}


class TestJsonErrors:
    def test_api_errors_are_json_with_the_same_status(self, filled):
        response = filled.get("/api/package/nothing/", headers=auth("bob"), status=404)
        assert response.content_type == "application/json" and "error" in response.json
        response = filled.patch_json(FILE_URL, {"yanked": "x"}, headers=auth("bob"), status=400)
        assert response.json["error"].startswith("Expected")

    def test_upload_refusals_under_api_keep_the_reason_in_the_status_line(self, filled):
        response = filled.post(
            f"/api/package/alpha/{WHEEL}",
            params={"version": "2.0"},
            upload_files=[("content", WHEEL, b"junk")],
            headers=auth("bob"),
            status=400,
        )
        assert response.status.startswith("400 Version in filename")
        assert response.json["error"].startswith("Version in filename")

    def test_html_clients_get_html_and_json_clients_json(self, filled):
        page = filled.get(
            "/simple/nothing/", headers={**auth("bob"), "Accept": "text/html"}, status=404
        )
        assert page.content_type == "text/html"
        data = filled.get(
            "/simple/alpha/",  # a missing project is a 404 whatever the Accept (no leak)
            headers={**auth("bob"), "Accept": "application/json"},
            status=406,
        )
        assert data.content_type == "application/json"


class TestThrottle:
    def test_failures_slow_down_but_the_right_password_still_works(self, filled):
        from pypicloud.throttle import LoginThrottle

        slept: list[float] = []
        services = filled.app.registry.services
        services.authenticator.throttle = LoginThrottle(free=3, sleep=slept.append)
        filled.extra_environ = {"REMOTE_ADDR": "192.0.2.7"}
        for _ in range(6):
            filled.get("/simple/alpha/", headers=auth("bob", "guess"), status=401)
        assert slept == [0.1, 0.2, 0.4]
        filled.get("/simple/alpha/", headers=auth("bob"))  # not refused, not delayed
        assert slept == [0.1, 0.2, 0.4]
        filled.get("/simple/alpha/", headers=auth("carol", "guess"), status=401)
        assert slept[-1] == 0.8  # the same client address, another user
