"""The upload form's parser: WebOb's shape, the sent filename, limits and clear refusals."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from webob.request import Request

from pypicloud import multipart_form
from pypicloud.multipart_form import FilePart, MalformedForm, parse

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body_of(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> bytes:
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, filename, content in files:
        out.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        out.write(content + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def parsed(body: bytes, max_bytes: int = 10**9, content_type: str = CONTENT_TYPE):
    closers: list[Callable[[object], None]] = []
    form = parse(io.BytesIO(body), content_type, len(body), max_bytes, closers.append)
    return form, closers


def test_fields_files_and_repeats_read_as_webob_reads_them():
    body = body_of(
        [("name", "alpha"), ("classifiers", "A"), ("classifiers", "B"), ("summary", "héllo")],
        [("content", "alpha-1.0-py3-none-any.whl", b"PK\x03\x04" + bytes(range(256)))],
    )
    form, _ = parsed(body)
    webob = Request.blank("/", POST=body, content_type=CONTENT_TYPE).POST
    for key in ("name", "classifiers", "summary"):
        assert form.get(key) == webob.get(key)
        assert form.getall(key) == webob.getall(key)
    content = form["content"]
    assert isinstance(content, FilePart)
    assert content.filename == webob["content"].filename
    assert content.file.read() == webob["content"].file.read()


def test_a_large_file_is_spooled_and_closed_by_the_callback():
    payload = b"x" * (multipart_form.SPOOL_BYTES * 3)
    form, closers = parsed(body_of([], [("content", "big-1.0.tar.gz", payload)]))
    handle = form["content"].file
    assert handle.read() == payload
    assert len(closers) == 1
    closers[0](None)
    assert handle.closed


def test_a_windows_path_in_the_filename_is_kept_for_the_checks_to_refuse():
    form, _ = parsed(body_of([], [("content", "C:\\dir\\alpha-1.0.tar.gz", b"data")]))
    assert form["content"].filename == "C:\\dir\\alpha-1.0.tar.gz"


def test_an_empty_filename_is_a_file_part_without_a_name():
    form, _ = parsed(body_of([], [("content", "", b"")]))
    assert isinstance(form["content"], FilePart)
    assert form["content"].filename == ""


@pytest.mark.parametrize(
    "body",
    [
        b'--b0undary\r\nContent-Disposition: form-data; name="content"; filename="a.whl"',
        b"no boundary anywhere",
        b'--b0undary\r\nContent-Disposition: form-data; name="n"\r\n\r\n'
        b"\xff\xfe\r\n--b0undary--\r\n",
    ],
    ids=["truncated", "no-delimiter", "not-utf8"],
)
def test_malformed_bodies_are_refused(body):
    with pytest.raises(MalformedForm):
        parsed(body)


def test_a_content_type_without_a_boundary_is_refused():
    with pytest.raises(MalformedForm, match="boundary"):
        parsed(body_of([], []), content_type="multipart/form-data")


def test_more_bytes_on_disk_than_allowed_are_refused():
    payload = b"x" * (multipart_form.SPOOL_BYTES * 2)
    with pytest.raises(MalformedForm):
        parsed(body_of([], [("content", "big-1.0.tar.gz", payload)]), max_bytes=len(payload) // 2)


def test_too_many_parts_are_refused():
    fields = [("classifiers", str(i)) for i in range(multipart_form.MAX_PARTS + 1)]
    with pytest.raises(MalformedForm):
        parsed(body_of(fields, []))
