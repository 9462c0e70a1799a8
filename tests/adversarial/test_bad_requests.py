"""Bad requests: garbage headers, credentials and URLs never yield a 5xx or a stack trace."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from pypicloud.throttle import LoginThrottle
from tests.adversarial.conftest import assert_no_stack_trace
from tests.dists import wheel_name
from tests.functional.conftest import auth, upload

WHEEL = wheel_name("alpha", "1.0")
FILE_URL = f"/api/package/alpha/{WHEEL}"
URLS = [
    "/",
    "/simple/",
    "/simple/alpha/",
    "/pypi/alpha/json",
    "/pypi/alpha/1.0/json",
    "/api/package/",
    "/api/package/alpha/",
    FILE_URL,
    FILE_URL + ".metadata",
    "/project/alpha/",
    "/acct/login",
    "/health",
]


@pytest.fixture(scope="module")
def module_app(tmp_path_factory):
    from pypicloud import make_config
    from tests.functional.conftest import base_settings, started

    tmp_path = tmp_path_factory.mktemp("bad-requests")
    app = started(make_config(base_settings(tmp_path), here=str(tmp_path), environ={}))
    upload(app, "alpha", "1.0")
    # Hundreds of bad credentials from one address: the throttle would (rightly) slow them.
    app.app.registry.services.authenticator.throttle = LoginThrottle(sleep=lambda _s: None)
    return app


def check(response) -> None:
    assert response.status_int < 500, (response.request.url, response.status)
    assert_no_stack_trace(response.body)


def get(app, url, headers=None, **kwargs):
    url = quote(url, safe="/?=&%;:+,!*'()<>") if not url.isascii() else url
    return app.get(url, headers=headers or {}, expect_errors=True, **kwargs)


def basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


AUTHORIZATIONS = [
    pytest.param(basic(b"\xff\xfe:\xff"), id="not-utf8"),
    pytest.param(basic(b"bob"), id="no-colon"),
    pytest.param(basic(b""), id="empty-b64"),
    pytest.param(basic(b":"), id="only-colon"),
    pytest.param(basic(b":s3cret-pw"), id="empty-user"),
    pytest.param(basic(b"bob:"), id="empty-password"),
    pytest.param(basic(b"bob\x00:s3cret-pw"), id="nul-in-user"),
    pytest.param(basic("b\u00f6b:pw\u2603".encode()), id="unicode"),
    pytest.param(basic(b"x" * 20000 + b":y"), id="huge-user"),
    pytest.param(basic(b"__token__:"), id="empty-token"),
    pytest.param(basic(b"__token__:" + b"\xff" * 10), id="binary-token"),
    pytest.param({"Authorization": "Basic"}, id="scheme-only"),
    pytest.param({"Authorization": "Basic !!!!"}, id="not-base64"),
    pytest.param({"Authorization": "Basic Ym9i"}, id="unpadded"),
    pytest.param({"Authorization": "Basic " + "A" * 100_000}, id="huge-base64"),
    pytest.param({"Authorization": "Bearer abc"}, id="other-scheme"),
    pytest.param({"Authorization": "basic    " + base64.b64encode(b"bob:x").decode()}, id="sp"),
    pytest.param({"Authorization": "\u00e9\u00e9"}, id="latin1"),
]


@pytest.mark.parametrize("headers", AUTHORIZATIONS)
def test_invalid_basic_auth(module_app, headers):
    for url in ("/simple/", "/simple/alpha/", FILE_URL, "/api/package/", "/"):
        response = get(module_app, url, headers)
        check(response)
        if url != "/":
            assert response.status_int in (401, 404), (url, response.status)
    response = module_app.post("/simple/", b"", headers=headers, expect_errors=True)
    check(response)


GARBAGE_PATHS = [
    "/simple/%00/",
    "/simple/%ff%fe/",
    "/simple/%c0%ae%c0%ae/",
    "/simple/..%2f..%2fetc%2fpasswd/",
    "/simple/\u2603/",
    "/simple/%E2%98%83/",
    "/simple/" + "a" * 5000 + "/",
    "/pypi/%00/json",
    "/pypi/alpha/%ff/json",
    "/pypi/alpha/..%2f/json",
    "/api/package/alpha/%00",
    "/api/package/alpha/..%2f..%2f" + WHEEL,
    "/api/package/alpha/%2e%2e/" + WHEEL,
    "/api/package/%2e%2e/" + WHEEL,
    "/api/package/alpha/" + WHEEL + "%00",
    "/api/package/alpha/" + WHEEL + ".metadata%00",
    "/api/package/alpha/" + "x" * 3000,
    "/project/%ff/",
    "/project/" + "\u0430" * 50 + "/",
    "/?q=%00%ff" + "x" * 5000,
    "/?q=<script>alert(1)</script>",
    "/?page=-1",
    "/?page=99999999999999999999999",
    "/?page=%ff",
    "/simple/?format=%ff",
    "/simple/alpha/?format=application/vnd.pypi.simple.v1%2bjson%00",
    "/static/%2e%2e/%2e%2e/setup.py",
    "/static/../../pyproject.toml",
    "/%ff%ff",
    "/admin/user/%ff",
    "/acct/login?next=//evil.example/",
]


@pytest.mark.parametrize("url", GARBAGE_PATHS)
@pytest.mark.parametrize("who", ["anonymous", "bob"])
def test_garbage_urls(module_app, url, who):
    headers = auth("bob") if who == "bob" else {}
    response = get(module_app, url, headers)
    check(response)
    assert "root:" not in response.text  # nothing outside the app was served


def test_login_does_not_redirect_elsewhere(module_app):
    response = module_app.post_json(
        "/acct/login?next=//evil.example/",
        {"username": "bob", "password": "s3cret-pw"},
        expect_errors=True,
    )
    check(response)
    assert "evil.example" not in response.headers.get("Location", "")
    assert "evil.example" not in response.text


RANGES = [
    "bytes=0-0",
    "bytes=999999999-",
    "bytes=-999999999",
    "bytes=5-1",
    "bytes=0-1,3-4",
    "bytes=0-1,0-1,0-1," * 200,
    "bytes=-",
    "bytes=abc",
    "lines=0-10",
    "bytes=0-18446744073709551616",
    "bytes=\u00ff-",
    "",
]


@pytest.mark.parametrize("value", RANGES)
def test_range_headers(module_app, value):
    for url in (FILE_URL, FILE_URL + ".metadata"):
        response = get(module_app, url, {**auth("bob"), "Range": value})
        check(response)
        assert response.status_int in (200, 206, 416), response.status


ACCEPTS = [
    "",
    "*/*",
    "garbage",
    "text/html;q=abc",
    "text/html;q=2",
    "text/html;q=-1",
    "application/vnd.pypi.simple.v1+json;q=0, text/html;q=0",
    ",,,;;;===",
    "a/b;" + "x=y;" * 2000,
    "text/\u00ff",
    "application/vnd.pypi.simple.latest+json",
    "application/json",
    "*/*;q=0",
]


@pytest.mark.parametrize("value", ACCEPTS)
def test_accept_headers(module_app, value):
    for url in ("/simple/", "/simple/alpha/", "/pypi/alpha/json", "/", "/api/package/nothing/"):
        response = get(module_app, url, {**auth("bob"), "Accept": value})
        check(response)
        if url.startswith("/simple/"):
            assert response.status_int in (200, 406), (url, response.status)


IF_NONE_MATCH = ['"', "*", "W/", 'W/"x", "y", *', "\u00ff", '"a' * 5000, ",,,,", '""']


@pytest.mark.parametrize("value", IF_NONE_MATCH)
def test_if_none_match_headers(module_app, value):
    for url in ("/simple/", "/simple/alpha/", FILE_URL, "/"):
        response = get(module_app, url, {**auth("bob"), "If-None-Match": value})
        check(response)
        assert response.status_int in (200, 304), (url, value, response.status)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "x" * 60_000},
        {f"X-H{i}": "v" for i in range(500)},
        {"Cookie": "pypicloud_session=" + "A" * 8000},
        {"Cookie": "pypicloud_session=\u00ff\u00fe; other=;;;="},
        {"Cookie": "=;=;=;" * 500},
        {"If-Modified-Since": "yesterday"},
        {"Content-Type": "\u00ff/\u00ff"},
        {"X-Forwarded-For": "not an address, ::::, 999.1.1.1"},
        {"Host": "evil.example:99999"},
    ],
)
def test_odd_headers(module_app, headers):
    for url in ("/", "/simple/alpha/", FILE_URL):
        check(get(module_app, url, {**auth("bob"), **headers}))


def test_huge_headers_over_the_wire(live_server):
    """waitress bounds the header size itself: an answer, never a crash."""
    server = live_server()
    for name, value in (("X-Big", "x" * 300_000), ("Authorization", "Basic " + "A" * 300_000)):
        connection = server.connection(timeout=30)
        try:
            connection.putrequest("GET", "/simple/")
            connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
        except (ConnectionError, OSError):
            continue  # a closed connection is a fine answer to a 300 kB header
        finally:
            connection.close()
        assert response.status < 500 or response.status == 431, response.status
        assert_no_stack_trace(body)
    connection = server.connection()
    connection.request("GET", "/health/live")
    assert connection.getresponse().status == 200  # still serving


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", "/simple/"),
        ("DELETE", "/simple/alpha/"),
        ("PATCH", FILE_URL),
        ("POST", FILE_URL),
        ("OPTIONS", "/simple/"),
        ("TRACE", "/"),
        ("PROPFIND", "/simple/"),
    ],
)
def test_odd_methods(module_app, method, url):
    response = module_app.request(
        url, method=method, headers=auth("bob"), body=b"\xff{", expect_errors=True
    )
    check(response)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b"null", b'{"yanked": "maybe"}', b'{"yanked": true, "reason": 5}', b"\xff"],
)
def test_garbage_json_bodies(module_app, body):
    for method, url in (("PATCH", FILE_URL), ("POST", "/api/tokens"), ("POST", "/acct/login")):
        response = module_app.request(
            url,
            method=method,
            headers={**auth("bob"), "Content-Type": "application/json"},
            body=body,
            expect_errors=True,
        )
        check(response)
        assert response.status_int != 200 or method != "POST" or url != "/acct/login"
