"""Project status (PEP 792) through the app: the REST API and web form, what the simple
API and PyPI's JSON API serve, upload refusals, and a quarantined project's files withheld
(the fast path, the REST API's listings and the web UI included). Real file storage and
SQLite; the backends are in tests/functional/cache/test_contract.py."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from pypicloud.audit import AuditQuery
from tests.attestations import attestation, field
from tests.dists import wheel_bytes, wheel_name
from tests.functional.cache.test_app_backends import (  # noqa: F401 (fixtures)
    dynamo_db_settings,
    redis_db_settings,
)
from tests.functional.conftest import auth, upload
from tests.functional.views.test_web import sign_in

JSON = "application/vnd.pypi.simple.v1+json"
WHEEL = wheel_name("alpha", "1.0")
STATUS_URL = "/api/package/{}/status"


@pytest.fixture
def filled(app):
    upload(app, "alpha", "1.0")
    upload(app, "alpha", "1.0", kind="sdist")
    upload(app, "secret", "1.0")
    return app


def put(app, project, body, user="alice", **kwargs):
    headers = auth(user) if user else {}
    return app.put_json(STATUS_URL.format(project), body, headers=headers, **kwargs)


def services(app):
    return app.app.registry.services


# -- the REST API -------------------------------------------------------------------------


def test_a_project_is_active_until_set(filled):
    got = filled.get(STATUS_URL.format("alpha"), headers=auth("carol")).json
    assert got == {"name": "alpha", "status": "active"}


@pytest.mark.parametrize("user", ["alice", "bob"])  # an admin, an owner (write permission)
def test_admins_and_owners_set_it(filled, user):
    body = {"status": "archived", "reason": "  superseded\nby beta "}
    answered = put(filled, "alpha", body, user=user).json
    assert answered == {"name": "alpha", "status": "archived", "reason": "superseded by beta"}
    assert filled.get(STATUS_URL.format("alpha"), headers=auth("dave")).json == answered
    put(filled, "alpha", {"status": "active"}, user=user)
    assert filled.get(STATUS_URL.format("alpha"), headers=auth("dave")).json["status"] == "active"


def test_readers_may_not_set_it_and_anonymous_must_sign_in(filled):
    refused = put(filled, "alpha", {"status": "archived"}, user="carol", status=403)
    assert refused.json == {"error": "You may not write to alpha"}
    put(filled, "alpha", {"status": "archived"}, user=None, status=401)
    filled.get(STATUS_URL.format("alpha"), status=401)
    assert services(filled).packages.status("alpha").is_active


def test_a_project_the_caller_cannot_read_is_missing(filled):
    for method in ("get", "put"):
        answers = []
        for project in ("secret", "nothing"):
            url = STATUS_URL.format(project)
            if method == "get":
                response = filled.get(url, headers=auth("carol"), status=404)
            else:
                response = put(filled, project, {"status": "archived"}, user="carol", status=404)
            answers.append(response.body.replace(b"secret", b"nothing"))
        assert answers[0] == answers[1], method
    assert services(filled).packages.status("secret").is_active


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "retired"}, "Unknown status 'retired'"),
        ({"status": None}, "status must be a string"),
        ({"status": "archived", "reason": 5}, "reason must be a string"),
        ({"status": "archived", "reason": "x" * 401}, "reason is too long"),
        ({"status": "archived", "reason": "a\x00b"}, "plain text"),
        (["archived"], "Expected {"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(filled, body, message):
    before = services(filled).packages.serial()
    refused = put(filled, "alpha", body, status=400)
    assert message in refused.json["error"]
    assert services(filled).packages.serial() == before
    assert services(filled).packages.status("alpha").is_active


def test_a_change_moves_the_serial_and_is_audited(filled):
    packages = services(filled).packages
    before = packages.serial()
    put(filled, "alpha", {"status": "deprecated", "reason": "use beta"})
    assert packages.serial() > before
    audit = services(filled).audit
    if not audit.stored:
        pytest.fail("the default app keeps no audit log: this test needs one")
    [entry] = audit.query(AuditQuery(action="status"))
    assert (entry.project, entry.detail, entry.actor) == (
        "alpha",
        "active -> deprecated: use beta",
        "alice",
    )


# -- the web UI -----------------------------------------------------------------------------


def test_the_web_form_needs_csrf_and_write_permission(filled):
    csrf = sign_in(filled, "bob")
    assert 'action="/project/alpha/status"' in filled.get("/project/alpha/").text
    filled.post("/project/alpha/status", {"status": "archived"}, status=400)  # no CSRF token
    form = {"csrf_token": csrf, "status": "archived", "reason": "done <b>here</b>"}
    filled.post("/project/alpha/status", form, status=303)
    page = filled.get("/project/alpha/").text
    assert "This project is archived." in page
    assert "done &lt;b&gt;here&lt;/b&gt;" in page
    assert "It accepts no new uploads." in page
    csrf = sign_in(filled, "carol")
    page = filled.get("/project/alpha/").text
    assert "This project is archived." in page  # readers see the banner...
    assert 'action="/project/alpha/status"' not in page  # ...but not the form
    form = {"csrf_token": csrf, "status": "active"}
    filled.post("/project/alpha/status", form, status=403)
    filled.post("/project/secret/status", form, status=404)
    filled.post("/project/alpha/status", {**form, "status": "gone"}, status=403)
    csrf = sign_in(filled, "alice")
    filled.post("/project/alpha/status", {**form, "csrf_token": csrf, "status": "gone"}, status=400)
    assert services(filled).packages.status("alpha").status.value == "archived"


def test_an_active_project_has_no_banner(filled):
    sign_in(filled, "bob")
    assert "This project is" not in filled.get("/project/alpha/").text


# -- what the simple API serves ------------------------------------------------------------


def head_of(html: str) -> str:
    return html.split("<title>")[0]


def test_html_meta_tags_exactly(filled):
    active = filled.get("/simple/alpha/", headers=auth("bob")).text
    assert head_of(active) == (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.4">\n    '
    )
    put(filled, "alpha", {"status": "deprecated"})
    page = filled.get("/simple/alpha/", headers=auth("bob")).text
    assert head_of(page) == (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.4">\n'
        '    <meta name="pypi:project-status" content="deprecated">\n    '
    )
    assert page.split("<title>")[1] == active.split("<title>")[1]  # the rest is unchanged
    put(filled, "alpha", {"status": "archived", "reason": 'say "no" & <go>'})
    page = filled.get("/simple/alpha/", headers=auth("bob")).text
    assert head_of(page) == (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.4">\n'
        '    <meta name="pypi:project-status" content="archived">\n'
        '    <meta name="pypi:project-status-reason" content="say &#34;no&#34; &amp; &lt;go&gt;">\n'
        "    "
    )


def test_json_keys_exactly(filled):
    page = filled.get("/simple/alpha/", headers={**auth("bob"), "Accept": JSON}).json
    assert page["meta"] == {"api-version": "1.4"}
    assert page["project-status"] == {"status": "active"}
    assert "tracks" not in page and "alternate-locations" not in page
    assert [f["provenance"] for f in page["files"]] == [None, None]
    put(filled, "alpha", {"status": "archived", "reason": "frozen"})
    page = filled.get("/simple/alpha/", headers={**auth("bob"), "Accept": JSON}).json
    assert page["project-status"] == {"status": "archived", "reason": "frozen"}
    assert len(page["files"]) == 2  # archived: installs as before
    assert filled.get("/simple/", headers={**auth("bob"), "Accept": JSON}).json["meta"] == {
        "api-version": "1.4"
    }


# -- uploads -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["archived", "quarantined"])
def test_uploads_are_refused_before_anything_is_stored(filled, tmp_path, status):
    put(filled, "alpha", {"status": status, "reason": "no more"})
    refused = upload(filled, "alpha", "2.0", status=400)
    assert refused.status == f"400 Project is {status}: uploads are not allowed (no more)"
    assert services(filled).cache.fetch(wheel_name("alpha", "2.0")) is None
    assert not (tmp_path / "packages" / "alpha" / "2.0").exists()
    filled.post(
        f"/api/package/alpha/{wheel_name('alpha', '2.0')}",
        upload_files=[("content", wheel_name("alpha", "2.0"), b"x")],
        headers=auth("bob"),
        status=400,
    )


def test_deprecated_projects_take_uploads(filled):
    put(filled, "alpha", {"status": "deprecated"})
    upload(filled, "alpha", "2.0")
    put(filled, "alpha", {"status": "archived"})
    put(filled, "alpha", {"status": "active"})
    upload(filled, "alpha", "3.0")


# -- a quarantined project offers no files --------------------------------------------------


def test_quarantine_hides_files_everywhere(filled):
    bob = auth("bob")
    file_url = f"/api/package/alpha/{WHEEL}"
    filled.get(file_url, headers=bob, status=200)
    put(filled, "alpha", {"status": "quarantined", "reason": "malware"})
    html = filled.get("/simple/alpha/", headers=bob).text
    assert "<a href" not in html
    assert '<meta name="pypi:project-status" content="quarantined">' in html
    page = filled.get("/simple/alpha/", headers={**bob, "Accept": JSON}).json
    assert page["files"] == [] and page["versions"] == []
    assert page["project-status"] == {"status": "quarantined", "reason": "malware"}
    legacy = filled.get("/pypi/alpha/json", headers=bob).json
    assert (legacy["releases"], legacy["urls"]) == ({}, [])
    assert legacy["info"]["project_status"] == {"status": "quarantined", "reason": "malware"}
    filled.get("/pypi/alpha/1.0/json", headers=bob, status=404)
    filled.get(file_url, headers=bob, status=404)
    filled.get(file_url + ".metadata", headers=bob, status=404)
    filled.head(file_url, headers=bob, status=404)
    # Admins may still fetch a file by its URL, to inspect it; their pages list nothing.
    filled.get(file_url, headers=auth("alice"), status=200)
    filled.get(file_url + ".metadata", headers=auth("alice"), status=200)
    assert "<a href" not in filled.get("/simple/alpha/", headers=auth("alice")).text
    put(filled, "alpha", {"status": "active"})
    filled.get(file_url, headers=bob, status=200)
    assert filled.get("/simple/alpha/", headers=bob).text.count("<a href") == 2


def test_the_fast_path_never_replays_a_page_or_file_from_before_the_change(filled):
    bob = auth("bob")
    file_url = f"/api/package/alpha/{WHEEL}"
    for _ in range(2):  # the second answers are the fast path's replays
        assert filled.get("/simple/alpha/", headers=bob).text.count("<a href") == 2
        assert len(filled.get("/simple/alpha/", headers={**bob, "Accept": JSON}).json["files"]) == 2
        assert filled.get("/pypi/alpha/json", headers=bob).json["urls"]
        filled.get(file_url, headers=bob, status=200)
    put(filled, "alpha", {"status": "quarantined"})
    assert "<a href" not in filled.get("/simple/alpha/", headers=bob).text
    assert filled.get("/simple/alpha/", headers={**bob, "Accept": JSON}).json["files"] == []
    assert filled.get("/pypi/alpha/json", headers=bob).json["urls"] == []
    filled.get(file_url, headers=bob, status=404)


def test_a_rebuild_keeps_statuses(filled):
    put(filled, "alpha", {"status": "quarantined", "reason": "malware"})
    services(filled).packages.reload_from_storage()
    assert services(filled).packages.status("alpha").reason == "malware"
    assert filled.get("/simple/alpha/", headers={**auth("bob"), "Accept": JSON}).json["files"] == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "redis", "dynamo"])
def test_quarantine_through_the_app_on_every_database(request, make_app, backend):
    """The same rules whatever keeps the status; a rebuild from storage keeps it."""
    if backend == "sqlite":
        settings: dict = {}
    elif backend == "postgresql":
        settings = {"db.url": request.getfixturevalue("postgresql_url")}
    else:
        settings = request.getfixturevalue(f"{backend}_db_settings")
    app = make_app(**settings)
    upload(app, "alpha", "1.0")
    put(app, "alpha", {"status": "quarantined", "reason": "malware"})
    services(app).packages.reload_from_storage()
    bob = auth("bob")
    assert app.get("/simple/alpha/", headers={**bob, "Accept": JSON}).json["files"] == []
    app.get(f"/api/package/alpha/{WHEEL}", headers=bob, status=404)
    assert upload(app, "alpha", "2.0", status=400).status.startswith("400 Project is quarantined")
    put(app, "alpha", {"status": "active"})
    assert len(app.get("/simple/alpha/", headers={**bob, "Accept": JSON}).json["files"]) == 1


# -- the REST API's listings and the web UI follow the same rule ------------------------------

SUMMARY = "Quarantine-marker summary"
README_MARK = "Quarantine-marker readme"


@pytest.fixture
def described(app):
    """alpha with a summary and a README (both from its file) and an attested wheel, so
    that its metadata and provenance are on show while it is active."""
    content = wheel_bytes("alpha", "1.0", summary=SUMMARY, description=README_MARK)
    attested = attestation(WHEEL, hashlib.sha256(content).hexdigest())
    upload(app, "alpha", "1.0", content=content, fields={"attestations": field(attested)})
    upload(app, "secret", "1.0")
    app.reset()
    return app


def rest_listing(app, user: str) -> dict:
    return app.get("/api/package/alpha/", headers=auth(user)).json


def test_the_rest_listing_hides_a_quarantined_projects_files_but_to_admins(described):
    provenance = f"/integrity/alpha/1.0/{WHEEL}/provenance"
    listed = rest_listing(described, "carol")
    assert [p["filename"] for p in listed["packages"]] == [WHEEL]
    assert listed["project_status"] == {"status": "active"}
    described.get("/api/package/alpha/1.0/", headers=auth("carol"), status=200)
    described.get(provenance, headers=auth("carol"), status=200)
    put(described, "alpha", {"status": "quarantined", "reason": "malware"})
    response = described.get("/api/package/alpha/", headers=auth("carol"))  # a reader
    assert response.json == {
        "packages": [],
        "project_status": {"status": "quarantined", "reason": "malware"},
    }
    assert "/api/package/alpha/alpha" not in response.text  # no download link
    for user in ("carol", "bob"):  # a reader, and an owner who is no admin
        described.get(provenance, headers=auth(user), status=404)
    described.get("/api/package/alpha/1.0/", headers=auth("carol"), status=404)
    assert [p["filename"] for p in rest_listing(described, "alice")["packages"]] == [WHEEL]
    described.get("/api/package/alpha/1.0/", headers=auth("alice"), status=200)
    described.get(provenance, headers=auth("alice"), status=200)
    put(described, "alpha", {"status": "active"})  # a new serial: nothing kept from before
    assert [p["filename"] for p in rest_listing(described, "carol")["packages"]] == [WHEEL]
    described.get("/api/package/alpha/1.0/", headers=auth("carol"), status=200)
    described.get(provenance, headers=auth("carol"), status=200)


def test_a_quarantined_private_project_is_still_missing_to_who_may_not_read_it(described):
    put(described, "secret", {"status": "quarantined", "reason": "malware"})
    for url in ("/api/package/{}/", "/project/{}/"):
        missing = described.get(url.format("nothing"), headers=auth("carol"), status=404)
        private = described.get(url.format("secret"), headers=auth("carol"), status=404)
        assert private.body.replace(b"secret", b"nothing") == missing.body
    home = described.get("/", headers=auth("carol")).text
    assert "secret" not in home and "quarantined" not in home
    listed = described.get("/api/package/secret/", headers=auth("dave")).json  # a grant
    assert listed["packages"] == [] and listed["project_status"]["status"] == "quarantined"


def project_page(app, user: str) -> str:
    sign_in(app, user)
    return app.get("/project/alpha/").text


def test_the_web_project_page_hides_a_quarantined_projects_files_but_to_admins(described):
    link = f'href="http://localhost/api/package/alpha/{WHEEL}"'
    page = project_page(described, "carol")
    assert link in page and SUMMARY in page and README_MARK in page and "pip install" in page
    put(described, "alpha", {"status": "quarantined", "reason": "malware"})
    page = project_page(described, "carol")  # a reader (bob, an owner, is tested below)
    assert "This project is quarantined." in page and "malware" in page
    assert "This project is quarantined: its files are not shown." in page
    assert "not offered for installation and are not shown here." in page
    for hidden in (WHEEL, "/api/package/", SUMMARY, README_MARK, "pip install"):
        assert hidden not in page, hidden
    page = project_page(described, "alice")
    assert "This project is quarantined." in page and link in page and README_MARK in page
    assert "they are listed here for admins only." in page
    assert "pip install" not in page  # nothing installs, even for an admin
    put(described, "alpha", {"status": "active"})
    page = project_page(described, "carol")
    assert link in page and README_MARK in page and "This project is" not in page


def test_the_home_page_row_of_a_quarantined_project_shows_no_file_facts(described):
    def row(user: str, query: str = "") -> str:
        page = described.get("/", {"q": query}, headers=auth(user)).text
        return page.split('href="/project/alpha/"')[1].split("</tr>")[0]

    assert "1.0" in row("carol") and SUMMARY in row("carol")
    put(described, "alpha", {"status": "quarantined"})
    for query in ("", "alpha"):
        shown = row("carol", query)
        assert "quarantined</span>" in shown and "its files are not shown" in shown
        assert "1.0" not in shown and SUMMARY not in shown and "<time" not in shown
    admin = row("alice")
    assert "quarantined</span>" in admin and "1.0" in admin and SUMMARY in admin
    put(described, "alpha", {"status": "active"})
    again = row("carol")
    assert "1.0" in again and SUMMARY in again and "quarantined" not in again


# -- search matches a quarantined project by name only, but for admins -------------------------

WORD = SUMMARY.split()[0]  # a word of alpha's summary, not of its name
NOWHERE = "nowhere-word-0000"  # the same length: a miss, to compare pages with


def search_page(app, user: str, query: str) -> str:
    return app.get("/", {"q": query}, headers=auth(user)).text


def finds_alpha(app, user: str, query: str) -> bool:
    return 'href="/project/alpha/"' in search_page(app, user, query)


def test_search_matches_a_quarantined_project_by_name_only_but_for_admins(described):
    assert finds_alpha(described, "carol", WORD)
    put(described, "alpha", {"status": "quarantined", "reason": "malware"})
    for user in ("carol", "bob"):  # a reader, and an owner who is no admin
        assert not finds_alpha(described, user, WORD), user
        assert not finds_alpha(described, user, f"alpha {WORD}"), user
        # A hit on the hidden summary is a miss like any other: the page tells nothing.
        page = search_page(described, user, WORD)
        assert page.replace(WORD, NOWHERE) == search_page(described, user, NOWHERE)
        named = search_page(described, user, "alph")
        assert 'href="/project/alpha/"' in named and "quarantined</span>" in named
        assert SUMMARY not in named
    assert finds_alpha(described, "alice", WORD)
    assert SUMMARY in search_page(described, "alice", WORD)
    put(described, "alpha", {"status": "active"})  # a new serial: the set is asked again
    assert finds_alpha(described, "carol", WORD)


# -- owners manage a quarantined project's files by name, without downloads -----------------

FILE_URL = f"/api/package/alpha/{WHEEL}"


def managed(**states) -> dict:
    """A file as an owner who is no admin sees it in a quarantined project."""
    entry = {"name": "alpha", "version": "1.0", "filename": WHEEL}
    return {**entry, "yanked": False, "yanked_reason": None, "keep": False, **states}


def assert_no_file_facts(app, text: str) -> None:
    """Nothing of the file itself: no download URL, no summary, no digest."""
    sha256 = services(app).cache.fetch(WHEEL).sha256
    for hidden in ("http://localhost/api/package/", "url", SUMMARY, sha256):
        assert hidden not in text, hidden


def test_writes_on_a_quarantined_project_answer_names_and_states_without_urls(described):
    bob = auth("bob")  # an owner who is no admin
    put(described, "alpha", {"status": "quarantined", "reason": "malware"})
    writes = [
        (described.patch_json, FILE_URL, {"yanked": True, "reason": "bad"}, None),
        (described.patch_json, "/api/package/alpha/1.0/", {"yanked": False}, "packages"),
        (described.put, "/api/package/alpha/1.0/keep", None, "packages"),
        (described.delete, "/api/package/alpha/1.0/keep", None, "packages"),
    ]
    expected = [
        managed(yanked=True, yanked_reason="bad"),
        [managed()],
        [managed(keep=True)],
        [managed()],
    ]
    for (send, url, body, key), wanted in zip(writes, expected, strict=True):
        response = send(url, body, headers=bob) if body is not None else send(url, headers=bob)
        assert (response.json[key] if key else response.json) == wanted, url
        assert_no_file_facts(described, response.text)
    yanked = described.patch_json(FILE_URL, {"yanked": True}, headers=auth("alice")).json
    assert yanked["url"] == f"http://localhost{FILE_URL}" and yanked["summary"] == SUMMARY
    put(described, "alpha", {"status": "active"})
    unyanked = described.patch_json(FILE_URL, {"yanked": False}, headers=bob).json
    assert unyanked["url"] == f"http://localhost{FILE_URL}"


def test_an_upload_token_that_may_not_read_gets_names_only_from_a_write(described):
    """A trusted publisher's minted token may yank (it writes) but reads nothing: its
    answer names the files, with no URL or fact of a file, even on an active project."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    tokens = services(described).tokens
    secret, _ = tokens.create("oidc:0123abcd", projects=["alpha"], upload=True, expires=later)
    minted = auth("__token__", secret)
    described.get("/api/package/alpha/", headers=minted, status=404)  # it reads nothing
    answer = described.patch_json(FILE_URL, {"yanked": True}, headers=minted)
    assert answer.json == managed(yanked=True)
    assert_no_file_facts(described, answer.text)
    kept = described.put("/api/package/alpha/1.0/keep", headers=minted)
    assert kept.json == {"packages": [managed(yanked=True, keep=True)]}


def test_owners_list_a_quarantined_projects_files_by_name_and_may_delete_them(described):
    put(described, "alpha", {"status": "quarantined", "reason": "malware"})
    for url in ("/api/package/alpha/", "/api/package/alpha/1.0/"):
        listed = described.get(url, headers=auth("bob"))
        assert listed.json["packages"] == [managed()], url
        assert_no_file_facts(described, listed.text)
        carol = described.get(url, headers=auth("carol"), expect_errors=True)  # a reader
        assert carol.status_int == 404 or carol.json["packages"] == [], url
    described.get(FILE_URL, headers=auth("bob"), status=404)  # still no download
    described.get(FILE_URL + ".metadata", headers=auth("bob"), status=404)
    described.delete(FILE_URL, headers=auth("carol"), status=403)  # readers may not delete
    described.delete(FILE_URL, headers=auth("bob"), status=200)  # by the name it was listed
    assert services(described).packages.files("alpha") == []


def test_a_quarantined_private_projects_names_go_to_its_owners_only(described):
    put(described, "secret", {"status": "quarantined"})
    wheel = wheel_name("secret", "1.0")
    listed = described.get("/api/package/secret/", headers=auth("bob")).json["packages"]
    assert [p["filename"] for p in listed] == [wheel] and "url" not in listed[0]
    assert described.get("/api/package/secret/", headers=auth("dave")).json["packages"] == []
    described.get("/api/package/secret/1.0/", headers=auth("dave"), status=404)
    for url in ("/api/package/{}/", "/api/package/{}/1.0/"):  # carol may not read it
        private = described.get(url.format("secret"), headers=auth("carol"), status=404)
        missing = described.get(url.format("nothing"), headers=auth("carol"), status=404)
        assert private.body.replace(b"secret", b"nothing") == missing.body
    refusals = []
    for project in ("secret", "nothing"):  # nor write to it: a refusal tells nothing either
        refused = described.patch_json(
            f"/api/package/{project}/{wheel_name(project, '1.0')}",
            {"yanked": True},
            headers=auth("carol"),
            status=403,
        )
        assert wheel.encode() not in refused.body
        refusals.append(refused.body.replace(b"secret", b"nothing"))
    assert refusals[0] == refusals[1]


def test_the_web_project_page_lists_a_quarantined_projects_file_names_to_its_owners(described):
    put(described, "alpha", {"status": "quarantined", "reason": "malware"})
    csrf = sign_in(described, "bob")
    page = described.get("/project/alpha/").text
    assert "This project is quarantined: its files are listed by name only" in page
    assert "their names are listed here, without downloads" in page
    assert f"<td>{WHEEL}</td>" in page  # the name, as text: not a link
    assert 'action="/project/alpha/yank"' in page and 'action="/project/alpha/delete"' in page
    for hidden in ("/api/package/", SUMMARY, README_MARK, "pip install", "<time"):
        assert hidden not in page, hidden
    assert_no_file_facts(described, page)
    form = {"csrf_token": csrf, "filename": WHEEL}
    described.post("/project/alpha/delete", form, status=303)
    assert services(described).packages.files("alpha") == []
