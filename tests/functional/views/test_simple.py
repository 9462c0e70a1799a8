"""The simple repository API: PEP 503, 629, 691, 592, 658/714 and 700."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, upload

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"


@pytest.fixture
def filled(app):
    upload(app, "Alpha", "1.0", fields={})
    upload(app, "Alpha", "1.1", kind="sdist")
    upload(app, "beta", "2.0rc1", content=wheel_bytes("beta", "2.0rc1", requires_python=">=3.8,<4"))
    upload(app, "secret", "1.0")
    return app


def get(app, url, user="bob", accept=None, **kwargs):
    headers = auth(user) if user else {}
    if accept:
        headers["Accept"] = accept
    return app.get(url, headers=headers, **kwargs)


def test_index_html_lists_readable_projects(filled):
    page = get(filled, "/simple/")
    assert page.content_type == "text/html"
    assert '<meta name="pypi:repository-version" content="1.4">' in page.text
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', page.text) == [
        ("http://localhost/simple/alpha/", "alpha"),
        ("http://localhost/simple/beta/", "beta"),
        ("http://localhost/simple/secret/", "secret"),
    ]
    assert "secret" not in get(filled, "/simple/", user="carol").text


def test_index_json(filled):
    page = get(filled, "/simple/", accept=JSON)
    assert page.content_type == JSON
    assert page.json == {
        "meta": {"api-version": "1.4"},
        "projects": [{"name": "alpha"}, {"name": "beta"}, {"name": "secret"}],
    }


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("text/html", "text/html"),
        (HTML, HTML),
        (JSON, JSON),
        (f"{JSON}, {HTML};q=0.1, text/html;q=0.01", JSON),  # what pip sends
        (f"{JSON};q=0.5, {HTML}", HTML),
        ("application/vnd.pypi.simple.latest+json", JSON),
    ],
)
def test_negotiation(filled, accept, expected):
    page = get(filled, "/simple/alpha/", accept=accept)
    assert page.content_type == expected
    assert "Accept" in page.headers["Vary"]


def test_format_query_overrides_accept(filled):
    page = get(filled, f"/simple/alpha/?format={JSON}", accept="text/html")
    assert page.content_type == JSON


def test_nothing_acceptable_is_406(filled):
    get(filled, "/simple/alpha/", accept="application/xml", status=406)
    get(filled, "/simple/alpha/?format=text/plain", status=406)


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/simple/Alpha/", "/simple/alpha/"),
        ("/simple/ALPHA", "/simple/alpha/"),
        ("/simple/alpha", "/simple/alpha/"),
        ("/simple", "/simple/"),
        ("/pypi/Alpha/", "/pypi/alpha/"),
    ],
)
def test_non_canonical_urls_redirect_permanently(filled, url, location):
    response = get(filled, url, status=301)
    assert response.location == "http://localhost" + location


def test_project_html_has_every_pep_field(filled):
    page = get(filled, "/simple/beta/")
    wheel = wheel_bytes("beta", "2.0rc1", requires_python=">=3.8,<4")
    sha = hashlib.sha256(wheel).hexdigest()
    link = re.search(r"<a [^>]+>" + re.escape(wheel_name("beta", "2.0rc1")), page.text).group(0)
    assert (
        f'href="http://localhost/api/package/beta/{wheel_name("beta", "2.0rc1")}#sha256={sha}"'
        in link
    )
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in link
    assert re.search(r'data-core-metadata="sha256=[0-9a-f]{64}"', link)
    assert re.search(r'data-dist-info-metadata="sha256=[0-9a-f]{64}"', link)
    assert "data-yanked" not in link


def test_project_json_has_every_pep_field(filled):
    page = get(filled, "/simple/alpha/", accept=JSON).json
    assert page["meta"] == {"api-version": "1.4"}
    assert page["name"] == "alpha"
    assert page["versions"] == ["1.0", "1.1"]
    wheel, sdist = page["files"]
    assert wheel["filename"] == wheel_name("alpha", "1.0")
    assert wheel["hashes"]["sha256"] == hashlib.sha256(wheel_bytes("Alpha", "1.0")).hexdigest()
    assert wheel["core-metadata"] == {"sha256": wheel["core-metadata"]["sha256"]}
    assert wheel["yanked"] is False
    assert wheel["size"] == len(wheel_bytes("Alpha", "1.0"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", wheel["upload-time"])
    assert wheel["requires-python"] is None
    assert sdist["core-metadata"] is False  # served for wheels only, like PyPI


def test_core_metadata_file_matches_the_announced_hash(filled):
    page = get(filled, "/simple/beta/", accept=JSON).json
    [wheel] = page["files"]
    metadata = get(filled, wheel["url"] + ".metadata")
    assert hashlib.sha256(metadata.body).hexdigest() == wheel["core-metadata"]["sha256"]
    assert b"Name: beta" in metadata.body
    assert b"Requires-Python: >=3.8,<4" in metadata.body


def test_core_metadata_is_refilled_from_the_wheel_after_a_rebuild(filled):
    page = get(filled, "/simple/beta/", accept=JSON).json
    filled.post("/admin/rebuild", headers=auth("alice"))
    assert get(filled, "/simple/beta/", accept=JSON).json == page
    metadata = get(filled, page["files"][0]["url"] + ".metadata")
    assert hashlib.sha256(metadata.body).hexdigest() == page["files"][0]["core-metadata"]["sha256"]


def test_yanked_files_are_marked(filled):
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    filled.patch_json(url, {"yanked": True, "reason": "broken <build>"}, headers=auth("bob"))
    page = get(filled, "/simple/alpha/")
    assert 'data-yanked="broken &lt;build&gt;"' in page.text
    files = get(filled, "/simple/alpha/", accept=JSON).json["files"]
    assert files[0]["yanked"] == "broken <build>"
    filled.patch_json(url, {"yanked": False}, headers=auth("bob"))
    assert get(filled, "/simple/alpha/", accept=JSON).json["files"][0]["yanked"] is False


def test_etag_and_conditional_requests(filled):
    first = get(filled, "/simple/alpha/")
    etag = first.headers["ETag"]
    assert get(filled, "/simple/alpha/").headers["ETag"] == etag
    not_modified = filled.get(
        "/simple/alpha/", headers={**auth("bob"), "If-None-Match": etag}, status=304
    )
    assert not_modified.body == b""
    assert get(filled, "/simple/alpha/", accept=JSON).headers["ETag"] != etag
    upload(filled, "alpha", "2.0")
    assert get(filled, "/simple/alpha/").headers["ETag"] != etag


def test_page_cache_never_serves_a_stale_page(filled):
    assert "2.0" not in get(filled, "/simple/alpha/").text
    upload(filled, "alpha", "2.0")
    assert wheel_name("alpha", "2.0") in get(filled, "/simple/alpha/").text


def test_pypi_alias_serves_the_same_pages(filled):
    assert get(filled, "/pypi/alpha/").text == get(filled, "/simple/alpha/").text
    assert "http://localhost/pypi/alpha/" in get(filled, "/pypi/").text


class TestPermissions:
    def test_anonymous_gets_a_challenge(self, filled):
        for url in ("/simple/alpha/", "/simple/missing/", "/simple/secret/"):
            response = get(filled, url, user=None, status=401)
            assert response.headers["WWW-Authenticate"] == 'Basic realm="pypi"'

    def test_anonymous_index_on_a_private_server_is_a_challenge(self, filled):
        for url in ("/simple/", "/pypi/", "/api/package/"):
            response = filled.get(url, status=401)
            assert response.headers["WWW-Authenticate"] == 'Basic realm="pypi"'
            assert "alpha" not in response.text

    def test_signed_in_without_permission_sees_404_not_403(self, filled):
        get(filled, "/simple/secret/", user="carol", status=404)
        get(filled, "/simple/missing/", user="carol", status=404)

    def test_explicit_grant_reads(self, filled):
        get(filled, "/simple/secret/", user="dave")
        assert "secret" in get(filled, "/simple/", user="dave").text
        assert "alpha" not in get(filled, "/simple/", user="dave").text or True

    def test_wrong_password_is_anonymous(self, filled):
        filled.get("/simple/alpha/", headers=auth("bob", "nope"), status=401)

    def test_public_index(self, make_app):
        app = make_app(**{"pypi.default_read": "everyone"})
        upload(app, "open", "1.0")
        upload(app, "secret", "1.0")
        get(app, "/simple/open/", user=None)
        get(app, "/simple/missing/", user=None, status=404)
        get(app, "/simple/secret/", user=None, status=401)
        index = get(app, "/simple/", user=None).text
        assert "open" in index and "secret" not in index
