"""Bad uploads: each is a clear 4xx, and neither storage nor the database changes."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
import zlib

import pytest
from webob import Request

from tests.adversarial.conftest import assert_no_stack_trace, build_app, snapshot
from tests.dists import metadata_text, sdist_bytes, wheel_bytes, wheel_name
from tests.functional.conftest import auth, upload

GOOD = wheel_bytes("alpha", "1.0")
GOOD_NAME = wheel_name("alpha", "1.0")


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """One app for the module: every refusal leaves it as it was, which each test checks."""
    app = build_app(tmp_path_factory.mktemp("bad-uploads"))
    upload(app, "alpha", "0.9")  # something already there, which must stay as it is
    return app


def refused(app, status, **kwargs):
    """Upload, expect ``status`` (a 4xx), and check that nothing changed."""
    before = snapshot(app)
    response = upload(app, status="*", **kwargs)
    assert 400 <= response.status_int < 500, (response.status, kwargs.get("filename"))
    if status is not None:
        assert response.status_int == status, response.status
    assert_no_stack_trace(response.body)
    assert snapshot(app) == before
    return response


# -- names, versions, filenames -------------------------------------------------------------

MISMATCHES = [
    pytest.param({"filename": wheel_name("beta", "1.0")}, id="filename-names-another-project"),
    pytest.param({"filename": wheel_name("alpha", "2.0")}, id="filename-has-another-version"),
    pytest.param({"filename": "alpha-1.0.tar.gz"}, id="sdist-name-for-a-wheel-filetype"),
    pytest.param({"fields": {"filetype": "sdist"}}, id="filetype-disagrees"),
]


@pytest.mark.parametrize("kwargs", MISMATCHES)
def test_filename_disagreeing_with_the_form(filled, kwargs):
    refused(filled, 400, name="alpha", version="1.0", content=GOOD, **kwargs)


BAD_NAMES = [
    "<b>alpha</b>",
    "alpha beta",
    "alpha\tbeta",
    "\u0430lpha",  # Cyrillic a: a look-alike of "alpha"
    "\uff41lpha",  # fullwidth a
    "alp\u0127a",
    "\ufb01sh",  # the "fi" ligature
    "alpha\u200b",  # zero-width space
    "-alpha",
    "alpha-",
    ".alpha",
    "a" * 300,
    "../alpha",
    "..\\alpha",
    "/etc/alpha",
    "alpha\x00",
    "alpha%2F..",
    "",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_project_names(filled, name):
    refused(filled, 400, name=name, version="1.0", content=GOOD, filename=GOOD_NAME)


BAD_VERSIONS = ["", "one", "1.0-foo-bar", "1.0 beta", "1" * 200, "1.0/../2", "1.0\x00", "v1..0"]


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_invalid_versions(filled, version):
    refused(filled, 400, name="alpha", version=version, content=GOOD, filename=GOOD_NAME)


PATH_TRICKS = [
    "../" + GOOD_NAME,
    "../../" + GOOD_NAME,
    "..\\" + GOOD_NAME,
    "/tmp/" + GOOD_NAME,
    "C:\\" + GOOD_NAME,
    GOOD_NAME + "\x00.txt",
    "alpha-1.0-py3-none-any.whl\x00",
    "%2e%2e%2f" + GOOD_NAME,
    "..%2f" + GOOD_NAME,
    "%c0%ae%c0%ae%c0%af" + GOOD_NAME,  # an overlong UTF-8 "../"
    "\xc0\xae\xc0\xae/" + GOOD_NAME,
    ".." + GOOD_NAME,
    "." + GOOD_NAME,
    "alpha-1.0-py3-none-any" + "x" * 1000 + ".whl",
    "a" * 1000 + "-1.0-py3-none-any.whl",
    "alpha-1.0-py3-none-any.whl/",
    "alpha-1.0-py3-none-any.whl.meta",
]


@pytest.mark.parametrize("filename", PATH_TRICKS)
def test_path_tricks_in_the_filename(filled, filename):
    refused(filled, None, name="alpha", version="1.0", content=GOOD, filename=filename)


def test_a_thousand_character_name(filled):
    refused(filled, 400, name="a" * 1000, version="1.0", content=GOOD, filename=GOOD_NAME)


# -- digests and contents ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["sha256_digest", "md5_digest", "blake2_256_digest"])
def test_wrong_digests(filled, field):
    wrong = hashlib.sha256(b"something else").hexdigest()[: 64 if "sha" in field else 32]
    if field == "blake2_256_digest":
        wrong = hashlib.blake2b(b"else", digest_size=32).hexdigest()
    refused(filled, 400, name="alpha", version="1.0", content=GOOD, fields={field: wrong})


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def deflated_zeros(megabytes: int, wbits: int, prefix: bytes = b"") -> tuple[bytes, bytes]:
    """``prefix`` then ``megabytes`` MiB of zeros, deflated cheaply: a full flush resets the
    compressor, so one compressed mebibyte repeated is a valid stream of all of them.
    Returns (the stream so far, the compressor's tail to append after more input)."""
    chunk = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == again
    return head + block * megabytes, compressor


def _zip_bomb(expanded: int) -> bytes:
    """A wheel whose METADATA inflates to ``expanded`` bytes (written without building them;
    the CRC is wrong, which nobody can notice without inflating everything)."""
    body, compressor = deflated_zeros(expanded >> 20, -15)
    raw = body + compressor.flush()
    crc = 0
    info = zipfile.ZipInfo("alpha-1.0.dist-info/METADATA", (2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.CRC, info.compress_size, info.file_size = crc, len(raw), expanded
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # Write the header and the already-deflated bytes as they are.
        archive.fp.write(info.FileHeader(zip64=False))
        archive.fp.write(raw)
        info.header_offset = 0
        archive.filelist.append(info)
        archive.NameToInfo[info.filename] = info
        archive.start_dir = archive.fp.tell()
    return buffer.getvalue()


BAD_CONTENTS = [
    pytest.param(b"", id="empty"),
    pytest.param(GOOD[: len(GOOD) // 2], id="truncated"),
    pytest.param(GOOD[:-22], id="no-end-of-central-directory"),
    pytest.param(b"PK\x03\x04" + b"\0" * 100, id="zip-magic-then-garbage"),
    pytest.param(b"this is not an archive\n" * 10, id="not-an-archive"),
    pytest.param(sdist_bytes("alpha", "1.0"), id="a-tarball-named-whl"),
    pytest.param(_zip({"alpha-1.0-py3-none-any.whl": GOOD}), id="nested-archive"),
    pytest.param(_zip({"alpha/__init__.py": b""}), id="no-metadata"),
    pytest.param(
        _zip(
            {
                "alpha-1.0.dist-info/METADATA": metadata_text("alpha", "1.0").encode(),
                "other-1.0.dist-info/METADATA": metadata_text("alpha", "1.0").encode(),
            }
        ),
        id="two-metadata-files",
    ),
    pytest.param(
        _zip({"alpha-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\n\nno name\n"}),
        id="metadata-without-name",
    ),
    pytest.param(_zip({"alpha-1.0.dist-info/METADATA": b"\xff\xfe\x00garbage"}), id="binary-meta"),
]


@pytest.mark.parametrize("content", BAD_CONTENTS)
def test_bad_wheel_contents(filled, content):
    refused(filled, 400, name="alpha", version="1.0", content=content)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x1f\x8b\x08\x00garbage", id="broken-gzip"),
        pytest.param(sdist_bytes("alpha", "1.0")[:200], id="truncated"),
        pytest.param(GOOD, id="a-zip-named-tar-gz"),
        pytest.param(sdist_bytes("beta", "1.0"), id="pkg-info-names-another-project"),
    ],
)
def test_bad_sdist_contents(filled, content):
    refused(filled, 400, name="alpha", version="1.0", kind="sdist", content=content)


def test_a_zip_bomb_is_refused_without_expanding_it(filled):
    bomb = _zip_bomb(4095 << 20)  # 4 GiB of METADATA in about a megabyte
    assert len(bomb) < 8 * 1024 * 1024
    started = time.process_time()
    response = refused(filled, 400, name="alpha", version="1.0", content=bomb)
    assert time.process_time() - started < 5  # inflating 1 GiB costs far more
    assert "larger than" in response.status


def _tar_bomb(expanded: int) -> bytes:
    """An sdist whose gzip stream inflates to ``expanded`` bytes before its PKG-INFO."""
    import tarfile

    header = tarfile.TarInfo("alpha-1.0/zeros.bin")
    header.size = expanded
    body, compressor = deflated_zeros(expanded >> 20, 31, header.tobuf())  # gzip framing
    out = [body]
    info = metadata_text("alpha", "1.0").encode()
    pkg = tarfile.TarInfo("alpha-1.0/PKG-INFO")
    pkg.size = len(info)
    out.append(compressor.compress(pkg.tobuf() + info + b"\0" * (512 - len(info) % 512)))
    out.append(compressor.compress(b"\0" * 1024))
    out.append(compressor.flush())
    return b"".join(out)


def test_a_gzip_bomb_sdist_is_refused_without_expanding_it(filled):
    bomb = _tar_bomb(4 << 30)
    assert len(bomb) < 8 * 1024 * 1024
    started = time.process_time()
    refused(filled, 400, name="alpha", version="1.0", kind="sdist", content=bomb)
    assert time.process_time() - started < 2


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        (metadata_text("beta", "1.0"), "another-name"),
        (metadata_text("alpha", "2.0"), "another-version"),
        (metadata_text("alpha-x", "1.0"), "similar-name"),
    ],
)
def test_wheel_metadata_disagreeing_with_the_form(filled, metadata, why):
    content = wheel_bytes("alpha", "1.0", metadata=metadata)
    refused(filled, 400, name="alpha", version="1.0", content=content)


# -- the request itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing", ["name", "version", ":action"], ids=["no-name", "no-version", "no-action"]
)
def test_missing_fields(filled, missing):
    refused(filled, 400, name="alpha", version="1.0", fields={missing: None})


def test_missing_content(filled):
    before = snapshot(filled)
    response = filled.post(
        "/simple/",
        params={":action": "file_upload", "name": "alpha", "version": "1.0"},
        content_type="multipart/form-data",
        headers=auth("bob"),
        status=400,
    )
    assert "content" in response.status
    assert snapshot(filled) == before


@pytest.mark.parametrize("action", ["remove_pkg", "doc_upload", "FILE_UPLOAD", "file_upload\x00"])
def test_unknown_action(filled, action):
    refused(filled, 400, name="alpha", version="1.0", fields={":action": action})


MALFORMED_BODIES = [
    pytest.param(b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nalpha', id="cut"),
    pytest.param(b"no boundary anywhere", id="no-boundary"),
    pytest.param(b"--b\r\n\r\n\r\n--b--\r\n", id="part-without-headers"),
    pytest.param(b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", id="no-name"),
    pytest.param(b"\xff" * 1000, id="binary-garbage"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=b", "multipart/form-data"])
def test_malformed_multipart(filled, body, content_type):
    before = snapshot(filled)
    response = filled.post(
        "/simple/",
        body,
        headers={**auth("bob"), "Content-Type": content_type},
        expect_errors=True,
    )
    assert 400 <= response.status_int < 500, response.status
    assert_no_stack_trace(response.body)
    assert snapshot(filled) == before


class ExplodingInput:
    """A request body that must not be read."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def test_oversize_is_refused_before_the_body_is_read(make_app):
    app = make_app(**{"pypi.max_upload_size": "1K"})
    before = snapshot(app)
    request = Request.blank(
        "/simple/",
        method="POST",
        headers={**auth("bob"), "Content-Type": "multipart/form-data; boundary=b"},
    )
    request.environ["CONTENT_LENGTH"] = str(10 * 1024 * 1024 * 1024)
    request.environ["wsgi.input"] = ExplodingInput()
    response = request.get_response(app.app)
    assert response.status_int == 413
    assert snapshot(app) == before


def test_oversize_without_content_length_is_refused_while_reading(make_app):
    app = make_app(**{"pypi.max_upload_size": "1K"})
    big = wheel_bytes("alpha", "1.0", description="x" * 50_000)
    before = snapshot(app)
    response = upload(app, "alpha", "1.0", content=big, status="*")
    assert response.status_int == 413
    assert snapshot(app) == before


def test_a_good_upload_after_all_that_still_works(filled):
    for kwargs in ({"filename": "../" + GOOD_NAME}, {"content": b""}):
        upload(filled, "alpha", "1.0", status="*", **kwargs)
    upload(filled, "alpha", "1.0")
    assert filled.get(f"/api/package/alpha/{GOOD_NAME}", headers=auth("bob")).body == GOOD
