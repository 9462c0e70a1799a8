"""PEP 792 project status on the pages the fallback serves, against a real upstream index
on a free port (StaticIndex): the upstream's status passed through (JSON and HTML, from a
JSON or an HTML upstream), a status set here winning, an upstream quarantine withdrawing
the upstream's files but never ours, and malformed statuses or api-versions ignored."""

from __future__ import annotations

import pytest

from tests.functional.conftest import auth, upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
BOB = auth("bob")
ALICE = auth("alice")


@pytest.fixture
def cache_app(make_app, static_index):
    def factory(**extra: str):
        settings = {"pypi.fallback": "cache", "pypi.fallback_url": static_index.simple_url}
        settings.update(extra)
        return make_app(**settings)

    return factory


def services(app):
    return app.app.registry.services


def head_of(html: str) -> str:
    return html.split("<title>")[0]


def meta_tags(html: str) -> list[str]:
    return [line.strip() for line in head_of(html).splitlines() if "<meta" in line]


# -- passed through -----------------------------------------------------------------------


@pytest.mark.parametrize("upstream_json", [True, False], ids=["json-upstream", "html-upstream"])
def test_the_upstream_status_is_passed_through_in_json_and_html(
    cache_app, static_index, upstream_json
):
    static_index.json = upstream_json
    filename = static_index.add("public-dep", "1.0")
    static_index.set_status("public-dep", "deprecated", 'use "other" & <go>')
    app = cache_app()
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["meta"] == {"api-version": "1.4"}
    assert page["project-status"] == {"status": "deprecated", "reason": 'use "other" & <go>'}
    assert [f["filename"] for f in page["files"]] == [filename]  # deprecated: installs
    html = app.get("/simple/public-dep/", headers=BOB).text
    assert meta_tags(html) == [
        '<meta name="pypi:repository-version" content="1.4">',
        '<meta name="pypi:project-status" content="deprecated">',
        '<meta name="pypi:project-status-reason" content="use &#34;other&#34; &amp; &lt;go&gt;">',
    ]
    assert filename in html


def test_an_upstream_without_a_status_is_active_and_its_html_unchanged(cache_app, static_index):
    static_index.add("public-dep", "1.0")
    app = cache_app()
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "active"}
    assert meta_tags(app.get("/simple/public-dep/", headers=BOB).text) == [
        '<meta name="pypi:repository-version" content="1.4">'
    ]


def test_a_status_change_upstream_shows_at_once_and_a_304_keeps_it(cache_app, static_index):
    static_index.add("public-dep", "1.0")
    static_index.set_status("public-dep", "archived")
    app = cache_app()  # package_max_age 0: every view revalidates
    first = app.get("/simple/public-dep/", headers={**BOB, **JSON})
    assert first.json["project-status"] == {"status": "archived"}
    again = app.get("/simple/public-dep/", headers={**BOB, **JSON})
    assert static_index.not_modified == 1  # the upstream said 304: the status is kept
    assert again.json["project-status"] == {"status": "archived"} and again.etag == first.etag
    static_index.set_status("public-dep", "deprecated", "gone")
    changed = app.get("/simple/public-dep/", headers={**BOB, **JSON})
    assert changed.json["project-status"] == {"status": "deprecated", "reason": "gone"}
    assert changed.etag != first.etag


# -- a status set here wins ---------------------------------------------------------------


def test_a_status_set_here_wins_over_the_upstreams(cache_app, static_index):
    filename = static_index.add("public-dep", "1.0")
    static_index.add("public-dep", "2.0")
    static_index.set_status("public-dep", "deprecated", "upstream says")
    app = cache_app()
    app.get(f"/api/package/public-dep/{filename}", headers=BOB)  # cached: known here now
    app.put_json(
        "/api/package/public-dep/status", {"status": "archived", "reason": "ours"}, headers=ALICE
    )
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "archived", "reason": "ours"}
    assert sorted(f["filename"] for f in page["files"]) == [
        filename,
        "public_dep-2.0-py3-none-any.whl",
    ]
    html = app.get("/simple/public-dep/", headers=BOB).text
    assert '<meta name="pypi:project-status" content="archived">' in html
    assert '<meta name="pypi:project-status-reason" content="ours">' in html
    # Quarantined here: the upstream is not even asked, and nothing is offered.
    app.put_json("/api/package/public-dep/status", {"status": "quarantined"}, headers=ALICE)
    asked = len(static_index.seen())
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "quarantined"} and page["files"] == []
    assert app.get("/pypi/public-dep/json", headers=BOB).json["urls"] == []
    app.get("/api/package/public-dep/public_dep-2.0-py3-none-any.whl", headers=ALICE, status=404)
    assert len(static_index.seen()) == asked


# -- an upstream quarantine ---------------------------------------------------------------


@pytest.mark.parametrize("upstream_json", [True, False], ids=["json-upstream", "html-upstream"])
def test_an_upstream_quarantine_offers_no_upstream_file(cache_app, static_index, upstream_json):
    static_index.json = upstream_json
    filename = static_index.add("public-dep", "1.0")
    static_index.set_status("public-dep", "quarantined", "malware")
    app = cache_app()
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert (page["files"], page["versions"]) == ([], [])
    html = app.get("/simple/public-dep/", headers=BOB).text
    assert "<a href" not in html
    assert '<meta name="pypi:project-status" content="quarantined">' in html
    legacy = app.get("/pypi/public-dep/json", headers=BOB).json
    assert (legacy["releases"], legacy["urls"]) == ({}, [])
    assert legacy["info"]["project_status"] == {"status": "quarantined", "reason": "malware"}
    app.get("/pypi/public-dep/1.0/json", headers=BOB, status=404)
    for user in (BOB, ALICE):  # nothing to inspect here: the file was never stored
        app.get(f"/api/package/public-dep/{filename}", headers=user, status=404)
        app.get(f"/api/package/public-dep/{filename}.metadata", headers=user, status=404)
    streamed = cache_app(**{"pypi.cache_update": "admins", "pypi.stream_files": "true"})
    streamed.get(f"/api/package/public-dep/{filename}", headers=BOB, status=404)
    assert static_index.seen("/files/") == []  # never fetched, filled or passed through
    assert services(app).packages.files("public-dep") == []


def test_cached_copies_are_withdrawn_from_listings_when_the_upstream_quarantines(
    cache_app, static_index
):
    filename = static_index.add("public-dep", "1.0")
    static_index.add("public-dep", "2.0")
    app = cache_app()
    app.get(f"/api/package/public-dep/{filename}", headers=BOB)  # a copy is stored
    static_index.projects["public-dep"].pop(0)  # and the upstream no longer lists it
    static_index.set_status("public-dep", "quarantined")
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["files"] == [] and page["project-status"] == {"status": "quarantined"}
    assert "<a href" not in app.get("/simple/public-dep/", headers=BOB).text
    assert app.get("/pypi/public-dep/json", headers=BOB).json["urls"] == []
    # The stored copy is not listed; asked for by URL it is still sent (stored files never
    # ask the upstream: quarantine the project here to refuse it too).
    app.get(f"/api/package/public-dep/{filename}", headers=BOB, status=200)
    static_index.set_status("public-dep", "active")
    files = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json["files"]
    assert sorted(f["filename"] for f in files) == [filename, "public_dep-2.0-py3-none-any.whl"]


@pytest.mark.parametrize("mode", ["cache", "redirect"])
def test_the_upstreams_status_never_touches_a_project_with_private_files(
    make_app, static_index, mode
):
    static_index.add("mixed", "2.0")
    static_index.set_status("mixed", "quarantined", "malware")
    app = make_app(
        **{
            "pypi.fallback": mode,
            "pypi.fallback_url": static_index.simple_url,
            "pypi.always_show_upstream": "true",
        }
    )
    upload(app, "mixed", "1.0")
    page = app.get("/simple/mixed/", headers={**BOB, **JSON}).json
    assert [f["filename"] for f in page["files"]] == ["mixed-1.0-py3-none-any.whl"]
    assert page["project-status"] == {"status": "active"}  # ours, not the namesake's
    html = app.get("/simple/mixed/", headers=BOB).text
    assert "pypi:project-status" not in html and html.count("<a href") == 1
    assert static_index.seen("/simple/mixed/")  # the merge did ask
    static_index.set_status("mixed", "deprecated")
    page = app.get("/simple/mixed/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "active"}
    assert len(page["files"]) == 2  # no longer quarantined upstream: merged again


# -- malformed statuses and api-versions ----------------------------------------------------


@pytest.mark.parametrize(
    "served",
    [
        "quarantined",  # not an object
        ["quarantined"],
        {"status": 3},
        {"status": "frozen"},  # not one of PEP 792's
        {"reason": "no status"},
        {"status": None},
    ],
)
def test_a_malformed_upstream_status_counts_as_none(cache_app, static_index, served, caplog):
    caplog.set_level("DEBUG", logger="pypicloud.upstream.parsing")
    filename = static_index.add("public-dep", "1.0")
    static_index.statuses["public-dep"] = served
    static_index.meta = {"api-version": "1.4"}
    app = cache_app()
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "active"}
    assert [f["filename"] for f in page["files"]] == [filename]
    if served != {"reason": "no status"} and served != {"status": None}:
        assert "project status" in caplog.text or "project-status" in caplog.text


def test_an_unknown_status_in_upstream_html_counts_as_none(cache_app, static_index):
    static_index.json = False
    filename = static_index.add("public-dep", "1.0")
    static_index.set_status("public-dep", "frozen", "whatever")
    app = cache_app()
    html = app.get("/simple/public-dep/", headers=BOB).text
    assert "pypi:project-status" not in html and filename in html


@pytest.mark.parametrize("reason", [5, "x\x00y", "r" * 401])
def test_a_malformed_reason_is_dropped_and_the_quarantine_kept(cache_app, static_index, reason):
    static_index.add("public-dep", "1.0")
    static_index.statuses["public-dep"] = {"status": "quarantined", "reason": reason}
    static_index.meta = {"api-version": "1.4"}
    page = cache_app().get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "quarantined"} and page["files"] == []


@pytest.mark.parametrize(
    "meta",
    [{}, "junk", None, {"api-version": 1.4}, {"api-version": "one"}, {"api-version": "1.1"}],
    ids=["absent", "not-an-object", "null", "a-number", "not-a-version", "older-than-1.4"],
)
def test_any_api_version_or_none_never_fails_and_a_status_is_still_read(
    cache_app, static_index, meta, caplog
):
    caplog.set_level("DEBUG", logger="pypicloud.upstream.parsing")
    static_index.add("public-dep", "1.0")
    static_index.statuses["public-dep"] = {"status": "quarantined", "reason": "malware"}
    static_index.meta = meta
    app = cache_app()
    page = app.get("/simple/public-dep/", headers={**BOB, **JSON}).json
    assert page["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert page["files"] == []
    if isinstance(meta, dict) and meta:
        assert "api-version" in caplog.text
