"""The fallback in each mode against a real upstream index on a free port (StaticIndex)."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time

import pytest

from tests.functional.conftest import auth, upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
BOB = auth("bob")


@pytest.fixture
def cache_app(make_app, static_index):
    def factory(**extra: str):
        settings = {"pypi.fallback": "cache", "pypi.fallback_url": static_index.simple_url}
        settings.update(extra)
        return make_app(**settings)

    return factory


def services(app):
    return app.app.registry.services


def test_start_up_says_which_mode_and_where(make_app, static_index, caplog):
    caplog.set_level("INFO", logger="pypicloud.upstream.service")
    make_app(**{"pypi.fallback": "cache", "pypi.fallback_url": static_index.simple_url})
    assert f"upstream fallback: cache to {static_index.simple_url}" in caplog.text


def test_a_bad_value_stops_start_up_with_one_line(tmp_path):
    from pypicloud import main
    from tests.functional.conftest import base_settings

    settings = {**base_settings(tmp_path), "pypi.fallback_min_age": "soon"}
    with pytest.raises(SystemExit) as stopped:
        main({"here": str(tmp_path)}, **settings)
    assert str(stopped.value) == (
        "pypicloud cannot start: setting 'pypi.fallback_min_age': "
        "expected a duration such as 3d, 12h or 600s, got 'soon'"
    )


# -- none and redirect -------------------------------------------------------------------


def test_none_answers_404_and_never_asks(make_app, static_index):
    static_index.add("requests", "2.0")
    app = make_app(**{"pypi.fallback": "none", "pypi.fallback_url": static_index.simple_url})
    app.get("/simple/requests/", headers=BOB, status=404)
    assert static_index.seen() == []


def test_redirect_sends_clients_to_the_upstream(make_app, static_index):
    app = make_app(**{"pypi.fallback": "redirect", "pypi.fallback_url": static_index.simple_url})
    for url in ("/simple/requests/", "/pypi/requests/"):
        found = app.get(url, headers=BOB, status=302)
        assert found.location == static_index.simple_url + "requests/"
    found = app.get("/pypi/requests/json", headers=BOB, status=302)
    assert found.location == static_index.url + "/pypi/requests/json"
    found = app.get("/pypi/requests/2.0/json", headers=BOB, status=302)
    assert found.location == static_index.url + "/pypi/requests/2.0/json"
    app.get("/pypi/requests/2.0%0d%0aX:%20y/json", headers=BOB, status=404)
    assert static_index.seen() == []  # a redirect costs the upstream nothing


def test_redirect_never_leaks_to_a_reader_without_permission(make_app, static_index):
    app = make_app(**{"pypi.fallback": "redirect", "pypi.fallback_url": static_index.simple_url})
    refused = app.get("/simple/requests/", status=401)
    assert "Location" not in refused.headers
    app.get("/pypi/requests/json", status=401)
    private = make_app(
        **{
            "pypi.fallback": "redirect",
            "pypi.fallback_url": static_index.simple_url,
            "pypi.default_read": "devs",
        }
    )
    for url in ("/simple/requests/", "/pypi/requests/", "/pypi/requests/json"):
        hidden = private.get(url, headers=auth("carol"), status=404)  # not in devs
        assert "Location" not in hidden.headers
    private.get("/simple/requests/", headers=BOB, status=302)


def test_redirect_with_always_show_upstream_merges_upstream_links(make_app, static_index):
    static_index.add("mixed", "2.0")
    app = make_app(
        **{
            "pypi.fallback": "redirect",
            "pypi.fallback_url": static_index.simple_url,
            "pypi.always_show_upstream": "true",
        }
    )
    upload(app, "mixed", "1.0")
    files = app.get("/simple/mixed/", headers={**BOB, **JSON}).json["files"]
    assert {f["url"] for f in files} == {
        "http://localhost/api/package/mixed/mixed-1.0-py3-none-any.whl",
        f"{static_index.url}/files/mixed-2.0-py3-none-any.whl",
    }


def test_redirect_serves_a_local_project_itself(make_app, static_index):
    app = make_app(**{"pypi.fallback": "redirect", "pypi.fallback_url": static_index.simple_url})
    upload(app, "mine", "1.0")
    page = app.get("/simple/mine/", headers=BOB, status=200)
    assert "mine-1.0" in page.text
    app.get("/pypi/mine/json", headers=BOB, status=200)


# -- cache: listing ---------------------------------------------------------------------


def test_cache_lists_upstream_files_with_our_urls_and_their_facts(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0", yanked="bad build")
    app = cache_app()
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    (entry,) = page["files"]
    assert entry["url"] == f"http://localhost/api/package/public-dep/{filename}"
    assert entry["yanked"] == "bad build"
    assert entry["requires-python"] == ">=3.8"
    assert entry["size"] == len(static_index.blobs[filename])
    assert entry["upload-time"].endswith("Z")
    assert entry["core-metadata"]["sha256"]
    assert page["versions"] == ["1.0"]
    html = app.get("/simple/public-dep/", headers=BOB)
    assert html.headers["X-PyPI-Upstream"] == "fresh"
    assert f"/api/package/public-dep/{filename}#sha256=" in html.text
    assert 'data-requires-python="&gt;=3.8"' in html.text
    assert 'data-yanked="bad build"' in html.text
    assert "data-core-metadata=" in html.text
    info = app.get("/pypi/public-dep/json", headers=BOB).json
    assert info["info"]["version"] == "1.0"
    assert info["releases"]["1.0"][0]["yanked_reason"] == "bad build"
    one = app.get("/pypi/public-dep/1.0/json", headers=BOB).json
    assert one["info"]["version"] == "1.0" and one["urls"][0]["filename"] == filename
    app.get("/pypi/public-dep/3.0/json", headers=BOB, status=404)


def test_an_html_only_upstream_works_too(cache_app, static_index):
    static_index.json = False
    filename = static_index.add("public-dep", "1.0")
    app = cache_app()
    assert filename in app.get("/simple/public-dep/", headers=BOB).text
    app.get(f"/api/package/public-dep/{filename}", headers=BOB, status=200)


def test_a_project_missing_upstream_is_404(cache_app, static_index):
    app = cache_app()
    app.get("/simple/nowhere/", headers=BOB, status=404)


def test_pages_are_reused_then_revalidated(cache_app, static_index):
    static_index.add("public-dep", "1.0")
    app = cache_app(**{"pypi.package_max_age": "3600"})
    for _ in range(3):
        app.get("/simple/public-dep/", headers=BOB)
    assert len(static_index.seen("/simple/public-dep/")) == 1
    app = cache_app()  # max age 0: every page view revalidates with If-None-Match
    app.get("/simple/public-dep/", headers=BOB)
    app.get("/simple/public-dep/", headers=BOB)
    assert static_index.not_modified == 1


def test_our_own_etag_answers_304(cache_app, static_index):
    static_index.add("public-dep", "1.0")
    app = cache_app()
    first = app.get("/simple/public-dep/", headers=BOB)
    app.get("/simple/public-dep/", headers={**BOB, "If-None-Match": first.etag}, status=304)


# -- dependency confusion ----------------------------------------------------------------


def test_a_local_name_is_served_local_only_with_no_upstream_request(cache_app, static_index):
    static_index.add("acme-core", "9.0")
    app = cache_app()
    upload(app, "acme-core", "1.0")
    page = app.get("/simple/acme-core/", headers=BOB)
    assert "acme_core-1.0" in page.text and "9.0" not in page.text
    app.get("/api/package/acme-core/acme_core-9.0-py3-none-any.whl", headers=BOB, status=404)
    app.get("/pypi/acme-core/json", headers=BOB, status=200)
    admin = auth("alice")
    app.get("/simple/acme-core/", headers=admin)
    assert static_index.seen() == []


def test_disallowed_and_not_allowed_names_never_reach_the_upstream(cache_app, static_index):
    static_index.add("acme-secret", "1.0")
    static_index.add("leftpad", "1.0")
    app = cache_app(
        **{"pypi.disallow_fallback": "Acme_*", "pypi.fallback_allow": "acme-secret requests"}
    )
    for name in ("acme-secret", "leftpad"):
        app.get(f"/simple/{name}/", headers=auth("alice"), status=404)
        app.get(f"/pypi/{name}/json", headers=auth("alice"), status=404)
        app.get(
            f"/api/package/{name}/{name.replace('-', '_')}-1.0-py3-none-any.whl",
            headers=auth("alice"),
            status=404,
        )
    assert static_index.seen() == []


def test_always_show_upstream_never_shadows_a_local_version(cache_app, static_index):
    static_index.add("mixed", "1.0")
    static_index.add("mixed", "2.0")
    app = cache_app(**{"pypi.always_show_upstream": "true"})
    upload(app, "mixed", "1.0")
    local_sha = services(app).packages.files("mixed")[0].sha256
    files = app.get("/simple/mixed/", headers={**BOB, **JSON}).json["files"]
    by_name = {f["filename"]: f for f in files}
    assert set(by_name) == {"mixed-1.0-py3-none-any.whl", "mixed-2.0-py3-none-any.whl"}
    assert by_name["mixed-1.0-py3-none-any.whl"]["hashes"]["sha256"] == local_sha


# -- cache: filling ----------------------------------------------------------------------


def test_the_first_download_stores_the_file_as_an_upload_would(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0")
    app = cache_app()
    app.get("/simple/public-dep/", headers=BOB)
    body = app.get(f"/api/package/public-dep/{filename}", headers=BOB).body
    assert body == static_index.blobs[filename]
    (stored,) = services(app).packages.files("public-dep")
    assert stored.sha256 == hashlib.sha256(body).hexdigest()
    assert stored.data["uploader"] == "(upstream)"
    assert stored.requires_python is None or stored.requires_python
    app.get(f"/api/package/public-dep/{filename}", headers=BOB)
    assert len(static_index.seen("/files/")) == 1
    # A cached project still follows the upstream: a new release is listed.
    static_index.add("public-dep", "2.0")
    files = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json["files"]
    assert sorted(f["filename"] for f in files) == [filename, "public_dep-2.0-py3-none-any.whl"]


def test_a_sha256_mismatch_stores_nothing(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0", corrupt=True)
    app = cache_app()
    app.get(f"/api/package/public-dep/{filename}", headers=BOB, status=502)
    assert services(app).packages.files("public-dep") == []


def test_concurrent_first_downloads_fetch_once(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0")
    static_index.delay = 0.2
    app = cache_app()
    upstream = services(app).upstream
    entry = upstream.client.project("public-dep").files[0]
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(upstream.mirror.fill("public-dep", entry)))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({p.filename for p in results}) == 1 and results[0].filename == filename
    assert len(static_index.seen("/files/")) == 1


def test_users_outside_cache_update_are_sent_upstream_without_filling(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0")
    app = cache_app(**{"pypi.cache_update": "devs"})
    passed = app.get(f"/api/package/public-dep/{filename}", headers=auth("carol"), status=302)
    assert passed.location == f"{static_index.url}/files/{filename}"
    assert services(app).packages.files("public-dep") == []
    streamed = cache_app(**{"pypi.cache_update": "devs", "pypi.stream_files": "true"})
    body = streamed.get(f"/api/package/public-dep/{filename}", headers=auth("carol")).body
    assert body == static_index.blobs[filename]
    app.get(f"/api/package/public-dep/{filename}", headers=BOB, status=200)  # bob is in devs
    assert len(services(app).packages.files("public-dep")) == 1


def test_core_metadata_of_an_uncached_wheel_is_verified_and_served(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0")
    app = cache_app()
    got = app.get(f"/api/package/public-dep/{filename}.metadata", headers=BOB)
    assert got.body == static_index.blobs[filename + ".metadata"]
    assert services(app).packages.files("public-dep") == []


# -- cooldown ----------------------------------------------------------------------------


def test_the_cooldown_hides_new_upstream_files(cache_app, static_index):
    old = static_index.add("public-dep", "1.0", age=dt.timedelta(days=10))
    new = static_index.add("public-dep", "2.0", age=dt.timedelta(hours=1))
    app = cache_app(**{"pypi.fallback_min_age": "3d"})
    page = app.get("/simple/public-dep/", headers=BOB).text
    assert old in page and new not in page
    app.get(f"/api/package/public-dep/{new}", headers=BOB, status=404)
    exempt = cache_app(
        **{"pypi.fallback_min_age": "3d", "pypi.fallback_min_age_exempt": "public-*"}
    )
    assert new in exempt.get("/simple/public-dep/", headers=BOB).text


def test_cached_files_stay_listed_when_the_cooldown_would_hide_them(cache_app, static_index):
    new = static_index.add("public-dep", "2.0", age=dt.timedelta(hours=1))
    cache_app().get(f"/api/package/public-dep/{new}", headers=BOB)  # cached without cooldown
    app = cache_app(**{"pypi.fallback_min_age": "3d"})
    assert new in app.get("/simple/public-dep/", headers=BOB).text
    app.get(f"/api/package/public-dep/{new}", headers=BOB, status=200)


# -- upstream trouble --------------------------------------------------------------------


def test_a_dead_upstream_gives_502_or_the_last_good_copy(cache_app, static_index):
    static_index.add("public-dep", "1.0")
    app = cache_app()
    app.get("/simple/public-dep/", headers=BOB)
    static_index.stop()
    stale = app.get("/simple/public-dep/", headers=BOB)
    assert stale.headers["X-PyPI-Upstream"] == "stale"
    assert "public_dep-1.0" in stale.text
    app.get("/simple/other/", headers=BOB, status=502)


def test_a_slow_upstream_gives_504_and_local_projects_keep_answering(cache_app, static_index):
    static_index.add("public-dep", "1.0")
    static_index.delay = 1.5
    app = cache_app(**{"pypi.fallback_timeout": "1"})
    upload(app, "mine", "1.0")
    answers: list[int] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            app.get("/simple/public-dep/", headers=BOB, expect_errors=True).status_int
        )
    )
    slow.start()
    while not static_index.seen("/simple/public-dep/"):
        time.sleep(0.01)
    started = time.monotonic()
    app.get("/simple/mine/", headers=BOB, status=200)  # while the upstream call hangs
    assert time.monotonic() - started < 0.5
    slow.join()
    assert answers == [504]


def test_cached_files_are_served_while_the_upstream_is_down(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0")
    app = cache_app()
    app.get(f"/api/package/public-dep/{filename}", headers=BOB)
    static_index.stop()
    app.get(f"/api/package/public-dep/{filename}", headers=BOB, status=200)
    app.get("/pypi/public-dep/json", headers=BOB, status=200)
    fresh_process = cache_app()  # no copy of the page in memory: the local files answer
    page = fresh_process.get("/simple/public-dep/", headers=BOB)
    assert page.headers["X-PyPI-Upstream"] == "unavailable"
    assert filename in page.text


def test_upstream_calls_are_counted_in_the_metrics(cache_app, static_index):
    static_index.add("public-dep", "1.0")
    app = cache_app(**{"pypi.metrics": "everyone", "pypi.package_max_age": "0"})
    app.get("/simple/public-dep/", headers=BOB)
    app.get("/simple/not-upstream/", headers=BOB, status=404)
    text = app.get("/metrics").text
    assert 'pypicloud_upstream_requests_total{mode="cache",outcome="ok"} 1.0' in text
    assert 'pypicloud_upstream_requests_total{mode="cache",outcome="http_404"} 1.0' in text


def test_a_non_normalized_upstream_name_redirects_to_the_normalized_json_url(
    cache_app, static_index
):
    static_index.add("public-dep", "1.0")
    app = cache_app()
    moved = app.get("/pypi/Public_Dep/json", headers=BOB, status=301)
    assert moved.location.endswith("/pypi/public-dep/json")
    assert static_index.seen() == []  # deciding to redirect asks the upstream nothing
    assert app.get(moved.location, headers=BOB).json["info"]["name"] == "public-dep"
