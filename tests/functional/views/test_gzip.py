"""Large index pages in gzip for clients that accept it, from the view and the fast path.

Every check runs twice: the first answer comes from the view, the second from the fast
path's store (pypicloud/fastpath.py); both must be the same representation.
"""

from __future__ import annotations

import gzip

import pytest
from webob import Request

from tests.functional.conftest import auth, upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
HTML = {"Accept": "text/html"}
GZIP = {"Accept-Encoding": "gzip, deflate"}
FAST = "pypicloud.route"


class Raw:
    """The app without WebTest, which would undo the gzip before a test could see it."""

    def __init__(self, testapp) -> None:
        self.testapp = testapp

    def get(self, url: str, headers: dict[str, str], status: int = 200):
        request = Request.blank(url, headers=headers)
        response = request.get_response(self.testapp.app)
        assert response.status_int == status, (response.status, response.body[:200])
        response.fast = FAST in request.environ
        return response


@pytest.fixture
def big(app):
    """An index and a project page over 1 KB, and a small project page."""
    for number in range(30):
        upload(app, f"project-with-a-long-name-{number}", "1.0")
    for minor in range(8):
        upload(app, "many", f"1.{minor}")
    upload(app, "tiny", "1.0")
    return Raw(app)


@pytest.mark.parametrize("url", ["/simple/", "/simple/many/", "/pypi/many/"])
@pytest.mark.parametrize("accept", [HTML, JSON], ids=["html", "json"])
def test_a_large_page_is_gzip_for_gzip_clients_and_plain_for_others(big, url, accept):
    bob = auth("bob")
    plain = big.get(url, headers={**bob, **accept})
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    for answer in ("view", "fast path"):
        zipped = big.get(url, headers={**bob, **accept, **GZIP})
        assert zipped.headers["Content-Encoding"] == "gzip", answer
        assert gzip.decompress(zipped.body) == plain.body, answer
        assert zipped.headers["ETag"] != plain.headers["ETag"], answer
        assert zipped.headers["Vary"] == plain.headers["Vary"], answer
        assert zipped.headers["Content-Type"] == plain.headers["Content-Type"], answer
    assert zipped.fast
    again = big.get(url, headers={**bob, **accept})  # the identity entry is its own
    assert again.body == plain.body and "Content-Encoding" not in again.headers


@pytest.mark.parametrize("encoding", ["identity", "gzip;q=0", "br", "gzip;q=0, *"])
def test_a_refused_or_absent_gzip_gets_the_plain_page(big, encoding):
    for _ in range(2):
        page = big.get("/simple/", headers={**auth("bob"), "Accept-Encoding": encoding})
        assert "Content-Encoding" not in page.headers
        assert b"project-with-a-long-name-3" in page.body


def test_a_small_page_is_never_compressed(big):
    for _ in range(2):
        page = big.get("/simple/tiny/", headers={**auth("bob"), **GZIP})
        assert "Content-Encoding" not in page.headers and b"tiny-1.0" in page.body


@pytest.mark.parametrize("url", ["/simple/", "/simple/many/"])
def test_either_etag_gets_a_304_from_the_view_and_the_fast_path(big, url):
    bob = auth("bob")
    plain = big.get(url, headers=bob).headers["ETag"]
    zipped = big.get(url, headers={**bob, **GZIP}).headers["ETag"]
    for etag in (plain, zipped):
        for encoding in ({}, GZIP):
            for _ in range(2):
                answer = big.get(
                    url, headers={**bob, **encoding, "If-None-Match": etag}, status=304
                )
                assert answer.headers["ETag"] == etag
                assert answer.body == b""


def test_gzip_from_the_view_alone_with_the_fast_path_off(make_app):
    app = make_app(**{"pypi.fast_path": "false"})
    for number in range(12):
        upload(app, f"project-with-a-long-name-{number}", "1.0")
    raw, bob = Raw(app), auth("bob")
    for _ in range(2):
        page = raw.get("/simple/", headers={**bob, **GZIP})
        assert page.headers["Content-Encoding"] == "gzip"
        assert b"project-with-a-long-name-11" in gzip.decompress(page.body)
    plain = raw.get("/simple/", headers=bob).headers["ETag"]
    for etag in (plain, page.headers["ETag"]):
        for encoding in ({}, GZIP):
            answer = raw.get("/simple/", {**bob, **encoding, "If-None-Match": etag}, 304)
            assert answer.headers["ETag"] == etag and not answer.fast


def test_a_private_project_stays_out_of_the_gzip_index(big):
    upload(big.testapp, "secret", "1.0")  # bob and dave only
    for user, sees in (("bob", True), ("carol", False)):
        for _ in range(2):
            page = big.get("/simple/", headers={**auth(user), **GZIP})
            assert (b"secret" in gzip.decompress(page.body)) is sees, user
    big.get("/simple/secret/", headers={**auth("carol"), **GZIP}, status=404)
    assert b"secret" not in big.testapp.get("/simple/", headers=auth("carol")).body
