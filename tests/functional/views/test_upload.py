"""The legacy upload API, validated like PyPI validates it."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile

import pytest

from tests.dists import metadata_text, sdist_name, wheel_bytes, wheel_name
from tests.functional.conftest import auth, upload


def stored_files(tmp_path) -> list[str]:
    root = tmp_path / "packages"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("url", ["/simple/", "/pypi/", "/"])
def test_upload_wheel_and_sdist_to_every_endpoint(app, url):
    upload(app, "Hello-World", "1.0", url=url)
    upload(app, "hello_world", "1.0", kind="sdist", url=url)
    page = app.get("/simple/hello-world/", headers=auth("bob"))
    assert wheel_name("hello-world", "1.0") in page.text
    assert sdist_name("hello-world", "1.0") in page.text


def test_upload_is_stored_in_the_original_layout(app, tmp_path):
    upload(app, "Hello.World", "1.0")
    version_dir = tmp_path / "packages" / "hello-world" / "1.0"
    assert sorted(p.name for p in version_dir.iterdir()) == [
        "hello_world-1.0-py3-none-any.whl",
        "hello_world-1.0-py3-none-any.whl.meta",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "bad name!"}, "not a valid project name"),
        ({"name": ""}, "name: this field is required"),
        ({"version": "not.a.version!"}, "not a valid PEP 440 version"),
        ({"sha256_digest": "0" * 64}, "digest supplied does not match"),
        ({"md5_digest": "0" * 32}, "digest supplied does not match"),
        ({"name": "other-project"}, "names another project"),
        ({"version": "2.0"}, "does not match the version field"),
        ({"filetype": "sdist"}, "is not a sdist"),
        ({":action": "submit"}, "unsupported :action"),
    ],
)
def test_bad_form_is_a_400_with_the_reason_in_the_status(app, tmp_path, fields, message):
    response = upload(app, "good", "1.0", status=400, fields=fields)
    assert message in response.status
    assert message in response.text
    assert stored_files(tmp_path) == []


@pytest.mark.parametrize(
    "filename",
    [
        "../../evil-1.0-py3-none-any.whl",
        "/etc/evil-1.0-py3-none-any.whl",
        "good-1.0-py3-none-any.exe",
        ".good-1.0-py3-none-any.whl",
        "good-1.0\0-py3-none-any.whl",
    ],
)
def test_path_tricks_in_the_filename_are_refused(app, tmp_path, filename):
    content = wheel_bytes("good", "1.0")
    response = app.post(
        "/simple/",
        params=[(":action", "file_upload"), ("name", "good"), ("version", "1.0")],
        upload_files=[("content", filename, content)],
        headers=auth("bob"),
        expect_errors=True,
    )
    assert response.status_int == 400, response.status
    assert stored_files(tmp_path) == []
    assert not (tmp_path / "evil-1.0-py3-none-any.whl").exists()


@pytest.mark.parametrize(
    "name, filename",
    [
        ("a" * 300, None),
        ("good", "good-1.0-" + "x" * 1000 + ".whl"),
        ("good", "good-1.0." + "1" * 300 + "-py3-none-any.whl"),
    ],
)
def test_overlong_names_are_a_400_and_store_nothing(app, tmp_path, name, filename):
    content = wheel_bytes("good", "1.0")
    response = app.post(
        "/simple/",
        params=[(":action", "file_upload"), ("name", name), ("version", "1.0")],
        upload_files=[("content", filename or f"{name}-1.0-py3-none-any.whl", content)],
        headers=auth("bob"),
        expect_errors=True,
    )
    assert response.status_int == 400, response.status
    assert len(response.status) < 200
    assert stored_files(tmp_path) == []


def test_broken_archive_is_refused(app, tmp_path):
    response = upload(app, "good", "1.0", content=b"this is not a zip file", status=400)
    assert "Invalid distribution file" in response.status
    assert stored_files(tmp_path) == []


def test_wheel_without_metadata_is_refused(app):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good/__init__.py", "")
    response = upload(app, "good", "1.0", content=buffer.getvalue(), status=400)
    assert "METADATA" in response.status


def test_metadata_must_agree_with_the_filename(app):
    content = wheel_bytes("good", "1.0", metadata=metadata_text("other", "1.0"))
    response = upload(app, "good", "1.0", content=content, status=400)
    assert "does not match the filename" in response.status


def test_empty_file_is_refused(app):
    upload(app, "good", "1.0", content=b"", status=400)


def test_oversize_upload_is_refused_with_413(make_app, tmp_path):
    app = make_app(**{"pypi.max_upload_size": "1K"})
    big = wheel_bytes("good", "1.0", description="x" * 50_000)
    upload(app, "good", "1.0", content=big, status=413)
    assert stored_files(tmp_path) == []


def test_oversize_content_length_is_refused_before_reading(make_app):
    app = make_app(**{"pypi.max_upload_size": "1K"})
    response = app.post(
        "/simple/",
        params=b"x" * 200_000,
        headers={**auth("bob"), "Content-Type": "multipart/form-data; boundary=xx"},
        status=413,
    )
    assert "too large" in response.text


def test_malformed_multipart_is_a_400(app):
    response = app.post(
        "/simple/",
        params=b'--xx\r\nContent-Disposition: form-data; name="content"; filename="a.whl"',
        headers={**auth("bob"), "Content-Type": "multipart/form-data; boundary=xx"},
        expect_errors=True,
    )
    assert response.status_int == 400


def test_not_multipart_is_a_400(app):
    app.post("/simple/", params={"a": "b"}, headers=auth("bob"), status=400)


def test_anonymous_upload_gets_a_challenge(app):
    response = upload(app, "good", "1.0", user="", status=401)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="pypi"'


def test_wrong_password_is_refused(app):
    content = wheel_bytes("good", "1.0")
    app.post(
        "/simple/",
        params=[(":action", "file_upload"), ("name", "good"), ("version", "1.0")],
        upload_files=[("content", wheel_name("good", "1.0"), content)],
        headers=auth("bob", "wrong"),
        status=401,
    )


def test_upload_without_write_permission_is_403(app, tmp_path):
    upload(app, "good", "1.0", user="carol", status=403)
    upload(app, "carols-pkg", "1.0", user="carol")
    assert stored_files(tmp_path) == [
        "carols_pkg-1.0-py3-none-any.whl",
        "carols_pkg-1.0-py3-none-any.whl.meta",
    ]


def test_identical_reupload_succeeds_and_different_content_conflicts(app):
    upload(app, "good", "1.0")
    upload(app, "good", "1.0")  # identical: like PyPI, so twine --skip-existing works
    other = wheel_bytes("good", "1.0", summary="changed")
    response = upload(app, "good", "1.0", content=other, status=409)
    assert "File already exists" in response.status


def test_overwrite_when_allowed(make_app):
    app = make_app(**{"pypi.allow_overwrite": "true"})
    upload(app, "good", "1.0")
    upload(app, "good", "1.0", content=wheel_bytes("good", "1.0", summary="changed"))
    data = app.get("/pypi/good/json", headers=auth("bob")).json
    assert data["info"]["summary"] == "changed"


def test_concurrent_uploads_of_one_file_leave_exactly_one(app, tmp_path):
    bodies = [wheel_bytes("good", "1.0", summary=f"body {i}") for i in range(4)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(bodies))

    def send(body: bytes) -> None:
        barrier.wait()
        statuses.append(upload(app, "good", "1.0", content=body, status="*").status_int)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    stored = tmp_path / "packages" / "good" / "1.0" / wheel_name("good", "1.0")
    winner = hashlib.sha256(stored.read_bytes()).hexdigest()
    listed = app.get(
        "/simple/good/", headers={**auth("bob"), "Accept": "application/vnd.pypi.simple.v1+json"}
    ).json["files"]
    assert [f["hashes"]["sha256"] for f in listed] == [winner]
    assert [p.name for p in stored.parent.iterdir()] == [
        stored.name,
        stored.name + ".meta",
    ] or sorted(p.name for p in stored.parent.iterdir()) == sorted(
        [stored.name, stored.name + ".meta"]
    )
