"""The front door (pypicloud/frontdoor.py) answers before Pyramid only what the views would.

Each test counts the requests that reach Pyramid: a page or file the front door answered
never does, and everything it must not answer (a refusal, a range, a validator, HEAD, a
cookie, a quarantined file) does, and gets the view's answer.
"""

from __future__ import annotations

import random
from wsgiref.util import FileWrapper

import pytest
from webtest import TestApp

from pypicloud import make_config
from pypicloud.fastpath import PageStore
from pypicloud.frontdoor import FrontDoor
from pypicloud.security import IDENTITY_KEY
from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, base_settings, upload

#: Past SMALL_FILE_BYTES once zipped (random bytes do not deflate): the file wrapper sends it.
BIG = random.Random(0).randbytes(200 * 1024)


class Counting:
    """The Pyramid application, counting the requests that reach it."""

    def __init__(self, app):
        self.app = app
        self.environs: list[dict] = []

    def __call__(self, environ, start_response):
        self.environs.append(environ)
        return self.app(environ, start_response)


@pytest.fixture
def door(tmp_path):
    def build(**overrides: str):
        settings = {**base_settings(tmp_path), **overrides}
        config = make_config(settings, here=str(tmp_path), environ={})
        config.registry.services.packages.rebuilder.wait()
        pyramid = Counting(config.make_wsgi_app())
        app = TestApp(FrontDoor(pyramid, config.registry.fast_path))
        upload(app, "alpha", "1.0")
        upload(app, "secret", "1.0")  # bob and dave only
        upload(app, "big", "1.0", content=wheel_bytes("big", "1.0", extra={"big/data": BIG}))
        pyramid.environs.clear()
        return app, pyramid

    return build


def reached(pyramid: Counting, before: int) -> int:
    return len(pyramid.environs) - before


@pytest.mark.parametrize(
    "url,headers",
    [
        ("/simple/", {}),
        ("/simple/alpha/", {}),
        ("/simple/alpha/", {"Accept": "application/vnd.pypi.simple.v1+json"}),
        ("/simple/alpha/", {"Accept-Encoding": "gzip"}),
        ("/pypi/alpha/", {}),
        ("/pypi/alpha/json", {}),
    ],
)
def test_a_page_seen_once_is_answered_without_pyramid(door, url, headers):
    app, pyramid = door()
    headers = {**auth("bob"), **headers}
    first = app.get(url, headers=headers)
    before = len(pyramid.environs)
    second = app.get(url, headers=headers)
    assert reached(pyramid, before) == 0
    assert second.body == first.body
    for name in ("Content-Type", "ETag", "Cache-Control", "Vary", "Content-Encoding"):
        assert second.headers.get(name) == first.headers.get(name), name


def test_refusals_go_to_pyramid_and_never_show_a_private_page(door):
    app, pyramid = door()
    app.get("/simple/secret/", headers=auth("bob"))
    before = len(pyramid.environs)
    for headers, status in (
        (auth("carol"), 404),  # may not read: not even its existence
        ({}, 401),
        (auth("bob", "wrong"), 401),
    ):
        refused = app.get("/simple/secret/", headers=headers, status=status)
        assert b"secret-1.0" not in refused.body
    assert reached(pyramid, before) == 3
    index = app.get("/simple/", headers=auth("carol"))
    again = app.get("/simple/", headers=auth("carol"))
    assert "secret" not in index.text and again.body == index.body


def test_the_identity_found_at_the_door_is_the_one_pyramid_uses(door):
    app, pyramid = door()
    app.get("/simple/alpha/", headers=auth("bob"))  # a miss: the door asked, then Pyramid
    assert pyramid.environs[-1][IDENTITY_KEY].username == "bob"
    app.get("/simple/alpha/", headers={"Cookie": "session=x"}, status=401)
    assert IDENTITY_KEY not in pyramid.environs[-1]  # a cookie: Pyramid reads the session


def test_a_304_for_a_remembered_page_comes_from_the_door(door):
    app, pyramid = door()
    etag = app.get("/simple/alpha/", headers=auth("bob")).headers["ETag"]
    before = len(pyramid.environs)
    again = app.get("/simple/alpha/", headers={**auth("bob"), "If-None-Match": etag}, status=304)
    assert again.headers["ETag"] == etag and again.body == b""
    assert reached(pyramid, before) == 0


def test_whole_files_small_and_large_are_sent_by_the_door(door):
    app, pyramid = door()
    environ = {"wsgi.file_wrapper": FileWrapper}
    for name in ("alpha", "big"):
        url = f"/api/package/{name}/{wheel_name(name, '1.0')}"
        viewed = app.get(url, headers={**auth("bob"), "Range": "bytes=0-"}, status=206)
        before = len(pyramid.environs)
        whole = app.get(url, headers=auth("bob"), extra_environ=environ)
        assert reached(pyramid, before) == 0
        assert whole.body == viewed.body and whole.content_length == len(whole.body)
        assert whole.headers["ETag"] == viewed.headers["ETag"]
        assert whole.headers["Content-Disposition"] == viewed.headers["Content-Disposition"]


@pytest.mark.parametrize("ask", ["range", "etag", "since"])
def test_conditional_and_ranged_downloads_go_to_pyramid(door, ask):
    app, pyramid = door()
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    first = app.get(url, headers=auth("bob"))
    headers, status = {
        "range": ({"Range": "bytes=2-5"}, 206),
        "etag": ({"If-None-Match": first.headers["ETag"]}, 304),
        "since": ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304),
    }[ask]
    before = len(pyramid.environs)
    app.get(url, headers={**auth("bob"), **headers}, status=status)
    app.head(url, headers=auth("bob"))
    assert reached(pyramid, before) == 2


def test_a_quarantined_projects_file_is_left_to_the_view(door):
    app, pyramid = door()
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    app.get(url, headers=auth("bob"))
    app.put_json("/api/package/alpha/status", {"status": "quarantined"}, headers=auth("alice"))
    before = len(pyramid.environs)
    app.get(url, headers=auth("bob"), status=404)
    assert reached(pyramid, before) == 1


def test_a_private_file_is_refused_at_the_door_as_by_the_view(door):
    app, pyramid = door()
    url = f"/api/package/secret/{wheel_name('secret', '1.0')}"
    assert app.get(url, headers=auth("bob")).body == wheel_bytes("secret", "1.0")
    app.get(url, headers=auth("carol"), status=404)
    app.get(url, status=401)


def test_front_door_answers_are_counted_for_metrics(door):
    app, _ = door(**{"pypi.metrics": "everyone"})
    for _ in range(3):
        app.get("/simple/alpha/", headers=auth("bob"))
    text = app.get("/metrics").text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("pypicloud_http_requests_total{")
        and 'route="simple_project"' in line
        and 'status="200"' in line
    )
    assert line.endswith(" 3.0")


def test_an_access_backend_failure_is_left_to_pyramid(door, monkeypatch):
    app, pyramid = door()
    access = app.app.registry.services.access

    def down(*_args):
        raise ConnectionError("directory unreachable")

    monkeypatch.setattr(access, "verify_user", down)
    before = len(pyramid.environs)
    with pytest.raises(ConnectionError):
        app.get("/simple/alpha/", headers=auth("carol"))  # not remembered: verified anew
    assert reached(pyramid, before) == 1  # Pyramid asked again, its error handling applies
    monkeypatch.undo()
    assert b"alpha-1.0" in app.get("/simple/alpha/", headers=auth("carol")).body


def test_revalidating_an_evicted_page_brings_it_back_to_the_door(door):
    app, pyramid = door()
    fast = app.app.fast
    for url, headers in (
        ("/simple/alpha/", auth("bob")),
        ("/simple/", auth("bob")),
        ("/simple/alpha/", {**auth("bob"), "Accept-Encoding": "gzip"}),
    ):
        etag = app.get(url, headers=headers).headers["ETag"]
        fast.store = PageStore()  # evicted (a full store, many projects)
        before = len(pyramid.environs)
        asked = {**headers, "If-None-Match": etag}
        first = app.get(url, headers=asked, status=304)
        second = app.get(url, headers=asked, status=304)
        assert reached(pyramid, before) == 1, url  # the second came from the door
        assert first.headers["ETag"] == second.headers["ETag"] == etag and first.body == b""
        assert app.get(url, headers={**headers, "If-None-Match": '"other"'}).status_int == 200


def test_an_object_store_file_is_opened_once_by_the_view_not_by_the_door(door):
    """An object store's open() is a request of its own: the door leaves such files."""
    app, pyramid = door()
    services = app.app.fast.services

    class Counted:  # any storage but FileStorage
        def __init__(self, inner):
            self.inner, self.opened = inner, 0

        def open(self, package):
            self.opened += 1
            return self.inner.open(package)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    storage = Counted(services.storage)
    services.storage = services.packages.storage = storage
    other = TestApp(FrontDoor(pyramid, app.app.fast))
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    before = len(pyramid.environs)
    assert other.get(url, headers=auth("bob")).body == wheel_bytes("alpha", "1.0")
    assert storage.opened == 1 and reached(pyramid, before) == 1
