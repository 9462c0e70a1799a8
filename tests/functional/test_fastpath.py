"""The fast path (pypicloud/fastpath.py) answers what the views would, and nothing more.

Every test first makes the view fill the fast path's store (one request), then checks
that a second request answered from the store still honours permissions and changes.
"""

from __future__ import annotations

from wsgiref.util import FileWrapper

import pytest

from pypicloud.settings import ConfigError
from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, upload, within_serial_bound
from tests.functional.views.test_accounts import PW, register, sql_app  # noqa: F401

ROUTE = "pypicloud.route"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def fast(response) -> bool:
    """Whether the fast path answered (it names the route in the environ)."""
    return ROUTE in response.request.environ


@pytest.fixture
def filled(app):
    upload(app, "alpha", "1.0")
    upload(app, "secret", "1.0")  # bob and dave only
    return app


def test_a_repeated_index_and_project_page_come_from_the_fast_path(filled):
    for url, headers in (
        ("/simple/", auth("bob")),
        ("/simple/alpha/", auth("bob")),
        ("/simple/alpha/", {**auth("bob"), **JSON}),
        ("/pypi/alpha/", auth("bob")),
        ("/pypi/alpha/json", auth("bob")),
    ):
        first = filled.get(url, headers=headers)
        second = filled.get(url, headers=headers)
        assert not fast(first) and fast(second), url
        assert second.body == first.body
        assert second.headers["Content-Type"] == first.headers["Content-Type"]
        assert second.headers.get("ETag") == first.headers.get("ETag")


def test_the_index_is_cached_per_viewer_and_never_leaks_a_private_project(filled):
    assert "secret" in filled.get("/simple/", headers=auth("bob")).text
    assert "secret" in filled.get("/simple/", headers=auth("bob")).text
    for _ in range(2):
        page = filled.get("/simple/", headers=auth("carol"))
        assert "alpha" in page.text and "secret" not in page.text
    assert fast(page)


def test_a_cached_private_project_page_is_refused_to_others(filled):
    filled.get("/simple/secret/", headers=auth("bob"))
    assert fast(filled.get("/simple/secret/", headers=auth("bob")))
    filled.get("/simple/secret/", headers=auth("carol"), status=404)
    filled.get("/simple/secret/", status=401)
    filled.get("/simple/secret/", headers=auth("bob", "wrong"), status=401)
    filled.get("/pypi/secret/json", headers=auth("carol"), status=404)
    assert fast(filled.get("/simple/secret/", headers=auth("dave")))


def test_a_cached_private_file_is_refused_to_others(filled):
    url = f"/api/package/secret/{wheel_name('secret', '1.0')}"
    assert filled.get(url, headers=auth("bob")).body == wheel_bytes("secret", "1.0")
    assert fast(filled.get(url, headers=auth("bob")))
    filled.get(url, headers=auth("carol"), status=404)
    filled.get(url, status=401)


def test_anonymous_reads_of_a_public_index_are_served_fast_private_ones_refused(make_app):
    app = make_app(**{"pypi.default_read": "everyone"})
    upload(app, "alpha", "1.0")
    upload(app, "secret", "1.0")
    app.get("/simple/")
    page = app.get("/simple/")
    assert fast(page) and "alpha" in page.text and "secret" not in page.text
    app.get("/simple/secret/", headers=auth("bob"))
    app.get("/simple/secret/", status=401)


def test_uploads_deletes_and_yanks_show_at_once(filled):
    bob = auth("bob")
    filled.get("/simple/", headers=bob)
    filled.get("/simple/alpha/", headers=bob)
    upload(filled, "gamma", "1.0")
    upload(filled, "alpha", "2.0")
    assert "gamma" in filled.get("/simple/", headers=bob).text
    assert "alpha-2.0" in filled.get("/simple/alpha/", headers=bob).text
    filled.get("/simple/alpha/", headers=bob)
    filled.patch_json(
        f"/api/package/alpha/{wheel_name('alpha', '2.0')}", {"yanked": True}, headers=bob
    )
    assert "data-yanked" in filled.get("/simple/alpha/", headers=bob).text
    filled.delete(f"/api/package/alpha/{wheel_name('alpha', '2.0')}", headers=bob)
    assert "alpha-2.0" not in filled.get("/simple/alpha/", headers=bob).text
    filled.get(f"/api/package/alpha/{wheel_name('alpha', '2.0')}", headers=bob, status=404)


def test_a_cached_page_answers_304_on_the_fast_path(filled):
    etag = filled.get("/simple/alpha/", headers=auth("carol")).headers["ETag"]
    again = filled.get(
        "/simple/alpha/", headers={**auth("carol"), "If-None-Match": etag}, status=304
    )
    assert fast(again) and again.headers["ETag"] == etag and again.body == b""
    other = filled.get("/simple/alpha/", headers={**auth("carol"), "If-None-Match": '"x"'})
    assert fast(other) and other.status_int == 200


def test_grants_changed_through_the_api_show_at_once(sql_app):  # noqa: F811
    register(sql_app, "root")
    admin = auth("root", PW)
    sql_app.put_json("/admin/user/carol", {"password": PW}, headers=admin)
    upload(sql_app, "secret", "1.0", user="root", password=PW)
    sql_app.put("/admin/package/secret/user/root/write", headers=admin)
    carol = auth("carol", PW)
    url = f"/api/package/secret/{wheel_name('secret', '1.0')}"
    for _ in range(2):
        assert "secret" not in sql_app.get("/simple/", headers=carol).text
        sql_app.get("/simple/secret/", headers=carol, status=404)
    sql_app.put("/admin/package/secret/user/carol/read", headers=admin)
    for _ in range(2):
        assert "secret" in sql_app.get("/simple/", headers=carol).text
        sql_app.get("/simple/secret/", headers=carol)
        sql_app.get(url, headers=carol)
    sql_app.delete("/admin/package/secret/user/carol/read", headers=admin)
    assert "secret" not in sql_app.get("/simple/", headers=carol).text
    sql_app.get("/simple/secret/", headers=carol, status=404)
    sql_app.get(url, headers=carol, status=404)


def test_a_project_scoped_token_sees_only_its_projects(sql_app):  # noqa: F811
    register(sql_app, "root")
    upload(sql_app, "alpha", "1.0", user="root", password=PW)
    upload(sql_app, "beta", "1.0", user="root", password=PW)
    root = auth("root", PW)
    sql_app.get("/simple/", headers=root)
    sql_app.get("/simple/beta/", headers=root)
    assert fast(sql_app.get("/simple/beta/", headers=root))
    secret = sql_app.post_json("/api/tokens", {"projects": ["alpha"]}, headers=root).json["token"]
    token = auth("__token__", secret)
    for _ in range(2):
        index = sql_app.get("/simple/", headers=token)
        assert "alpha" in index.text and "beta" not in index.text
        sql_app.get("/simple/beta/", headers=token, status=404)


def test_whole_files_go_to_the_servers_file_wrapper_ranges_do_not(filled):
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    body = wheel_bytes("alpha", "1.0")
    environ = {"wsgi.file_wrapper": FileWrapper}
    whole = filled.get(url, headers=auth("bob"), extra_environ=environ)
    assert whole.body == body and whole.content_length == len(body)
    ranged = filled.get(
        url, headers={**auth("bob"), "Range": "bytes=2-5"}, extra_environ=environ, status=206
    )
    assert ranged.body == body[2:6]
    assert filled.head(url, headers=auth("bob"), extra_environ=environ).body == b""


def test_with_the_fast_path_off_nothing_is_answered_early(make_app):
    app = make_app(**{"pypi.fast_path": "false"})
    upload(app, "alpha", "1.0")
    app.get("/simple/", headers=auth("bob"))
    assert not fast(app.get("/simple/", headers=auth("bob")))


def test_an_upload_through_another_instance_shows_within_the_serial_bound(make_app):
    first, second = make_app(**{"db.serial_cache_ms": "300"}), make_app()
    bob = auth("bob")
    assert "beta" not in first.get("/simple/", headers=bob).text
    first.get("/simple/", headers=bob)
    upload(second, "beta", "1.0")
    within_serial_bound(lambda: "beta" in first.get("/simple/", headers=bob).text, 300)
    assert "beta-1.0" in first.get("/simple/beta/", headers=bob).text


def test_with_no_serial_cache_another_instances_upload_shows_at_once(make_app):
    first, second = make_app(**{"db.serial_cache_ms": "0"}), make_app()
    first.get("/simple/", headers=auth("bob"))
    first.get("/simple/", headers=auth("bob"))
    upload(second, "beta", "1.0")
    assert "beta" in first.get("/simple/", headers=auth("bob")).text


def test_a_bad_fast_path_value_stops_start_up_naming_the_key(make_app):
    with pytest.raises(ConfigError, match="pypi.fast_path"):
        make_app(**{"pypi.fast_path": "sometimes"})


def test_anonymous_and_signed_in_answers_keep_their_own_cache_headers(make_app):
    app = make_app(**{"pypi.default_read": "everyone"})
    upload(app, "alpha", "1.0")
    for url in ("/simple/", "/simple/alpha/", "/pypi/alpha/json"):
        for _ in range(2):  # the second of each comes from the fast path
            anonymous = app.get(url)
            signed_in = app.get(url, headers=auth("bob"))
        assert fast(anonymous) and fast(signed_in), url
        assert "public" in anonymous.headers.get("Cache-Control", "public"), url
        assert "public" not in signed_in.headers.get("Cache-Control", ""), url


def test_upstream_pages_are_never_kept_by_serial(make_app, static_index):
    static_index.add("public-dep", "1.0")
    app = make_app(
        **{
            "pypi.fallback": "cache",
            "pypi.fallback_url": static_index.simple_url,
            "pypi.package_max_age": "0",
        }
    )
    first = app.get("/simple/public-dep/", headers=auth("bob"))
    assert "public_dep-1.0" in first.text and not fast(first)
    static_index.add("public-dep", "2.0")  # the upstream changes; our serial does not
    second = app.get("/simple/public-dep/", headers=auth("bob"))
    assert not fast(second) and "public_dep-2.0" in second.text


def test_a_malformed_range_on_the_fast_path_serves_the_whole_file(make_app):
    """NewRequest subscribers (which drop a malformed Range) do not run on the fast path."""
    app = make_app(**{"pypi.metrics": "off"})
    upload(app, "alpha", "1.0")
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    app.get(url, headers=auth("bob"))
    whole = app.get(url, headers={**auth("bob"), "Range": "bytes=-"})
    assert fast(whole) and whole.status_int == 200
    assert whole.body == wheel_bytes("alpha", "1.0")


def test_a_file_record_is_counted_at_no_less_than_the_memory_it_holds(filled):
    """The store's byte bound holds only if a file record is counted at its real size."""
    import tracemalloc

    from pypicloud.fastpath import FILE_RECORD_BYTES, download_record

    packages = filled.app.registry.services.packages
    filename = wheel_name("alpha", "1.0")
    packages.fetch("alpha", filename)  # warm: compiled statements, interned names
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        records = [
            ("file", "alpha", filename, download_record(packages.fetch("alpha", filename)))
            for _ in range(200)
        ]
        held = (tracemalloc.get_traced_memory()[0] - before) / len(records)
    finally:
        tracemalloc.stop()
    assert records[-1][3] is not None
    assert held <= FILE_RECORD_BYTES, held
    print(f"a file record holds {held:.0f} bytes")
