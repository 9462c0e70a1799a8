"""The whole app over every storage backend, each on its real service or emulator."""

from __future__ import annotations

import hashlib
import urllib.request

import pytest

from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, upload

BACKENDS = {"file": None, "s3": "s3", "gcs": "gcs", "azure": "azure-blob"}
JSON = "application/vnd.pypi.simple.v1+json"
WHEEL = wheel_name("obj-pkg", "1.0")
BODY = wheel_bytes("obj-pkg", "1.0", requires_python=">=3.9")


def settings_for(request, backend: str) -> dict[str, str | None]:
    if BACKENDS[backend] is None:
        return {}
    settings = dict(request.getfixturevalue(f"{backend}_settings"))
    settings["pypi.storage"] = BACKENDS[backend]
    settings["storage.dir"] = None  # the file storage's key means nothing here
    return settings


@pytest.fixture(params=list(BACKENDS))
def backend_settings(request) -> dict[str, str | None]:
    return settings_for(request, request.param)


@pytest.fixture(params=[name for name, value in BACKENDS.items() if value])
def object_backend_settings(request) -> dict[str, str | None]:
    """Backends with signed URLs (all but file storage)."""
    return settings_for(request, request.param)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def download(app, url: str) -> bytes:
    """Follow the app's redirect to a signed URL, or take the streamed body."""
    response = app.get(url, headers=auth("bob"))
    if response.status_int == 302:
        return fetch(response.location)
    return response.body


def test_upload_index_download_yank_delete(make_app, backend_settings):
    app = make_app(**backend_settings)
    upload(app, "obj-pkg", "1.0", content=BODY)
    [file] = app.get("/simple/obj-pkg/", headers={**auth("bob"), "Accept": JSON}).json["files"]
    assert file["hashes"]["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert file["requires-python"] == ">=3.9"
    assert download(app, file["url"]) == BODY
    metadata = app.get(file["url"] + ".metadata", headers=auth("bob")).body
    assert hashlib.sha256(metadata).hexdigest() == file["core-metadata"]["sha256"]

    url = f"/api/package/obj-pkg/{WHEEL}"
    app.patch_json(url, {"yanked": True, "reason": "oops"}, headers=auth("bob"))
    app.post("/admin/rebuild", headers=auth("alice"))  # facts survive a rebuild from storage
    [rebuilt] = app.get("/simple/obj-pkg/", headers={**auth("bob"), "Accept": JSON}).json["files"]
    assert rebuilt == {**file, "yanked": "oops"} | ({"url": rebuilt["url"]})
    app.delete(url, headers=auth("bob"))
    app.post("/admin/rebuild", headers=auth("alice"))
    app.get("/simple/obj-pkg/", headers=auth("bob"), status=404)


def test_streaming_through_the_server(make_app, backend_settings):
    app = make_app(**backend_settings, **{"pypi.stream_files": "true"})
    upload(app, "obj-pkg", "1.0", content=BODY)
    response = app.get(f"/api/package/obj-pkg/{WHEEL}", headers=auth("bob"))
    assert response.status_int == 200
    assert response.body == BODY
    assert response.content_length == len(BODY)


def test_signed_links_in_the_index_when_not_redirecting(make_app, object_backend_settings):
    app = make_app(**object_backend_settings, **{"storage.redirect_urls": "false"})
    upload(app, "obj-pkg", "1.0", content=BODY)
    [file] = app.get("/simple/obj-pkg/", headers={**auth("bob"), "Accept": JSON}).json["files"]
    assert not file["url"].startswith("http://localhost/")
    assert fetch(file["url"]) == BODY
    # url + ".metadata" would break the signature, so no core metadata is announced.
    assert file["core-metadata"] is False


def test_redirects_to_a_signed_url_by_default(make_app, object_backend_settings):
    app = make_app(**object_backend_settings)
    upload(app, "obj-pkg", "1.0", content=BODY)
    response = app.get(f"/api/package/obj-pkg/{WHEEL}", headers=auth("bob"), status=302)
    assert fetch(response.location) == BODY
    app.get(f"/api/package/obj-pkg/{WHEEL}", status=401)  # no redirect for strangers


def test_a_new_server_rebuilds_an_empty_database_from_storage(make_app, backend_settings, tmp_path):
    first = make_app(**backend_settings)
    upload(first, "obj-pkg", "1.0", content=BODY)
    first.patch_json(
        f"/api/package/obj-pkg/{WHEEL}", {"yanked": True, "reason": "old"}, headers=auth("bob")
    )
    expected = first.get("/simple/obj-pkg/", headers={**auth("bob"), "Accept": JSON}).json
    fresh_db = {"db.url": f"sqlite:///{tmp_path / 'fresh.sqlite'}"}
    second = make_app(**backend_settings, **fresh_db)  # empty database: rebuilt at start-up
    rebuilt = second.get("/simple/obj-pkg/", headers={**auth("bob"), "Accept": JSON}).json
    assert rebuilt == expected
    assert download(second, rebuilt["files"][0]["url"]) == BODY
