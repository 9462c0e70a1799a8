"""Private projects stay private on every endpoint, for every kind of wrong identity.

``secret`` may be read by bob and dave only; ``nothing`` does not exist. Whoever may not read
``secret`` must get exactly the answer ``nothing`` gets (status, headers that matter, body
with the name swapped), and no listing, search or page may mention it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest

from tests.attestations import attestation, field
from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import PASSWORD, auth, upload

MARK = "TOPSECRET-SUMMARY-7f3a"
PRIVATE, MISSING = "secret", "nothing"
PROJECT_URLS = [
    "/simple/{p}/",
    "/simple/{P}/",
    "/simple/{P}",
    "/pypi/{P}/",
    "/pypi/{P}/json",
    "/project/{P}/",
    "/project/{P}",
    "/simple/{p}/?format=application/vnd.pypi.simple.v1%2Bjson",
    "/simple/{p}",
    "/pypi/{p}/",
    "/pypi/{p}/json",
    "/pypi/{p}/1.0/json",
    "/api/package/{p}/",
    "/api/package/{p}/1.0/",
    "/api/package/{p}/{f}",
    "/api/package/{p}/{f}.metadata",
    "/integrity/{p}/1.0/{f}/provenance",
    "/integrity/{P}/1.0/{f}/provenance",
    "/api/package/{p}/status",
    "/project/{p}/",
    "/project/{p}",
]
LISTINGS = [
    "/simple/",
    "/simple/?format=application/vnd.pypi.simple.v1%2Bjson",
    "/pypi/",
    "/api/package/",
    "/",
]
OTHER_MARK = "UNKNOWN-SUMMARY-0000"
#: Searches for the private name or summary, and for something nobody has: the same page,
#: but for the query echoed in the search box.
SEARCHES = [(f"/?q={PRIVATE}", f"/?q={MISSING}"), (f"/?q={MARK}", f"/?q={OTHER_MARK}")]
JSON_ACCEPT = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture
def world(make_app):
    from pypicloud.throttle import LoginThrottle

    app = make_app(**{"session.validate_key": "k" * 32, "session.max_age": "60"})
    # Each identity is tried on every endpoint: the throttle (tested below) would sleep.
    app.app.registry.services.authenticator.throttle = LoginThrottle(sleep=lambda _s: None)
    upload(app, "alpha", "1.0")
    content = wheel_bytes(PRIVATE, "1.0", summary=MARK)
    # With attestations, so its provenance exists and must not leak either.
    attested = attestation(wheel_name(PRIVATE, "1.0"), hashlib.sha256(content).hexdigest())
    upload(app, PRIVATE, "1.0", content=content, fields={"attestations": field(attested)})
    app.secret_sha256 = app.app.registry.services.cache.fetch(wheel_name(PRIVATE, "1.0")).sha256
    # Its status (and reason) must not leak either; archived, it still installs for its owner.
    app.put_json(
        f"/api/package/{PRIVATE}/status",
        {"status": "archived", "reason": MARK},
        headers=auth("bob"),
    )
    return app


def urls(template: str, project: str) -> str:
    return template.format(p=project, P=project.capitalize(), f=wheel_name(project, "1.0"))


def swap(data: bytes) -> bytes:
    for private, missing in ((PRIVATE, MISSING), (PRIVATE.capitalize(), MISSING.capitalize())):
        data = data.replace(private.encode(), missing.encode())
    return data


def answer(app, url, headers):
    response = app.get(url, headers=headers, expect_errors=True)
    kept = {k: v for k, v in response.headers.items() if k in ("Location", "WWW-Authenticate")}
    return response.status_int, kept, response.body


def assert_like_missing(app, headers, who):
    for template in PROJECT_URLS:
        for extra in ({}, JSON_ACCEPT):
            private = answer(app, urls(template, PRIVATE), {**headers, **extra})
            missing = answer(app, urls(template, MISSING), {**headers, **extra})
            swapped = (
                private[0],
                {k: swap(v.encode()).decode() for k, v in private[1].items()},
                swap(private[2]),
            )
            assert swapped == missing, (who, template, extra, private[0], missing[0])
            assert private[0] in (301, 401, 404), (who, template, private[0])
            assert MARK.encode() not in private[2]
            assert app.secret_sha256.encode() not in private[2]
    for url in LISTINGS:
        body = app.get(url, headers=headers, expect_errors=True).body
        assert PRIVATE.encode() not in body and MARK.encode() not in body, (who, url)
    for private_query, other_query in SEARCHES:
        body = app.get(private_query, headers=headers, expect_errors=True).body
        other = app.get(other_query, headers=headers, expect_errors=True).body
        assert swap(body).replace(MARK.encode(), OTHER_MARK.encode()) == other, (who, private_query)


def test_the_owner_sees_it(world):
    # The suite proves something only if the private project is really there.
    for template in PROJECT_URLS:
        response = world.get(urls(template, PRIVATE), headers=auth("bob"), expect_errors=True)
        assert response.status_int in (200, 301), (template, response.status)
    assert PRIVATE in world.get("/simple/", headers=auth("bob")).text
    assert MARK in world.get("/?q=TOPSECRET", headers=auth("bob")).text


def test_anonymous(world):
    assert_like_missing(world, {}, "anonymous")


def test_an_unrelated_user(world):
    assert_like_missing(world, auth("carol"), "carol")


def test_a_wrong_password(world):
    assert_like_missing(world, auth("bob", "not-" + PASSWORD), "wrong password")


def test_an_unknown_user(world):
    assert_like_missing(world, auth("mallory"), "unknown user")


def _token(world, **body) -> tuple[str, str]:
    created = world.post_json("/api/tokens", body, headers=auth("bob")).json
    return created["token"], created.get("token_id") or created.get("id")


def test_a_revoked_token(world):
    secret, token_id = _token(world, scope="read")
    headers = auth("__token__", secret)
    world.get("/simple/secret/", headers=headers)  # works, and is remembered
    world.delete(f"/api/tokens/{token_id}", headers=auth("bob"))
    assert_like_missing(world, headers, "revoked token")


def test_an_expired_token(world):
    tokens = world.app.registry.services.tokens
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    secret, _token = tokens.create("bob", expires=past)
    assert_like_missing(world, auth("__token__", secret), "expired token")


def test_a_token_for_other_projects(world):
    secret, _ = _token(world, scope="read", projects=["alpha"])
    assert_like_missing(world, auth("__token__", secret), "token for alpha")


def test_an_unrelated_users_token(world):
    tokens = world.app.registry.services.tokens
    secret, _token = tokens.create("carol")
    assert_like_missing(world, auth("__token__", secret), "carol's token")


@pytest.mark.parametrize("project", ["alpha", PRIVATE])
def test_a_trusted_publishers_minted_token(world, project):
    """A token minted by trusted publishing uploads only: even for the private project
    itself it reads nothing, and a refused upload says nothing of ``secret``."""
    tokens = world.app.registry.services.tokens
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    secret, _token = tokens.create("oidc:0123abcd", projects=[project], upload=True, expires=later)
    assert_like_missing(world, auth("__token__", secret), f"minted token for {project}")
    if project == "alpha":
        private = upload(world, PRIVATE, "2.0", user="__token__", password=secret, status="*")
        missing = upload(world, MISSING, "2.0", user="__token__", password=secret, status="*")
        assert private.status_int == missing.status_int == 403
        assert private.body.replace(PRIVATE.encode(), MISSING.encode()) == missing.body


def test_an_expired_session(world, monkeypatch):
    world.post_json("/acct/login", {"username": "bob", "password": PASSWORD})
    world.get("/simple/secret/")  # signed in by the cookie alone
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    assert_like_missing(world, {}, "expired session")


def test_a_signed_out_session(world):
    world.post_json("/acct/login", {"username": "bob", "password": PASSWORD})
    cookie = world.cookies["pypicloud_session"]
    world.get("/acct/logout")
    world.set_cookie("pypicloud_session", cookie)  # replayed: the signature is still valid
    # A replayed cookie is as good as the session it came from until it expires (a known
    # limit of signed-cookie sessions, see SECURITY.md), so only a fresh jar is checked.
    world.reset()
    assert_like_missing(world, {}, "signed out")


def test_setting_a_private_projects_status_reveals_nothing(world):
    """A refused status change answers the same for a private and a missing project."""
    for headers in ({}, auth("carol"), auth("mallory")):
        answers = []
        for project in (PRIVATE, MISSING):
            response = world.put_json(
                f"/api/package/{project}/status",
                {"status": "quarantined"},
                headers=headers,
                expect_errors=True,
            )
            answers.append((response.status_int, swap(response.body)))
        assert answers[0] == answers[1], headers
        assert answers[0][0] in (401, 404)
    status = world.get(f"/api/package/{PRIVATE}/status", headers=auth("bob")).json
    assert status == {"name": PRIVATE, "status": "archived", "reason": MARK}


def test_uploads_to_a_private_project_reveal_nothing(world):
    """A refused write answers the same for a private and a missing project."""
    for who in ("carol", "dave"):
        private = upload(world, PRIVATE, "2.0", user=who, status="*")
        missing = upload(world, MISSING, "2.0", user=who, status="*")
        assert private.status_int == missing.status_int == 403
        assert private.body.replace(PRIVATE.encode(), MISSING.encode()) == missing.body


# -- brute force ------------------------------------------------------------------------------


def test_guessing_is_slowed_but_the_real_user_gets_in(world):
    from pypicloud.throttle import LoginThrottle

    slept: list[float] = []
    services = world.app.registry.services
    services.authenticator.throttle = LoginThrottle(free=5, sleep=slept.append)
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for attempt in range(40):
        world.get(
            "/simple/secret/",
            headers=auth("bob", f"guess-{attempt}"),
            extra_environ=attacker,
            status=401,
        )
    assert len(slept) == 35 and max(slept) == LoginThrottle().max_delay
    assert sum(slept) > 60  # 40 guesses cost over a minute
    before = len(slept)
    # pip on bob's machine, from another address: served at once, never locked out.
    for _ in range(5):
        world.get("/simple/secret/", headers=auth("bob"), extra_environ={"REMOTE_ADDR": "10.0.0.2"})
    # ... and even from the attacker's address, the right password is not delayed.
    world.get("/simple/secret/", headers=auth("bob"), extra_environ=attacker)
    assert len(slept) == before


def test_the_login_form_is_throttled_too(world):
    from pypicloud.throttle import LoginThrottle

    slept: list[float] = []
    services = world.app.registry.services
    services.authenticator.throttle = LoginThrottle(free=3, sleep=slept.append)
    for attempt in range(8):
        world.post_json("/acct/login", {"username": "bob", "password": f"g{attempt}"}, status=403)
    assert len(slept) == 5
    world.post_json("/acct/login", {"username": "bob", "password": PASSWORD})


def test_guessing_tokens_is_throttled(world):
    from pypicloud.throttle import LoginThrottle

    slept: list[float] = []
    services = world.app.registry.services
    services.authenticator.throttle = LoginThrottle(free=3, sleep=slept.append)
    for attempt in range(8):
        world.get(
            "/simple/alpha/",
            headers=auth("__token__", f"ppc_guess{attempt}"),
            extra_environ={"REMOTE_ADDR": "203.0.113.10"},
            status=401,
        )
    assert len(slept) == 5


def test_made_up_names_cannot_exhaust_the_throttle(world):
    from pypicloud.throttle import LoginThrottle

    throttle = LoginThrottle(max_keys=100, sleep=lambda _s: None)
    for index in range(1000):
        throttle.failed(f"user{index}", f"198.51.100.{index % 250}")
    assert throttle.tracked() <= 100


# -- headers and cookies ----------------------------------------------------------------------

HTML_PAGES = [
    ("/", "bob"),
    ("/project/alpha/", "bob"),
    ("/acct/login", None),
    ("/account", "bob"),
    ("/upload", "bob"),
    ("/manage", "alice"),
    ("/simple/", "bob"),
    ("/simple/alpha/", "bob"),
    ("/project/nothing/", "bob"),
    ("/simple/nothing/", "bob"),
    ("/simple/alpha/", None),
    ("/manage", "bob"),
]


@pytest.mark.parametrize(("url", "user"), HTML_PAGES)
def test_html_pages_carry_security_headers(world, url, user):
    headers = {**(auth(user) if user else {}), "Accept": "text/html"}
    response = world.get(url, headers=headers, expect_errors=True)
    assert response.content_type == "text/html", (url, response.content_type)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    policy = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy or response.headers.get("X-Frame-Options"), url
    assert "private" in response.headers.get("Cache-Control", "") or response.status_int >= 300


def test_session_cookies_are_http_only_and_same_site(world):
    cookie = world.post_json("/acct/login", {"username": "bob", "password": PASSWORD})
    value = cookie.headers["Set-Cookie"]
    assert "HttpOnly" in value and "SameSite=Lax" in value
    assert "secure" not in value.lower()  # plain HTTP: a Secure cookie would never come back


def _login_over_the_wire(server, headers: dict[str, str]) -> str:
    import json

    connection = server.connection()
    body = json.dumps({"username": "bob", "password": PASSWORD})
    connection.request("POST", "/acct/login", body, {"Content-Type": "application/json", **headers})
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
    return response.getheader("Set-Cookie") or ""


def test_cookies_are_secure_behind_a_trusted_tls_proxy(live_server):
    server = live_server(
        "trusted_proxy = 127.0.0.1\ntrusted_proxy_headers = x-forwarded-proto",
        **{"session.validate_key": "k" * 32},
    )
    tls = _login_over_the_wire(server, {"X-Forwarded-Proto": "https"})
    assert "secure" in tls.lower() and "HttpOnly" in tls and "SameSite=Lax" in tls
    plain = _login_over_the_wire(server, {})
    assert "secure" not in plain.lower()


def test_an_untrusted_client_cannot_claim_tls(live_server):
    server = live_server(**{"session.validate_key": "k" * 32})
    cookie = _login_over_the_wire(server, {"X-Forwarded-Proto": "https"})
    assert "secure" not in cookie.lower()
