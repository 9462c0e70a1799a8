"""PyPI's JSON API (``/pypi/<p>/json``, ``/pypi/<p>/<version>/json``) with the fallback,
against a real upstream index on a free port (StaticIndex): with ``always_show_upstream`` a
project with private files answers the same merge as its simple page; without it the
upstream stays out of it."""

from __future__ import annotations

import pytest

from tests.functional.conftest import auth, upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
BOB = auth("bob")
PRIVATE = "mixed-1.0-py3-none-any.whl"


@pytest.fixture
def merging_app(make_app, static_index):
    def factory(mode: str = "cache", **extra: str):
        settings = {
            "pypi.fallback": mode,
            "pypi.fallback_url": static_index.simple_url,
            "pypi.always_show_upstream": "true",
        }
        settings.update(extra)
        return make_app(**settings)

    return factory


def services(app):
    return app.app.registry.services


def simple_files(app, name: str) -> dict[str, dict]:
    page = app.get(f"/simple/{name}/", headers={**BOB, **JSON}).json
    return {f["filename"]: f for f in page["files"]}


def json_api_files(answer: dict) -> dict[str, dict]:
    return {f["filename"]: f for files in answer["releases"].values() for f in files}


@pytest.mark.parametrize("mode", ["cache", "redirect"])
def test_always_show_upstream_gives_the_json_api_the_simple_pages_merge(
    merging_app, static_index, mode
):
    static_index.add("mixed", "1.0")  # the private filename and version: never shown
    static_index.add("mixed", "2.0")
    static_index.add("mixed", "3.0rc1")
    app = merging_app(mode)
    upload(app, "mixed", "1.0")
    (private,) = services(app).packages.files("mixed")
    answer = app.get("/pypi/mixed/json", headers=BOB).json
    listed = simple_files(app, "mixed")
    files = json_api_files(answer)
    assert (
        set(files)
        == set(listed)
        == {
            PRIVATE,
            "mixed-2.0-py3-none-any.whl",
            "mixed-3.0rc1-py3-none-any.whl",
        }
    )
    assert sorted(answer["releases"]) == ["1.0", "2.0", "3.0rc1"]
    for filename, entry in files.items():  # the same URL and sha256 as the simple page
        assert entry["url"] == listed[filename]["url"], filename
        assert entry["digests"]["sha256"] == listed[filename]["hashes"]["sha256"], filename
    # The private file is described as the local JSON API describes it.
    assert files[PRIVATE]["digests"] == {"md5": private.md5, "sha256": private.sha256}
    assert files[PRIVATE]["url"] == "http://localhost/api/package/mixed/" + PRIVATE
    upstream_url = files["mixed-2.0-py3-none-any.whl"]["url"]
    if mode == "cache":
        assert upstream_url == "http://localhost/api/package/mixed/mixed-2.0-py3-none-any.whl"
    else:
        assert upstream_url == f"{static_index.url}/files/mixed-2.0-py3-none-any.whl"
    # The latest release is chosen as for a local project: the newest final one.
    assert answer["info"]["version"] == "2.0"
    assert [f["filename"] for f in answer["urls"]] == ["mixed-2.0-py3-none-any.whl"]
    assert "last_serial" not in answer  # our serial does not follow the upstream


def test_a_latest_release_stored_here_gives_info_from_its_metadata(merging_app, static_index):
    static_index.add("mixed", "2.0")
    app = merging_app()
    upload(app, "mixed", "3.0")
    answer = app.get("/pypi/mixed/json", headers=BOB).json
    assert sorted(answer["releases"]) == ["2.0", "3.0"]
    info = answer["info"]
    assert (info["version"], info["summary"]) == ("3.0", "A test package")
    assert [f["filename"] for f in answer["urls"]] == ["mixed-3.0-py3-none-any.whl"]


def test_one_release_of_the_merge(merging_app, static_index):
    static_index.add("mixed", "1.0")
    static_index.add("mixed", "2.0")
    app = merging_app()
    upload(app, "mixed", "1.0")
    local_only = app.get("/pypi/mixed/1.0/json", headers=BOB).json
    assert [f["filename"] for f in local_only["urls"]] == [PRIVATE]
    assert local_only["info"]["summary"] == "A test package"
    assert "last_serial" in local_only  # the view's own answer
    assert static_index.seen() == []  # a release uploaded here never asks the upstream
    upstream = app.get("/pypi/mixed/2.0/json", headers=BOB).json
    assert [f["filename"] for f in upstream["urls"]] == ["mixed-2.0-py3-none-any.whl"]
    assert upstream["info"]["version"] == "2.0" and "releases" not in upstream
    app.get("/pypi/mixed/9.0/json", headers=BOB, status=404)


def test_without_always_show_upstream_a_private_project_stays_local(make_app, static_index):
    static_index.add("mixed", "2.0")
    app = make_app(**{"pypi.fallback": "cache", "pypi.fallback_url": static_index.simple_url})
    upload(app, "mixed", "1.0")
    answer = app.get("/pypi/mixed/json", headers=BOB).json
    assert list(answer["releases"]) == ["1.0"] and json_api_files(answer).keys() == {PRIVATE}
    assert "last_serial" in answer
    app.get("/pypi/mixed/2.0/json", headers=BOB, status=404)
    assert list(simple_files(app, "mixed")) == [PRIVATE]
    assert static_index.seen() == []


def test_the_merge_is_the_local_answer_while_the_upstream_is_down(merging_app, static_index):
    static_index.add("mixed", "2.0")
    app = merging_app()
    upload(app, "mixed", "1.0")
    static_index.stop()
    answer = app.get("/pypi/mixed/json", headers=BOB).json
    assert list(answer["releases"]) == ["1.0"] and "last_serial" in answer


def test_an_upstream_quarantine_leaves_only_the_private_files(merging_app, static_index):
    static_index.add("mixed", "2.0")
    static_index.set_status("mixed", "quarantined", "malware")
    app = merging_app()
    upload(app, "mixed", "1.0")
    answer = app.get("/pypi/mixed/json", headers=BOB).json
    assert json_api_files(answer).keys() == {PRIVATE} == simple_files(app, "mixed").keys()
    assert answer["info"]["version"] == "1.0"
    app.get("/pypi/mixed/2.0/json", headers=BOB, status=404)


def test_an_upstream_only_projects_latest_release_is_its_newest_final_one(make_app, static_index):
    static_index.add("public-dep", "1.0")
    static_index.add("public-dep", "2.0b1")
    app = make_app(**{"pypi.fallback": "cache", "pypi.fallback_url": static_index.simple_url})
    answer = app.get("/pypi/public-dep/json", headers=BOB).json
    assert answer["info"]["version"] == "1.0"  # as for a local project, not 2.0b1
    assert sorted(answer["releases"]) == ["1.0", "2.0b1"]
